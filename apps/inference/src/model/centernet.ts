/**
 * The person detector: CenterNet (MobileNetV3, COCO-80), models/centernet.onnx as written by
 * apps/inference/scripts/build-centernet.ts. The graph ends before its TopK; outputs:
 *
 *   heatmap [1, C, H/4, W/4]  per-class centre scores (sigmoid, 0..1), channel-major
 *   wh      [1, 4, H/4, W/4]  distances from the cell's centre to the box's left, top, right, bottom, in input pixels
 *
 * Decoding here, as the cut-off part of the graph did it: a cell is a peak when it is the maximum of
 * its 3x3 neighbourhood (the graph's MaxPool + Equal), its box is (4x - l, 4y - t, 4x + r, 4y + b);
 * the 100 best peaks over the wanted classes (the graph's TopK k), then per-class NMS (IoU 0.45), as
 * @vladmandic/human does after the graph. Only the wanted classes' planes are scanned (person
 * alone: 16K cells, ~0.1 ms).
 *
 * Input: uint8 RGB NHWC 0..255, exactly the camera's raw detect frame (the Cast is in the graph).
 * JPEG frames (the fallback) are decoded with sharp into a per-camera buffer of that layout.
 *
 * INVARIANTS: one camera loop awaits `detect` before calling it again for the same camera, so a
 * camera's buffers are never written while a run reads them; cameras share the session.
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { unletterbox } from './preprocess.ts';
import { uint8Input, uint8Scratch, type Uint8Scratch } from './uint8-input.ts';
import { asFrame, type Detection, type Detector } from './types.ts';
import { nms, type RawBox } from './yolo.ts';

/** Peaks kept before NMS (the original graph's TopK k). */
const MAX_PEAKS = 100;

/**
 * Peaks of the heatmap planes of `classes`, as boxes in input pixels, best first, at most `max`.
 * Pure (exported for tests).
 */
export function decodeCenternet(heat: Float32Array, wh: Float32Array, gw: number, gh: number, stride: number, classes: readonly number[], threshold: number, max = MAX_PEAKS): RawBox[] {
  const plane = gw * gh;
  const out: RawBox[] = [];
  for (const c of classes) {
    const base = c * plane;
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        const v = heat[base + y * gw + x]!;
        if (v < threshold || !isPeak(heat, base, gw, gh, x, y, v)) continue;
        const i = y * gw + x;
        const cx = x * stride;
        const cy = y * stride;
        out.push({ x1: cx - wh[i]!, y1: cy - wh[plane + i]!, x2: cx + wh[2 * plane + i]!, y2: cy + wh[3 * plane + i]!, classId: c, score: v });
      }
    }
  }
  out.sort((a, b) => b.score - a.score);
  return out.length > max ? out.slice(0, max) : out;
}

/** MaxPool 3x3 SAME + Equal: no neighbour is greater (ties keep both, as Equal does). */
function isPeak(heat: Float32Array, base: number, gw: number, gh: number, x: number, y: number, v: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    const ny = y + dy;
    if (ny < 0 || ny >= gh) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const nx = x + dx;
      if (nx < 0 || nx >= gw || (dx === 0 && dy === 0)) continue;
      if (heat[base + ny * gw + nx]! > v) return false;
    }
  }
  return true;
}

/** How to build a CenterNet detector from its loaded session and the file's metadata. */
export interface CenternetOptions {
  session: ort.InferenceSession;
  names: readonly string[];
  /** Output cell size in input pixels (metadata `stride`). */
  stride: number;
  scoreThreshold: number;
  iouThreshold?: number;
  /** Class names to report (empty/undefined: all). */
  classes?: readonly string[];
}

interface CameraBuffers extends Uint8Scratch { heat: ort.Tensor; wh: ort.Tensor }

/** The CenterNet detector over one shared session (per-camera buffers, see INVARIANTS above). */
export function createCenternetDetector(o: CenternetOptions): Detector {
  const { session } = o;
  const meta = session.inputMetadata[0];
  const shape = meta?.isTensor ? meta.shape.map(Number) : [];
  const [, H, W, C3] = shape;
  if (!meta?.isTensor || meta.type !== 'uint8' || shape.length !== 4 || C3 !== 3 || !(H! > 0 && W! > 0)) {
    throw new Error(`CenterNet input must be uint8 [1,H,W,3] (got ${meta?.isTensor ? `${meta.type} [${shape.join(',')}]` : 'none'}): rebuild it with apps/inference/scripts/build-centernet.ts`);
  }
  const gw = W! / o.stride;
  const gh = H! / o.stride;
  const unknown = (o.classes ?? []).filter((c) => !o.names.includes(c));
  if (unknown.length) throw new Error(`CLASSES: ${unknown.map((c) => JSON.stringify(c)).join(', ')} not among the model's classes (${o.names.slice(0, 8).join(', ')}, ... ${o.names.length} in all)`);
  const classIds = o.classes?.length ? o.classes.map((c) => o.names.indexOf(c)) : o.names.map((_, i) => i);
  const cameras = new Map<string, CameraBuffers>();
  const newBuffers = (): CameraBuffers => {
    return {
      ...uint8Scratch(W!, H!),
      heat: new ort.Tensor('float32', new Float32Array(o.names.length * gw * gh), [1, o.names.length, gh, gw]),
      wh: new ort.Tensor('float32', new Float32Array(4 * gw * gh), [1, 4, gh, gw]),
    };
  };

  return {
    kind: 'centernet',
    inputWidth: W!,
    inputHeight: H!,
    async detect(camera, input) {
      const t0 = performance.now();
      const frame = asFrame(input);
      let b = cameras.get(camera);
      if (!b) cameras.set(camera, (b = newBuffers()));
      const { tensor, letterbox } = await uint8Input(frame, W!, H!, b);
      const t1 = performance.now();
      const out = await session.run({ image: tensor }, { heatmap: b.heat, wh: b.wh });
      const t2 = performance.now();
      const raw = decodeCenternet(out.heatmap!.data as Float32Array, out.wh!.data as Float32Array, gw, gh, o.stride, classIds, o.scoreThreshold);
      const detections: Detection[] = nms(raw, o.iouThreshold ?? 0.45).map((r) => ({ ...unletterbox(r, letterbox), cls: o.names[r.classId] ?? `class${r.classId}`, score: r.score }));
      const t3 = performance.now();
      return { detections, times: { preprocess: (t1 - t0) / 1000, run: (t2 - t1) / 1000, postprocess: (t3 - t2) / 1000 } };
    },
    reset(camera) {
      cameras.delete(camera);
    },
    async close() {
      await session.release();
    },
  };
}
