/**
 * YOLOv8 / YOLO11 style detectors (ultralytics export, no NMS in the graph):
 * one input [1,3,H,W], one output [1, 4+C, N]; rows 0..3 are cx, cy, w, h in input pixels,
 * rows 4.. the per-class scores (already sigmoid). Decoding, threshold, class filter and NMS here.
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { checkRawSize, preprocess, rgbToNchw, unletterbox, type Letterbox } from './preprocess.ts';
import { asFrame, type Box, type Detection, type Detector } from './types.ts';

/** A candidate in model-input pixels, before mapping back to the frame. */
export interface RawBox extends Box { classId: number; score: number }

/**
 * Decodes the [1, 4+C, N] output (channel-major, as ultralytics exports it). `allowed` limits the
 * classes (null = all). Pure.
 */
export function decodeYolo(data: ArrayLike<number>, dims: readonly number[], scoreThreshold: number, allowed: ReadonlySet<number> | null): RawBox[] {
  if (dims.length !== 3 || dims[0] !== 1 || dims[1]! < 5) throw new Error(`YOLO output must be [1, 4+classes, N], got [${dims.join(', ')}]`);
  const C = dims[1]! - 4;
  const N = dims[2]!;
  const out: RawBox[] = [];
  for (let i = 0; i < N; i++) {
    let best = -1;
    let score = -Infinity;
    for (let c = 0; c < C; c++) {
      if (allowed && !allowed.has(c)) continue;
      const s = data[(4 + c) * N + i]!;
      if (s > score) { score = s; best = c; }
    }
    if (best < 0 || score < scoreThreshold) continue;
    const cx = data[i]!, cy = data[N + i]!, w = data[2 * N + i]!, h = data[3 * N + i]!;
    out.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, classId: best, score });
  }
  return out;
}

export function iou(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const ih = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy per-class NMS: highest score first, drop same-class boxes overlapping more than `iouThreshold`. */
export function nms<T extends RawBox>(boxes: readonly T[], iouThreshold: number, maxDetections = 300): T[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const keep: T[] = [];
  for (const b of sorted) {
    if (keep.length >= maxDetections) break;
    if (keep.every((k) => k.classId !== b.classId || iou(k, b) <= iouThreshold)) keep.push(b);
  }
  return keep;
}

/** Class names from ultralytics metadata (`{0: 'person', 1: 'bicycle'}`), or null. */
export function parseNames(text: string | undefined): string[] | null {
  if (!text) return null;
  const names: string[] = [];
  for (const m of text.matchAll(/(\d+)\s*:\s*(['"])(.*?)\2/g)) names[Number(m[1])] = m[3]!;
  return names.length ? Array.from(names, (n, i) => n ?? `class${i}`) : null;
}

export interface YoloOptions {
  session: ort.InferenceSession;
  /** Class names by id (from the model's metadata); missing ones become `class<i>`. */
  names: readonly string[] | null;
  scoreThreshold: number;
  iouThreshold?: number;
  /** Class names to keep (empty/undefined: all). */
  classes?: readonly string[];
}

export function createYoloDetector(opts: YoloOptions): Detector {
  const { session } = opts;
  const meta = session.inputMetadata[0];
  const shape = meta && meta.isTensor ? meta.shape : [];
  // Dynamic-size exports report symbolic dims: 640 is the ultralytics default.
  const H = typeof shape[2] === 'number' && shape[2] > 0 ? shape[2] : 640;
  const W = typeof shape[3] === 'number' && shape[3] > 0 ? shape[3] : 640;
  if (meta?.isTensor && meta.type !== 'float32') throw new Error(`YOLO input must be float32 [1,3,H,W], got ${meta.type}`);
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const nameOf = (i: number) => opts.names?.[i] ?? `class${i}`;
  let allowed: Set<number> | null = null;
  // One input tensor per camera, reused every frame (camera loops never overlap for one camera).
  const inputs = new Map<string, ort.Tensor>();

  const toDetections = (raw: RawBox[], lb: Letterbox): Detection[] =>
    nms(raw, opts.iouThreshold ?? 0.45).map((b) => ({ ...unletterbox(b, lb), cls: nameOf(b.classId), score: b.score }));

  return {
    kind: 'yolo',
    inputWidth: W,
    inputHeight: H,
    async detect(camera, frameInput) {
      const t0 = performance.now();
      const frame = asFrame(frameInput);
      let input = inputs.get(camera);
      if (!input) inputs.set(camera, (input = new ort.Tensor('float32', new Float32Array(3 * H * W), [1, 3, H, W])));
      let letterbox: Letterbox;
      if (frame.kind === 'raw') {
        // Float model: the one conversion left, uint8 HWC -> float NCHW, in one loop into the reused tensor.
        checkRawSize(frame, W, H);
        rgbToNchw(frame.data, W, H, input.data as Float32Array);
        letterbox = frame.letterbox;
      } else {
        letterbox = (await preprocess(frame.jpeg, W, H, input.data as Float32Array)).letterbox;
      }
      const t1 = performance.now();
      const out = await session.run({ [inputName]: input });
      const t2 = performance.now();
      const o = out[outputName]!;
      if (opts.classes?.length && !allowed) {
        const C = Number(o.dims[1]) - 4;
        allowed = new Set(Array.from({ length: C }, (_, i) => i).filter((i) => opts.classes!.includes(nameOf(i))));
      }
      const raw = decodeYolo(o.data as Float32Array, o.dims, opts.scoreThreshold, allowed);
      const detections = toDetections(raw, letterbox);
      const t3 = performance.now();
      return { detections, times: { preprocess: (t1 - t0) / 1000, run: (t2 - t1) / 1000, postprocess: (t3 - t2) / 1000 } };
    },
    reset(camera) {
      inputs.delete(camera);
    },
    async close() {
      await session.release();
    },
  };
}
