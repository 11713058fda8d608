import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import type { DetectSize } from '../config.ts';
import { toDetectFrame, type DetectFrame } from '../detect-frame.ts';
import type { FrameSource } from './types.ts';

/**
 * Where the synthetic figure is at time `t` (unix ms): its centre x as a fraction of the width.
 * It walks from 0.05 to 0.95 and back once per `periodS`, so it enters and leaves the right third
 * of the frame (x > 2/3) once per period. Pure, so tests can predict the zone crossings.
 */
export function figureX(t: number, periodS: number): number {
  const phase = ((t / 1000) % periodS) / periodS; // 0..1
  const tri = phase < 0.5 ? phase * 2 : 2 - phase * 2; // 0 -> 1 -> 0
  return 0.05 + 0.9 * tri;
}

/** The SVG of one synthetic frame. */
export function syntheticSvg(width: number, height: number, t: number, periodS: number, cameraId: string): string {
  const cx = figureX(t, periodS) * width;
  const h = height * 0.5; // figure height
  const top = height * 0.3;
  const w = h * 0.3;
  const stride = Math.sin(t / 150) * w * 0.4; // legs swing so consecutive frames differ
  const stamp = new Date(t).toISOString().replace('T', ' ').slice(0, 23);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="#b8c4cc"/>
<rect x="0" y="${height * 0.8}" width="100%" height="${height * 0.2}" fill="#8a949a"/>
<g fill="#1c1c24">
<circle cx="${cx}" cy="${top + w * 0.5}" r="${w * 0.5}"/>
<rect x="${cx - w / 2}" y="${top + w}" width="${w}" height="${h * 0.45}" rx="${w * 0.2}"/>
<line x1="${cx}" y1="${top + w + h * 0.4}" x2="${cx - stride}" y2="${top + h}" stroke="#1c1c24" stroke-width="${w * 0.35}"/>
<line x1="${cx}" y1="${top + w + h * 0.4}" x2="${cx + stride}" y2="${top + h}" stroke="#1c1c24" stroke-width="${w * 0.35}"/>
</g>
<text x="8" y="${Math.max(14, height * 0.06)}" font-family="monospace" font-size="${Math.max(10, Math.round(height * 0.045))}" fill="#fff" stroke="#000" stroke-width="0.5">${cameraId} ${stamp}</text>
</svg>`;
}

/** Renders one synthetic frame to JPEG. */
export function renderSynthetic(width: number, height: number, t: number, periodS: number, cameraId: string): Promise<Buffer> {
  return sharp(Buffer.from(syntheticSvg(width, height, t, periodS, cameraId))).jpeg({ quality: 70, mozjpeg: false }).toBuffer();
}

/**
 * Renders one synthetic frame once (the SVG rasterised to raw RGB) and derives both outputs from
 * those pixels: the JPEG, and with `detect` the letterboxed raw detect frame. No second draw.
 */
export async function renderSyntheticFrame(width: number, height: number, t: number, periodS: number, cameraId: string, detect?: DetectSize): Promise<{ jpeg: Buffer; raw?: DetectFrame }> {
  if (!detect) return { jpeg: await renderSynthetic(width, height, t, periodS, cameraId) };
  const { data, info } = await sharp(Buffer.from(syntheticSvg(width, height, t, periodS, cameraId))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: 3 as const };
  const [jpeg, detectFrame] = await Promise.all([
    sharp(data, { raw }).jpeg({ quality: 70, mozjpeg: false }).toBuffer(),
    toDetectFrame(data, detect, raw),
  ]);
  return { jpeg, raw: detectFrame };
}

/** Frames drawn with sharp at the target fps: the appliance runs with no camera at all. */
export function syntheticSource(periodS: number): FrameSource {
  return async (ctx) => {
    const periodMs = 1000 / ctx.fps;
    let next = Date.now();
    while (!ctx.signal.aborted) {
      const { jpeg, raw } = await renderSyntheticFrame(ctx.width, ctx.height, Date.now(), periodS, ctx.cameraId, ctx.detect);
      if (ctx.signal.aborted) return;
      ctx.frame(jpeg, raw);
      next += periodMs;
      if (next < Date.now() - periodMs) next = Date.now();
      try {
        await delay(Math.max(0, next - Date.now()), undefined, { signal: ctx.signal });
      } catch {
        return;
      }
    }
  };
}
