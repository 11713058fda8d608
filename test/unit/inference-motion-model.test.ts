import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL } from '../../apps/inference/src/config.ts';
import { DT, encodeModel, type GraphDef } from '../../apps/inference/src/model/onnx-proto.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import type { RawFrame } from '../../apps/inference/src/model/types.ts';
import { motionGraph, MOTION_MODEL } from '../../apps/inference/scripts/motion-graph.ts';
import { figureX, renderSyntheticFrame } from '../../apps/camera/src/sources/synthetic.ts';

const { width: W, height: H, cell } = MOTION_MODEL;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 12_000) + 3000;

/** The model as it was before it took uint8 NHWC (float NCHW in 0..1, Conv for luma), for comparison. */
function floatNchwGraph(): GraphDef {
  const img = [1, 3, H, W];
  const grid = [1, 1, H / cell, W / cell];
  return {
    name: 'edgevisor_motion_float',
    inputs: [{ name: 'frame', type: DT.FLOAT, shape: img }, { name: 'background', type: DT.FLOAT, shape: img }],
    outputs: [{ name: 'mask', type: DT.FLOAT, shape: grid }, { name: 'activity', type: DT.FLOAT, shape: grid }, { name: 'background_next', type: DT.FLOAT, shape: img }],
    initializers: [
      { name: 'luma', dims: [1, 3, 1, 1], floats: [0.299, 0.587, 0.114] },
      { name: 'threshold', dims: [], floats: [MOTION_MODEL.threshold] },
      { name: 'alpha', dims: [], floats: [MOTION_MODEL.alpha] },
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
  };
}

const nchw = (px: Uint8Array) => {
  const out = new Float32Array(3 * W * H);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < 3; c++) out[c * W * H + p] = px[p * 3 + c]! / 255;
  return out;
};

async function detectFrame(ts: number): Promise<RawFrame> {
  const { raw } = await renderSyntheticFrame(640, 480, ts, 12, 'cam', { width: W, height: H });
  const g = raw!.geometry;
  return { kind: 'raw', data: raw!.data, width: W, height: H, letterbox: { frameWidth: 640, frameHeight: 480, scale: g.scale, padX: g.padX, padY: g.padY, inputWidth: W, inputHeight: H } };
}

describe('the shipped motion model', () => {
  test('models/motion.onnx is exactly what apps/inference/scripts/gen-motion-model.ts writes', () => {
    assert.ok(Buffer.from(encodeModel(motionGraph())).equals(readFileSync(DEFAULT_MODEL)), 'regenerate: node --import tsx apps/inference/scripts/gen-motion-model.ts');
  });

  test('uint8 NHWC input (cast in the graph) gives the same activity and mask as the float NCHW model on a known pair of frames', async () => {
    const [a, b] = [await detectFrame(T0), await detectFrame(T0 + 400)];
    const dir = mkdtempSync(join(tmpdir(), 'motion-'));
    writeFileSync(join(dir, 'float.onnx'), encodeModel(floatNchwGraph()));
    const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1 };
    const [now, before] = [await ort.InferenceSession.create(DEFAULT_MODEL, opts), await ort.InferenceSession.create(join(dir, 'float.onnx'), opts)];
    try {
      const bg = new Float32Array(3 * W * H);
      bg.set(a.data);
      const r1 = await now.run({ frame: new ort.Tensor('uint8', b.data, [1, H, W, 3]), background: new ort.Tensor('float32', bg, [1, H, W, 3]) });
      const r0 = await before.run({ frame: new ort.Tensor('float32', nchw(b.data), [1, 3, H, W]), background: new ort.Tensor('float32', nchw(a.data), [1, 3, H, W]) });
      const [act1, act0] = [r1.activity!.data as Float32Array, r0.activity!.data as Float32Array];
      let maxDiff = 0;
      for (let i = 0; i < act0.length; i++) maxDiff = Math.max(maxDiff, Math.abs(act1[i]! - act0[i]!));
      assert.ok(maxDiff < 1e-5, `activity differs by up to ${maxDiff}`);
      assert.deepEqual([...(r1.mask!.data as Float32Array)], [...(r0.mask!.data as Float32Array)]);
      assert.ok((r1.mask!.data as Float32Array).some((v) => v > 0), 'the figure moved between the two frames');
      // The background keeps the 0..255 scale of the input (it used to be 0..1): same running average.
      const next = r1.background_next!.data as Float32Array;
      const nextBefore = r0.background_next!.data as Float32Array;
      for (const i of [0, 1000, 150_000, 300_000]) {
        const p = Math.floor(i / 3), c = i % 3;
        assert.ok(Math.abs(next[i]! / 255 - nextBefore[c * W * H + p]!) < 1e-5);
      }
    } finally {
      await now.release();
      await before.release();
    }
  });

  test('the detector takes raw frames as they are: boxes follow the figure; a wrong size is a clear error', async () => {
    const d = await loadDetector({ path: DEFAULT_MODEL, threads: 1, scoreThreshold: 0.25 });
    try {
      let last: Awaited<ReturnType<typeof d.detect>> | undefined;
      for (let i = 0; i < 6; i++) last = await d.detect('cam', await detectFrame(T0 + i * 200));
      const x = figureX(T0 + 5 * 200, 12);
      assert.ok(last!.detections.some((b) => b.x1 <= x + 0.05 && b.x2 >= x - 0.05), `a box around x=${x}: ${JSON.stringify(last!.detections)}`);
      assert.ok(last!.detections.every((b) => b.y1 >= 0 && b.y2 <= 1 && b.x2 > b.x1));
      const small = { ...(await detectFrame(T0)), width: 160, height: 160, data: new Uint8Array(160 * 160 * 3) };
      await assert.rejects(d.detect('cam', small), /raw frame is 160x160 .* the model takes 320x320 RGB24/);
    } finally {
      await d.close();
    }
  });
});
