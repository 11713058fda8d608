/**
 * Real pedestrian footage for the detector tests: OpenCV's vtest.avi (768x576, 10 fps, 795 frames)
 * from Debian's opencv-doc (Apache-2.0 AND BSD-3-Clause per /usr/share/doc/opencv-doc/copyright;
 * .ci/provision.sh installs it), decoded with the real ffmpeg, plus the hand-made labels in
 * test/fixtures/vtest-people.json.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { toDetectFrame } from '../../apps/camera/src/detect-frame.ts';
import type { RawFrame } from '../../apps/inference/src/model/types.ts';

const run = promisify(execFile);

export const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
export const VTEST_W = 768;
export const VTEST_H = 576;

/** Fails with the fix when the clip is not installed (the suite needs it; no skipping). */
export function requireVtest(): string {
  if (!existsSync(VTEST)) throw new Error(`${VTEST} missing: run .ci/provision.sh (apt-get install -y opencv-doc)`);
  return VTEST;
}

/** The labelled frames: frame index -> people boxes [x1, y1, x2, y2] (normalized). */
export function vtestLabels(): Map<number, number[][]> {
  const file = fileURLToPath(new URL('../fixtures/vtest-people.json', import.meta.url));
  const j = JSON.parse(readFileSync(file, 'utf8')) as { frames: Record<string, number[][]> };
  return new Map(Object.entries(j.frames).map(([k, v]) => [Number(k), v]));
}

const selectFilter = (indices: readonly number[]) => `select='${indices.map((i) => `eq(n\\,${i})`).join('+')}'`;

/** Frames `indices` (ascending) as RGB24 at 768x576, one ffmpeg run. */
export async function vtestRgb(indices: readonly number[]): Promise<Buffer[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', requireVtest(), '-vf', selectFilter(indices), '-vsync', 'vfr', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 30, timeout: 120_000 });
  const size = VTEST_W * VTEST_H * 3;
  if (stdout.length !== size * indices.length) throw new Error(`ffmpeg gave ${stdout.length} bytes for ${indices.length} frames`);
  return indices.map((_, k) => stdout.subarray(k * size, (k + 1) * size));
}

/** Frames `first`..`first+count-1` in order, as RGB24 at 768x576. */
export async function vtestRange(first: number, count: number): Promise<Buffer[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', requireVtest(), '-vf', `select='between(n\\,${first}\\,${first + count - 1})'`, '-vsync', 'vfr', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { encoding: 'buffer', maxBuffer: 1 << 30, timeout: 120_000 });
  const size = VTEST_W * VTEST_H * 3;
  return Array.from({ length: Math.floor(stdout.length / size) }, (_, k) => stdout.subarray(k * size, (k + 1) * size));
}

/** A 768x576 RGB frame as the camera's raw detect frame at `size` (default: NanoDet's 416; same letterbox code as the camera). */
export async function asRawFrame(rgb: Buffer, size = 416): Promise<RawFrame> {
  const d = await toDetectFrame(rgb, { width: size, height: size }, { width: VTEST_W, height: VTEST_H, channels: 3 });
  const g = d.geometry;
  return { kind: 'raw', data: d.data, width: size, height: size, letterbox: { frameWidth: g.frameWidth, frameHeight: g.frameHeight, scale: g.scale, padX: g.padX, padY: g.padY, inputWidth: size, inputHeight: size } };
}

/** IoU of two [x1, y1, x2, y2] boxes. */
export function iou4(a: readonly number[], b: readonly number[]): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = iw * ih;
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy matching (best score first, IoU >= minIou): true positives, false positives, misses. */
export function matchPeople(dets: readonly { box: number[]; score: number }[], truth: readonly number[][], minIou = 0.3) {
  const used = new Set<number>();
  let tp = 0, fp = 0;
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    let best = -1, bestIou = minIou;
    truth.forEach((t, j) => { const v = iou4(d.box, t); if (!used.has(j) && v >= bestIou) { best = j; bestIou = v; } });
    if (best >= 0) { used.add(best); tp++; } else fp++;
  }
  return { tp, fp, fn: truth.length - used.size };
}
