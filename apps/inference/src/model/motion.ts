/**
 * The default detector: models/motion.onnx (see scripts/motion-graph.ts). Keeps one background
 * per camera, fed back from the graph's `background_next` output (a running average).
 *
 * The model takes the frame as uint8 RGB NHWC, exactly the bytes of the camera's frame.rgb, so on
 * the production path (raw frames at the model size) the input tensor is made from the received
 * bytes with no copy and no per-pixel JS; the cast to float happens inside the graph. JPEG frames
 * (the fallback) are decoded by sharp into a per-camera RGB buffer of the same layout.
 *
 * The model runs in about a quarter of a millisecond, so per-frame allocations show: each camera
 * owns two background tensors (uint8 grey, at 1/bg_scale of the input size; ORT writes
 * `background_next` into the one not being read, then they swap) and its mask/activity outputs, all
 * allocated once. (onnxruntime-node still copies each output into a fresh ArrayBuffer after the run,
 * which is why the outputs are kept small: see apps/inference/scripts/motion-graph.ts.)
 *
 * INVARIANTS: each camera loop awaits `detect` before calling it again for the same camera, so a
 * camera's buffers are never written while a run of that camera reads them. Different cameras have
 * different buffers and share the session.
 */
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { connectedComponents } from './components.ts';
import { checkRawSize, preprocessRgb, unletterboxXY, type Letterbox } from './preprocess.ts';
import { asFrame, type Detection, type Detector } from './types.ts';

/** BT.601 luma weights, applied to 0..255 channels (luma in grey levels 0..255); the graph's too. */
export const LUMA_WEIGHTS = [0.299, 0.587, 0.114] as const;

/**
 * A frame's luma (grey levels) averaged over scale x scale blocks, i.e. the graph's `small`, into
 * `out` ((H/scale)*(W/scale)).
 */
export function greyReduced(rgb: Uint8Array, width: number, height: number, scale: number, out: Float32Array): Float32Array {
  const bw = width / scale;
  const [wr, wg, wb] = LUMA_WEIGHTS;
  out.fill(0);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / scale) * bw;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[row + Math.floor(x / scale)]! += rgb[i]! * wr + rgb[i + 1]! * wg + rgb[i + 2]! * wb;
    }
  }
  const n = scale * scale;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}

/** The model's background for a first frame: `greyReduced`, rounded to whole grey levels, into `out`. */
export function greyBackground(rgb: Uint8Array, width: number, height: number, scale: number, out: Uint8Array): Uint8Array {
  const small = greyReduced(rgb, width, height, scale, new Float32Array(out.length));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(small[i]!);
  return out;
}

export interface MotionOptions {
  session: ort.InferenceSession;
  /** Grid cell size in model pixels (the model's AveragePool kernel; from metadata `cell`). */
  cell: number;
  /** Components smaller than this many cells are noise (default 2). */
  minCells?: number;
}

/** One camera's buffers, reused every frame. `background` is read by the next run, `spare` written. */
interface CameraBuffers {
  /** Decoded JPEG frames land here (fallback path only). */
  rgb: Uint8Array;
  rgbTensor: ort.Tensor;
  background: ort.Tensor;
  spare: ort.Tensor;
  mask: ort.Tensor;
  activity: ort.Tensor;
  primed: boolean;
}

export function createMotionDetector(opts: MotionOptions): Detector {
  const { session, cell } = opts;
  const meta = session.inputMetadata.find((m) => m.name === 'frame');
  const shape = meta && meta.isTensor ? meta.shape : [];
  const H = Number(shape[1]);
  const W = Number(shape[2]);
  if (!meta?.isTensor || meta.type !== 'uint8' || !(H > 0 && W > 0) || Number(shape[3]) !== 3) {
    throw new Error(`motion model input "frame" must be uint8 [1,H,W,3] (got ${meta?.isTensor ? `${meta.type} [${shape.join(',')}]` : 'none'}): regenerate it with apps/inference/scripts/gen-motion-model.ts`);
  }
  const bgMeta = session.inputMetadata.find((m) => m.name === 'background');
  const bgShape = bgMeta && bgMeta.isTensor ? bgMeta.shape.map(Number) : [];
  const scale = W / bgShape[3]!;
  if (!bgMeta?.isTensor || bgMeta.type !== 'uint8' || bgShape.length !== 4 || bgShape[1] !== 1 || !Number.isInteger(scale) || H / scale !== bgShape[2]) {
    throw new Error(`motion model input "background" must be uint8 [1,1,H/s,W/s] grey (got ${bgMeta?.isTensor ? `${bgMeta.type} [${bgShape.join(',')}]` : 'none'}): regenerate it with apps/inference/scripts/gen-motion-model.ts`);
  }
  const cols = W / cell;
  const rows = H / cell;
  const cameras = new Map<string, CameraBuffers>();
  const minCells = opts.minCells ?? 2;
  const img = [1, H, W, 3];
  const grid = [1, 1, rows, cols];
  const bgDims = [1, 1, H / scale, W / scale];
  const bgSize = (H / scale) * (W / scale);
  const newBuffers = (): CameraBuffers => {
    const rgb = new Uint8Array(3 * H * W);
    return {
      rgb,
      rgbTensor: new ort.Tensor('uint8', rgb, img),
      background: new ort.Tensor('uint8', new Uint8Array(bgSize), bgDims),
      spare: new ort.Tensor('uint8', new Uint8Array(bgSize), bgDims),
      mask: new ort.Tensor('uint8', new Uint8Array(rows * cols), grid),
      activity: new ort.Tensor('float32', new Float32Array(rows * cols), grid),
      primed: false,
    };
  };

  return {
    kind: 'motion',
    inputWidth: W,
    inputHeight: H,
    async detect(camera, input) {
      const t0 = performance.now();
      const frame = asFrame(input);
      let b = cameras.get(camera);
      if (!b) cameras.set(camera, (b = newBuffers()));
      let tensor: ort.Tensor;
      let pixels: Uint8Array;
      let letterbox: Letterbox;
      if (frame.kind === 'raw') {
        checkRawSize(frame, W, H);
        // The received bytes are the input: no copy, no conversion.
        tensor = new ort.Tensor('uint8', frame.data, img);
        pixels = frame.data;
        letterbox = frame.letterbox;
      } else {
        letterbox = await preprocessRgb(frame.jpeg, W, H, b.rgb);
        tensor = b.rgbTensor;
        pixels = b.rgb;
      }
      const t1 = performance.now();
      if (!b.primed) {
        // First frame of this camera: it is the background; nothing moved yet.
        greyBackground(pixels, W, H, scale, b.background.data as Uint8Array);
        b.primed = true;
        return { detections: [], times: { preprocess: (t1 - t0) / 1000, run: 0, postprocess: 0 } };
      }
      await session.run({ frame: tensor, background: b.background }, { background_next: b.spare, mask: b.mask, activity: b.activity });
      const t2 = performance.now();
      [b.background, b.spare] = [b.spare, b.background];
      const comps = connectedComponents(b.mask.data as Uint8Array, b.activity.data as Float32Array, cols, rows, minCells);
      const detections: Detection[] = [];
      for (const c of comps) {
        const box = unletterboxXY(c.cx1 * cell, c.cy1 * cell, (c.cx2 + 1) * cell, (c.cy2 + 1) * cell, letterbox);
        // A mean luma change of 25% or more over the blob counts as certain motion.
        detections.push({ x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2, cls: 'motion', score: Math.min(1, c.meanActivity * 4) });
      }
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
