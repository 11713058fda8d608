/**
 * The default model: a motion (foreground) detector expressed as an ONNX graph.
 *
 *   frame, background      [1,3,H,W] float32 RGB in 0..1 (letterboxed; padding identical in both)
 *   diff     = frame - background
 *   gray     = Conv1x1(|diff|, BT.601 luma weights)            [1,1,H,W]
 *   activity = AveragePool(gray, CELL x CELL, stride CELL)     [1,1,H/CELL,W/CELL]  mean luma change per cell
 *   mask     = float(activity > THRESHOLD)                      the coarse map the app turns into boxes
 *   background_next = background + ALPHA * diff                 running average, fed back next frame
 */
import type { GraphDef } from '../src/model/onnx-proto.ts';
import { DT } from '../src/model/onnx-proto.ts';

/** Parameters baked into the shipped file (see apps/inference/README.md). */
export const MOTION_MODEL = { width: 320, height: 320, cell: 8, threshold: 0.08, alpha: 0.3 } as const;

export function motionGraph(p: { width: number; height: number; cell: number; threshold: number; alpha: number } = MOTION_MODEL): GraphDef {
  const { width: W, height: H, cell } = p;
  if (W % cell || H % cell) throw new Error(`model size ${W}x${H} must be a multiple of cell ${cell}`);
  const img = [1, 3, H, W];
  const grid = [1, 1, H / cell, W / cell];
  return {
    name: 'edgevisor_motion',
    doc: 'Motion detector: running-average background subtraction on a coarse grid. Detects change, not objects.',
    inputs: [
      { name: 'frame', type: DT.FLOAT, shape: img },
      { name: 'background', type: DT.FLOAT, shape: img },
    ],
    outputs: [
      { name: 'mask', type: DT.FLOAT, shape: grid },
      { name: 'activity', type: DT.FLOAT, shape: grid },
      { name: 'background_next', type: DT.FLOAT, shape: img },
    ],
    initializers: [
      { name: 'luma', dims: [1, 3, 1, 1], floats: [0.299, 0.587, 0.114] },
      { name: 'threshold', dims: [], floats: [p.threshold] },
      { name: 'alpha', dims: [], floats: [p.alpha] },
    ],
    nodes: [
      { op: 'Sub', inputs: ['frame', 'background'], outputs: ['diff'] },
      { op: 'Abs', inputs: ['diff'], outputs: ['absdiff'] },
      { op: 'Conv', inputs: ['absdiff', 'luma'], outputs: ['gray'], attrs: { kernel_shape: [1, 1] } },
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
      names: "{0: 'motion'}",
    },
  };
}
