/**
 * The event snapshot: the frame with the zone polygon and the boxes drawn, as a JPEG file.
 * One decode (JPEG frames) or none (raw frames), the overlay drawn into the pixels in JS
 * (./draw.ts), one encode. Runs only when an event fires.
 */
import sharp from 'sharp';
import type { Point } from '../zones/dwell.ts';
import type { Detection, RawFrame } from '../model/types.ts';
import { drawOverlay, type RgbImage } from './draw.ts';
import { writeFileAtomic } from './writer.ts';

/** A JPEG (or any image sharp reads) decoded to RGB24. */
export async function decodeRgb(image: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * The picture inside a raw detect frame (the letterbox padding cut off): the whole camera frame at
 * the detect resolution (e.g. 320x240 for a 640x480 camera and a 320x320 model). Used for a
 * snapshot when the camera's own full-size JPEG of that frame is gone. Row copies only.
 */
export function rawPicture(f: RawFrame): RgbImage {
  const lb = f.letterbox;
  const width = Math.max(1, Math.min(f.width - lb.padX, Math.round(lb.frameWidth * lb.scale)));
  const height = Math.max(1, Math.min(f.height - lb.padY, Math.round(lb.frameHeight * lb.scale)));
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((y + lb.padY) * f.width + lb.padX) * 3;
    data.set(f.data.subarray(src, src + width * 3), y * width * 3);
  }
  return { data, width, height };
}

/** Draws the overlay into `img` (in place) and encodes it as a JPEG in memory (no disk involved). */
export async function encodeSnapshot(img: RgbImage, zone: { id: string; polygon: readonly Point[] }, boxes: readonly Detection[]): Promise<Buffer> {
  drawOverlay(img, zone, boxes);
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

/** Draws the overlay into `img` (in place) and writes it to `path` as a JPEG (temp file + rename: never a partial file). */
export async function writeSnapshot(path: string, img: RgbImage, zone: { id: string; polygon: readonly Point[] }, boxes: readonly Detection[]): Promise<void> {
  await writeFileAtomic(path, await encodeSnapshot(img, zone, boxes));
}
