/**
 * The default model: a motion (foreground) detector expressed as an ONNX graph.
 *
 *   frame      [1,H,W,3] uint8 RGB, interleaved (NHWC): the camera's raw detect frame as it comes,
 *              letterboxed (padding identical in every frame of a camera)
 *   background [1,H,W,3] float32 in 0..255 (the running average, fed back from background_next)
 *   f        = Cast(frame, float)                               the only per-pixel conversion, in the graph
 *   diff     = f - background
 *   gray     = MatMul(|diff|, BT.601 luma weights / 255)       [1,H,W,1] mean luma change in 0..1
 *   activity = AveragePool(Reshape(gray, [1,1,H,W]), CELL)     [1,1,H/CELL,W/CELL]
 *   mask     = float(activity > THRESHOLD)                      the coarse map the app turns into boxes
 *   background_next = background + ALPHA * diff                 running average
 *
 * Why NHWC and no Transpose: the luma weights contract the channel axis, so the colour image never
 * has to be transposed; [1,H,W,1] -> [1,1,H,W] is a free Reshape. The 1/255 normalisation is folded
 * into the luma weights (activity stays in 0..1, as before), so there is no separate Mul/Div pass.
 * The JS side does no per-pixel work: the uint8 bytes from the camera are the input tensor.
 */
import type { GraphDef } from '../src/model/onnx-proto.ts';
import { DT } from '../src/model/onnx-proto.ts';

/** Parameters baked into the shipped file (see apps/inference/README.md). */
export const MOTION_MODEL = { width: 320, height: 320, cell: 8, threshold: 0.08, alpha: 0.3 } as const;

export interface MotionParams { width: number; height: number; cell: number; threshold: number; alpha: number }

export function motionGraph(p: MotionParams = MOTION_MODEL): GraphDef {
  const { width: W, height: H, cell } = p;
  if (W % cell || H % cell) throw new Error(`model size ${W}x${H} must be a multiple of cell ${cell}`);
  const img = [1, H, W, 3];
  const grid = [1, 1, H / cell, W / cell];
  return {
    name: 'edgevisor_motion',
    doc: 'Motion detector: running-average background subtraction on a coarse grid. Detects change, not objects. Input: uint8 RGB NHWC.',
    inputs: [
      { name: 'frame', type: DT.UINT8, shape: img },
      { name: 'background', type: DT.FLOAT, shape: img },
    ],
    outputs: [
      { name: 'mask', type: DT.FLOAT, shape: grid },
      { name: 'activity', type: DT.FLOAT, shape: grid },
      { name: 'background_next', type: DT.FLOAT, shape: img },
    ],
    initializers: [
      { name: 'luma', dims: [3, 1], floats: [0.299 / 255, 0.587 / 255, 0.114 / 255] },
      { name: 'plane', dims: [4], int64s: [1, 1, H, W] },
      { name: 'threshold', dims: [], floats: [p.threshold] },
      { name: 'alpha', dims: [], floats: [p.alpha] },
    ],
    nodes: [
      { op: 'Cast', inputs: ['frame'], outputs: ['f'], attrs: { to: DT.FLOAT } },
      { op: 'Sub', inputs: ['f', 'background'], outputs: ['diff'] },
      { op: 'Abs', inputs: ['diff'], outputs: ['absdiff'] },
      { op: 'MatMul', inputs: ['absdiff', 'luma'], outputs: ['gray_hw1'] },
      { op: 'Reshape', inputs: ['gray_hw1', 'plane'], outputs: ['gray'] },
      { op: 'AveragePool', inputs: ['gray'], outputs: ['activity'], attrs: { kernel_shape: [cell, cell], strides: [cell, cell] } },
      { op: 'Greater', inputs: ['activity', 'threshold'], outputs: ['over'] },
      { op: 'Cast', inputs: ['over'], outputs: ['mask'], attrs: { to: DT.FLOAT } },
      { op: 'Mul', inputs: ['diff', 'alpha'], outputs: ['step'] },
      { op: 'Add', inputs: ['background', 'step'], outputs: ['background_next'] },
    ],
    metadata: {
      edgevisor_kind: 'motion',
      cell: String(cell),
      threshold: String(p.threshold),
      alpha: String(p.alpha),
      input_layout: 'NHWC uint8 RGB',
      names: "{0: 'motion'}",
    },
  };
}
