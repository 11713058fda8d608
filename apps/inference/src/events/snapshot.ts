/** The event snapshot: the frame with the zone polygon and the boxes drawn (sharp composite of SVG). */
import sharp from 'sharp';
import type { Point } from '../zones/dwell.ts';
import type { Detection, RawFrame } from '../model/types.ts';

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The SVG overlay for a frame of `width` x `height` (exported for tests). */
export function overlaySvg(width: number, height: number, zone: { id: string; polygon: readonly Point[] }, boxes: readonly Detection[]): string {
  const pts = zone.polygon.map(([x, y]) => `${(x * width).toFixed(1)},${(y * height).toFixed(1)}`).join(' ');
  const rects = boxes.map((b) => {
    const x = b.x1 * width, y = b.y1 * height, w = (b.x2 - b.x1) * width, h = (b.y2 - b.y1) * height;
    return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="#ff2d2d" stroke-width="3"/>` +
      `<text x="${x.toFixed(1)}" y="${Math.max(12, y - 4).toFixed(1)}" font-family="sans-serif" font-size="14" fill="#ff2d2d">${esc(b.cls)} ${b.score.toFixed(2)}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<polygon points="${pts}" fill="#ffd500" fill-opacity="0.25" stroke="#ffd500" stroke-width="2"/>` +
    `<text x="6" y="18" font-family="sans-serif" font-size="14" fill="#ffd500">${esc(zone.id)}</text>${rects}</svg>`;
}

/** Writes the annotated JPEG to `path`. */
export async function writeSnapshot(path: string, frame: Buffer, zone: { id: string; polygon: readonly Point[] }, boxes: readonly Detection[]): Promise<void> {
  const meta = await sharp(frame).metadata();
  const svg = overlaySvg(meta.width!, meta.height!, zone, boxes);
  await sharp(frame).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).jpeg({ quality: 80 }).toFile(path);
}

/**
 * A JPEG of the full frame from a raw detect frame: the letterbox padding cut off and the picture
 * scaled back to the frame's size, so boxes (normalized to the full frame) land where they belong.
 * Only for event snapshots when the camera's own JPEG of that frame is gone: its detail is the
 * detect resolution.
 */
export function rawToJpeg(f: RawFrame): Promise<Buffer> {
  const lb = f.letterbox;
  const w = Math.min(f.width - lb.padX, Math.max(1, Math.round(lb.frameWidth * lb.scale)));
  const h = Math.min(f.height - lb.padY, Math.max(1, Math.round(lb.frameHeight * lb.scale)));
  return sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
    .extract({ left: lb.padX, top: lb.padY, width: w, height: h })
    .resize(lb.frameWidth, lb.frameHeight, { fit: 'fill' })
    .jpeg({ quality: 80 })
    .toBuffer();
}
