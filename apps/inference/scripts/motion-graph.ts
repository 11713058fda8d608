/**
 * The default model: a motion (foreground) detector expressed as an ONNX graph. Like Frigate's
 * motion detector, it compares a grey, reduced copy of each frame with a running average of it.
 *
 *   frame      [1,H,W,3] uint8 RGB, interleaved (NHWC): the camera's raw detect frame as it comes,
 *              letterboxed (padding identical in every frame of a camera)
 *   background [1,1,H/S,W/S] uint8 luma in grey levels 0..255 at 1/S of the input size (the running
 *              average, rounded; fed back from background_next; S = `bgScale`)
 *   f        = Cast(frame, float)                               the only per-pixel conversion, in the graph
 *   grey     = MatMul(f, BT.601 luma weights)                   [1,H,W,1] luma in grey levels
 *   small    = AveragePool(Reshape(grey, [1,1,H,W]), S)         [1,1,H/S,W/S]
 *   diff     = small - float(background)
 *   activity = AveragePool(|diff|, CELL/S) / 255                [1,1,H/CELL,W/CELL] mean luma change per cell, 0..1
 *   mask     = uint8(activity > THRESHOLD)                      the coarse map the app turns into boxes
 *   background_next = uint8(Round(background + ALPHA * diff))   running average, in whole grey levels
 *
 * Why the background is grey, reduced and uint8, and the mask uint8: the background is an input and
 * an output of every run, and onnxruntime-node copies every output into a new ArrayBuffer after the
 * run (even a preallocated one), outside the JS heap. That memory drives V8's full collections: at
 * full speed an RGB float background at 320x320 was 1.2 MB per frame; a grey float one at 160x160,
 * 100 KB, still made half the CPU of a bare run (copy + collections every ~50 ms). All outputs now
 * come to 34 KB. The per-cell activity is an average over CELL x CELL pixels either way.
 * What rounding costs: a background pixel moves only when ALPHA * |diff| reaches half a grey level,
 * so it can sit up to 0.5 / ALPHA (< 2) grey levels from the exact average: under 1 % of luma,
 * against a threshold of 8 %.
 * Why NHWC and no Transpose: the luma weights contract the channel axis, so the colour image never
 * has to be transposed; [1,H,W,1] -> [1,1,H,W] is a free Reshape. The JS side does no per-pixel
 * work: the uint8 bytes from the camera are the input.
 */
import type { GraphDef } from '../src/model/onnx-proto.ts';
import { DT } from '../src/model/onnx-proto.ts';
import { LUMA_WEIGHTS } from '../src/model/motion.ts';

/** Parameters baked into the shipped file (see apps/inference/README.md). */
export const MOTION_MODEL = { width: 320, height: 320, cell: 8, bgScale: 2, threshold: 0.08, alpha: 0.3 } as const;

export interface MotionParams { width: number; height: number; cell: number; bgScale: number; threshold: number; alpha: number }

export function motionGraph(p: MotionParams = MOTION_MODEL): GraphDef {
  const { width: W, height: H, cell, bgScale: S } = p;
  if (W % cell || H % cell) throw new Error(`model size ${W}x${H} must be a multiple of cell ${cell}`);
  if (!Number.isInteger(S) || S < 1 || cell % S) throw new Error(`bgScale ${S} must be a whole divisor of cell ${cell}`);
  const img = [1, H, W, 3];
  const bg = [1, 1, H / S, W / S];
  const grid = [1, 1, H / cell, W / cell];
  const pool = (input: string, output: string, k: number) => ({ op: 'AveragePool', inputs: [input], outputs: [output], attrs: { kernel_shape: [k, k], strides: [k, k] } });
  return {
    name: 'edgevisor_motion',
    doc: 'Motion detector: running-average background subtraction of a grey, reduced frame on a coarse grid. Detects change, not objects. Input: uint8 RGB NHWC.',
    inputs: [
      { name: 'frame', type: DT.UINT8, shape: img },
      { name: 'background', type: DT.UINT8, shape: bg },
    ],
    outputs: [
      { name: 'mask', type: DT.UINT8, shape: grid },
      { name: 'activity', type: DT.FLOAT, shape: grid },
      { name: 'background_next', type: DT.UINT8, shape: bg },
    ],
    initializers: [
      { name: 'luma', dims: [3, 1], floats: [...LUMA_WEIGHTS] },
      { name: 'plane', dims: [4], int64s: [1, 1, H, W] },
      { name: 'threshold', dims: [], floats: [p.threshold] },
      { name: 'alpha', dims: [], floats: [p.alpha] },
      { name: 'per_level', dims: [], floats: [1 / 255] },
    ],
    nodes: [
      { op: 'Cast', inputs: ['frame'], outputs: ['f'], attrs: { to: DT.FLOAT } },
      { op: 'MatMul', inputs: ['f', 'luma'], outputs: ['grey_hw1'] },
      { op: 'Reshape', inputs: ['grey_hw1', 'plane'], outputs: ['grey'] },
      S > 1 ? pool('grey', 'small', S) : { op: 'Identity', inputs: ['grey'], outputs: ['small'] },
      { op: 'Cast', inputs: ['background'], outputs: ['bgf'], attrs: { to: DT.FLOAT } },
      { op: 'Sub', inputs: ['small', 'bgf'], outputs: ['diff'] },
      { op: 'Abs', inputs: ['diff'], outputs: ['absdiff'] },
      pool('absdiff', 'activity_levels', cell / S),
      { op: 'Mul', inputs: ['activity_levels', 'per_level'], outputs: ['activity'] },
      { op: 'Greater', inputs: ['activity', 'threshold'], outputs: ['over'] },
      { op: 'Cast', inputs: ['over'], outputs: ['mask'], attrs: { to: DT.UINT8 } },
      { op: 'Mul', inputs: ['diff', 'alpha'], outputs: ['step'] },
      { op: 'Add', inputs: ['bgf', 'step'], outputs: ['next_exact'] },
      { op: 'Round', inputs: ['next_exact'], outputs: ['next_round'] },
      { op: 'Cast', inputs: ['next_round'], outputs: ['background_next'], attrs: { to: DT.UINT8 } },
    ],
    metadata: {
      edgevisor_kind: 'motion',
      cell: String(cell),
      bg_scale: String(S),
      threshold: String(p.threshold),
      alpha: String(p.alpha),
      input_layout: 'NHWC uint8 RGB',
      background: 'uint8 grey levels',
      names: "{0: 'motion'}",
    },
  };
}
