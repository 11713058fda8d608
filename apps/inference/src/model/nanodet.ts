/**
 * The default person detector: NanoDet (COCO-80, upstream github.com/RangiLyu/nanodet, Apache-2.0),
 * models/nanodet.onnx as written by apps/inference/scripts/build-nanodet.ts. Its outputs are the
 * graph's own, per stride s in 8, 16, 32 (cells of s x s input pixels, row-major):
 *
 *   cls{s} [1, cells, C]       per-class scores (after the sigmoid, 0..1)
 *   reg{s} [1, cells, 4 * B]   distance-bin logits for the box's left, top, right, bottom (B = 11)
 *
 * Decoding (NanoDet's GFL head, as its own post-processing does it): a cell scoring at least the
 * threshold for a wanted class gives a box around the cell's centre ((x + 0.5) s, (y + 0.5) s);
 * each side's distance is the integral of the softmax over its B bins, times s: d = s * sum(i p_i).
 * Then per-class NMS (IoU 0.45). Only the wanted classes are scanned, and the softmax is computed
 * only for cells over the threshold (person alone: 3549 cells, ~0.1 ms).
 *
 * Not @vladmandic/human's decoder: that one takes the argmax bin (not the integral) and scales
 * boxes by 2.5, which draws loose boxes; the integral is what the model was trained for.
 *
 * Input: uint8 RGB NHWC 0..255, exactly the camera's raw detect frame (the Cast and /255 are in the
 * graph). JPEG frames (the fallback) are decoded with sharp into a per-camera buffer of that layout.
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

/** One stride level's outputs. */
export interface NanodetLevel { stride: number; cls: Float32Array; reg: Float32Array }

/**
 * Boxes (input pixels) of every cell whose score for one of `classes` reaches `threshold`, over
 * all levels. `numClasses`: C of the cls outputs; `bins`: B. Pure (exported for tests).
 */
export function decodeNanodet(levels: readonly NanodetLevel[], inputWidth: number, numClasses: number, bins: number, classes: readonly number[], threshold: number): RawBox[] {
  const out: RawBox[] = [];
  const dist = new Float64Array(4);
  for (const { stride, cls, reg } of levels) {
    const gw = Math.ceil(inputWidth / stride);
    const cells = cls.length / numClasses;
    for (let i = 0; i < cells; i++) {
      let decoded = false;
      for (const c of classes) {
        const score = cls[i * numClasses + c]!;
        if (score < threshold) continue;
        if (!decoded) { integral(reg, i * 4 * bins, bins, dist); decoded = true; }
        const cx = ((i % gw) + 0.5) * stride;
        const cy = (Math.floor(i / gw) + 0.5) * stride;
        out.push({ x1: cx - dist[0]! * stride, y1: cy - dist[1]! * stride, x2: cx + dist[2]! * stride, y2: cy + dist[3]! * stride, classId: c, score });
      }
    }
  }
  return out;
}

/** The expected bin index under the softmax, for the 4 sides of one cell (in cells). */
function integral(reg: Float32Array, base: number, bins: number, out: Float64Array): void {
  for (let side = 0; side < 4; side++) {
    const o = base + side * bins;
    let max = -Infinity;
    for (let k = 0; k < bins; k++) max = Math.max(max, reg[o + k]!);
    let sum = 0, acc = 0;
    for (let k = 0; k < bins; k++) { const e = Math.exp(reg[o + k]! - max); sum += e; acc += k * e; }
    out[side] = acc / sum;
  }
}

/** How to build a NanoDet detector from its loaded session and the file's metadata. */
export interface NanodetOptions {
  session: ort.InferenceSession;
  names: readonly string[];
  /** Strides of the levels (metadata `strides`), outputs cls{s} / reg{s}. */
  strides: readonly number[];
  /** Distance bins per side (metadata `bins`). */
  bins: number;
  scoreThreshold: number;
  iouThreshold?: number;
  /** Class names to report (empty/undefined: all). */
  classes?: readonly string[];
}

interface CameraBuffers extends Uint8Scratch { fetches: Record<string, ort.Tensor> }

/** The NanoDet detector over one shared session (per-camera buffers, see INVARIANTS above). */
export function createNanodetDetector(o: NanodetOptions): Detector {
  const { session } = o;
  const meta = session.inputMetadata[0];
  const shape = meta?.isTensor ? meta.shape.map(Number) : [];
  const [, H, W, C3] = shape;
  if (!meta?.isTensor || meta.type !== 'uint8' || shape.length !== 4 || C3 !== 3 || !(H! > 0 && W! > 0)) {
    throw new Error(`NanoDet input must be uint8 [1,H,W,3] (got ${meta?.isTensor ? `${meta.type} [${shape.join(',')}]` : 'none'}): rebuild it with apps/inference/scripts/build-nanodet.ts`);
  }
  const unknown = (o.classes ?? []).filter((c) => !o.names.includes(c));
  if (unknown.length) throw new Error(`CLASSES: ${unknown.map((c) => JSON.stringify(c)).join(', ')} not among the model's classes (${o.names.slice(0, 8).join(', ')}, ... ${o.names.length} in all)`);
  const classIds = o.classes?.length ? o.classes.map((c) => o.names.indexOf(c)) : o.names.map((_, i) => i);
  const C = o.names.length;
  const cameras = new Map<string, CameraBuffers>();
  const newBuffers = (): CameraBuffers => {
    const fetches: Record<string, ort.Tensor> = {};
    for (const s of o.strides) {
      const cells = Math.ceil(H! / s) * Math.ceil(W! / s);
      fetches[`cls${s}`] = new ort.Tensor('float32', new Float32Array(cells * C), [1, cells, C]);
      fetches[`reg${s}`] = new ort.Tensor('float32', new Float32Array(cells * 4 * o.bins), [1, cells, 4 * o.bins]);
    }
    return { ...uint8Scratch(W!, H!), fetches };
  };

  return {
    kind: 'nanodet',
    inputWidth: W!,
    inputHeight: H!,
    async detect(camera, input) {
      const t0 = performance.now();
      const frame = asFrame(input);
      let b = cameras.get(camera);
      if (!b) cameras.set(camera, (b = newBuffers()));
      const { tensor, letterbox } = await uint8Input(frame, W!, H!, b);
      const t1 = performance.now();
      const out = await session.run({ image: tensor }, b.fetches);
      const t2 = performance.now();
      const levels = o.strides.map((s) => ({ stride: s, cls: out[`cls${s}`]!.data as Float32Array, reg: out[`reg${s}`]!.data as Float32Array }));
      const raw = decodeNanodet(levels, W!, C, o.bins, classIds, o.scoreThreshold);
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
