/**
 * Drawing the event overlay (zone polygon, boxes) straight into RGB24 pixels. Why not an SVG
 * composite with sharp: rendering even a tiny SVG through librsvg cost ~7.5 ms CPU per snapshot
 * and the whole annotate step ~25 ms, which on a sub-millisecond model is most of the pipeline's
 * overhead whenever events fire. Plain loops over the pixels cost well under a millisecond.
 * No text: the zone id, class and score are in the event record (and the dashboard shows them).
 */
import type { Point } from '../zones/dwell.ts';
import type { Box } from '../model/types.ts';

/** An RGB24 image, `data` is width * height * 3 bytes. */
export interface RgbImage { data: Uint8Array; width: number; height: number }

type Rgb = readonly [number, number, number];
const ZONE: Rgb = [255, 213, 0];
const BOX: Rgb = [255, 45, 45];

/** Blends `c` over the pixels of row y, x in [x0, x1), at opacity `a`. */
function blendRow(img: RgbImage, y: number, x0: number, x1: number, c: Rgb, a: number): void {
  const d = img.data;
  for (let x = Math.max(0, x0), i = (y * img.width + Math.max(0, x0)) * 3; x < Math.min(img.width, x1); x++, i += 3) {
    d[i] = d[i]! + (c[0] - d[i]!) * a;
    d[i + 1] = d[i + 1]! + (c[1] - d[i + 1]!) * a;
    d[i + 2] = d[i + 2]! + (c[2] - d[i + 2]!) * a;
  }
}

/** An opaque square of side `t` centred on (x, y), clipped. */
function dot(img: RgbImage, x: number, y: number, t: number, c: Rgb): void {
  const h = Math.floor(t / 2);
  for (let yy = Math.max(0, y - h); yy < Math.min(img.height, y - h + t); yy++) blendRow(img, yy, x - h, x - h + t, c, 1);
}

/** A line of thickness `t` (Bresenham with a square brush). */
function line(img: RgbImage, x0: number, y0: number, x1: number, y1: number, t: number, c: Rgb): void {
  x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
  const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    dot(img, x0, y0, t, c);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

/** Fills a polygon (normalized points) at opacity `a`: even-odd scanlines through pixel centres. */
function fillPolygon(img: RgbImage, poly: readonly Point[], c: Rgb, a: number): void {
  const pts = poly.map(([x, y]) => [x * img.width, y * img.height] as const);
  for (let y = 0; y < img.height; y++) {
    const yc = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i < pts.length; i++) {
      const [ax, ay] = pts[i]!;
      const [bx, by] = pts[(i + 1) % pts.length]!;
      if ((ay <= yc && by > yc) || (by <= yc && ay > yc)) xs.push(ax + ((yc - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((p, q) => p - q);
    for (let i = 0; i + 1 < xs.length; i += 2) blendRow(img, y, Math.round(xs[i]!), Math.round(xs[i + 1]!), c, a);
  }
}

/** Draws the zone (translucent fill, outline) and the boxes (red frames) into `img`, in place. */
export function drawOverlay(img: RgbImage, zone: { polygon: readonly Point[] }, boxes: readonly Box[]): void {
  fillPolygon(img, zone.polygon, ZONE, 0.25);
  const px = (p: Point) => [Math.min(img.width - 1, p[0] * img.width), Math.min(img.height - 1, p[1] * img.height)] as const;
  for (let i = 0; i < zone.polygon.length; i++) {
    const [ax, ay] = px(zone.polygon[i]!);
    const [bx, by] = px(zone.polygon[(i + 1) % zone.polygon.length]!);
    line(img, ax, ay, bx, by, 2, ZONE);
  }
  for (const b of boxes) {
    const [x1, y1] = px([b.x1, b.y1]);
    const [x2, y2] = px([b.x2, b.y2]);
    line(img, x1, y1, x2, y1, 3, BOX);
    line(img, x2, y1, x2, y2, 3, BOX);
    line(img, x2, y2, x1, y2, 3, BOX);
    line(img, x1, y2, x1, y1, 3, BOX);
  }
}
