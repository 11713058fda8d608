/**
 * The default detector: models/motion.onnx (see scripts/motion-graph.ts). Keeps one background
 * tensor per camera, fed back from the graph's `background_next` output (a running average).
 *
 * INVARIANTS: each camera loop awaits `detect` before calling it again for the same camera, so a
 * camera's background is never read and replaced concurrently. Different cameras share the session.
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { connectedComponents } from './components.ts';
import { preprocess, unletterbox } from './preprocess.ts';
import type { Detection, Detector } from './types.ts';

export interface MotionOptions {
  session: ort.InferenceSession;
  /** Grid cell size in model pixels (the model's AveragePool kernel; from metadata `cell`). */
  cell: number;
  /** Components smaller than this many cells are noise (default 2). */
  minCells?: number;
}

export function createMotionDetector(opts: MotionOptions): Detector {
  const { session, cell } = opts;
  const meta = session.inputMetadata.find((m) => m.name === 'frame');
  const shape = meta && meta.isTensor ? meta.shape : [];
  const H = Number(shape[2]);
  const W = Number(shape[3]);
  if (!(H > 0 && W > 0)) throw new Error('motion model input "frame" must have a fixed [1,3,H,W] shape');
  const cols = W / cell;
  const rows = H / cell;
  const backgrounds = new Map<string, ort.Tensor>();
  const minCells = opts.minCells ?? 2;

  return {
    kind: 'motion',
    inputWidth: W,
    inputHeight: H,
    async detect(camera, jpeg) {
      const t0 = performance.now();
      const pre = await preprocess(jpeg, W, H);
      const frame = new ort.Tensor('float32', pre.data, [1, 3, H, W]);
      const t1 = performance.now();
      const bg = backgrounds.get(camera);
      if (!bg) {
        // First frame of this camera: it is the background; nothing can have moved yet.
        backgrounds.set(camera, frame);
        return { detections: [], times: { preprocess: (t1 - t0) / 1000, run: 0, postprocess: 0 } };
      }
      const out = await session.run({ frame, background: bg });
      const t2 = performance.now();
      backgrounds.set(camera, out.background_next!);
      const comps = connectedComponents(out.mask!.data as Float32Array, out.activity!.data as Float32Array, cols, rows, minCells);
      const detections: Detection[] = comps.map((c) => ({
        ...unletterbox({ x1: c.cx1 * cell, y1: c.cy1 * cell, x2: (c.cx2 + 1) * cell, y2: (c.cy2 + 1) * cell }, pre.letterbox),
        cls: 'motion',
        // A mean luma change of 25% or more over the blob counts as certain motion.
        score: Math.min(1, c.meanActivity * 4),
      }));
      const t3 = performance.now();
      return { detections, times: { preprocess: (t1 - t0) / 1000, run: (t2 - t1) / 1000, postprocess: (t3 - t2) / 1000 } };
    },
    reset(camera) {
      backgrounds.delete(camera);
    },
    async close() {
      await session.release();
    },
  };
}
