import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL } from '../../apps/inference/src/config.ts';
import { encodeModel } from '../../apps/inference/src/model/onnx-proto.ts';
import { greyBackground, greyReduced } from '../../apps/inference/src/model/motion.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import type { RawFrame } from '../../apps/inference/src/model/types.ts';
import { motionGraph, MOTION_MODEL } from '../../apps/inference/scripts/motion-graph.ts';
import { figureX, renderSyntheticFrame } from '../../apps/camera/src/sources/synthetic.ts';

const { width: W, height: H, cell } = MOTION_MODEL;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 12_000) + 3000;

/**
 * The graph's arithmetic written out in JS, per the comment in apps/inference/scripts/motion-graph.ts:
 * grey reduced frame, |diff| pooled per cell, threshold, running average.
 */
function reference(frame: Uint8Array, background: Uint8Array) {
  const S = MOTION_MODEL.bgScale;
  const small = greyReduced(frame, W, H, S, new Float32Array((W / S) * (H / S)));
  const diff = small.map((v, i) => v - background[i]!);
  const cols = W / cell, rows = H / cell, k = cell / S, bw = W / S;
  const activity = new Float32Array(cols * rows);
  for (let y = 0; y < H / S; y++) for (let x = 0; x < bw; x++) activity[Math.floor(y / k) * cols + Math.floor(x / k)]! += Math.abs(diff[y * bw + x]!) / (k * k) / 255;
  return { activity, next: Float64Array.from(background, (b, i) => b + MOTION_MODEL.alpha * diff[i]!) };
}

async function detectFrame(ts: number): Promise<RawFrame> {
  const { raw } = await renderSyntheticFrame(640, 480, ts, 12, 'cam', { width: W, height: H });
  const g = raw!.geometry;
  return { kind: 'raw', data: raw!.data, width: W, height: H, letterbox: { frameWidth: 640, frameHeight: 480, scale: g.scale, padX: g.padX, padY: g.padY, inputWidth: W, inputHeight: H } };
}

describe('the shipped motion model', () => {
  test('models/motion.onnx is exactly what apps/inference/scripts/gen-motion-model.ts writes', () => {
    assert.ok(Buffer.from(encodeModel(motionGraph())).equals(readFileSync(DEFAULT_MODEL)), 'regenerate: node --import tsx apps/inference/scripts/gen-motion-model.ts');
  });

  test('the graph computes what its comment says: grey 1/2-size uint8 background, mean |luma change| per 8x8 cell, threshold, rounded running average', async () => {
    const [a, b] = [await detectFrame(T0), await detectFrame(T0 + 400)];
    const S = MOTION_MODEL.bgScale;
    const session = await ort.InferenceSession.create(DEFAULT_MODEL, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    try {
      const bg = greyBackground(a.data, W, H, S, new Uint8Array((W / S) * (H / S)));
      assert.deepEqual(bg.subarray(0, 4), Uint8Array.from(greyReduced(a.data, W, H, S, new Float32Array((W / S) * (H / S))).subarray(0, 4), Math.round), 'the primed background is the reduced frame, rounded');
      const r = await session.run({ frame: new ort.Tensor('uint8', b.data, [1, H, W, 3]), background: new ort.Tensor('uint8', bg, [1, 1, H / S, W / S]) });
      const want = reference(b.data, bg);
      const act = r.activity!.data as Float32Array;
      const mask = r.mask!.data as Uint8Array;
      let maxDiff = 0;
      for (let i = 0; i < act.length; i++) maxDiff = Math.max(maxDiff, Math.abs(act[i]! - want.activity[i]!));
      assert.ok(maxDiff < 1e-5, `activity differs from the reference by up to ${maxDiff}`);
      for (let i = 0; i < act.length; i++) {
        if (Math.abs(want.activity[i]! - MOTION_MODEL.threshold) > 1e-5) assert.equal(mask[i], want.activity[i]! > MOTION_MODEL.threshold ? 1 : 0, `mask cell ${i}`);
      }
      assert.ok(mask.some((v) => v > 0), 'the figure moved between the two frames');
      assert.ok(mask.filter((v) => v > 0).length < mask.length / 4, 'and the rest of the picture did not');
      const next = r.background_next!.data as Uint8Array;
      assert.ok(next instanceof Uint8Array && next.length === (W / S) * (H / S));
      // Rounded to whole grey levels (ties to even; a tie in float32 may fall either way in JS).
      let moved = 0;
      for (let i = 0; i < next.length; i++) {
        const exact = want.next[i]!;
        if (Math.abs(exact - Math.floor(exact) - 0.5) > 1e-3) assert.equal(next[i], Math.round(exact), `background_next[${i}] (exact ${exact})`);
        if (next[i] !== bg[i]) moved++;
      }
      assert.ok(moved > 0, 'the background followed the figure');
    } finally {
      await session.release();
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
