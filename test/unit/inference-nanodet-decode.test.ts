/**
 * NanoDet's decoding (apps/inference/src/model/nanodet.ts) on hand-made outputs: where a cell's
 * box lands (cell centre (x + 0.5) * stride, distances = stride * the softmax integral over the
 * bins), the threshold and the class filter; and a missing default model is a clear error.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNanodet } from '../../apps/inference/src/model/nanodet.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';

const C = 80, B = 11, W = 416;

/** One stride-8 level (52x52 cells), all scores 0, all bin logits 0 unless set. */
function level() {
  return { stride: 8, cls: new Float32Array(52 * 52 * C), reg: new Float32Array(52 * 52 * 4 * B) };
}

describe('decodeNanodet', () => {
  test('a confident cell: box around its centre, each side stride * its peaked bin', () => {
    const l = level();
    const x = 10, y = 20, i = y * 52 + x;
    l.cls[i * C + 0] = 0.7;
    // Left 2 bins, top 3, right 1, bottom 6: one logit far above the rest makes the softmax one-hot.
    [2, 3, 1, 6].forEach((bin, side) => { l.reg[i * 4 * B + side * B + bin] = 40; });
    const [b, ...rest] = decodeNanodet([l], W, C, B, [0], 0.4);
    assert.equal(rest.length, 0);
    const cx = (x + 0.5) * 8, cy = (y + 0.5) * 8;
    assert.equal(b!.classId, 0);
    assert.ok(Math.abs(b!.score - 0.7) < 1e-6);
    for (const [got, want] of [[b!.x1, cx - 16], [b!.y1, cy - 24], [b!.x2, cx + 8], [b!.y2, cy + 48]] as const) assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
  });

  test('flat bins integrate to the middle bin (5 of 0..10): the integral, not an argmax', () => {
    const l = level();
    l.cls[0 * C + 0] = 0.5;
    const [b] = decodeNanodet([l], W, C, B, [0], 0.4);
    assert.ok(Math.abs(b!.x1 - (4 - 40)) < 1e-6 && Math.abs(b!.x2 - (4 + 40)) < 1e-6, JSON.stringify(b));
  });

  test('below the threshold or of an unwanted class: nothing; several levels are all read', () => {
    const l8 = level();
    l8.cls[5 * C + 0] = 0.39;
    l8.cls[6 * C + 2] = 0.9; // a car
    const l32 = { stride: 32, cls: new Float32Array(13 * 13 * C), reg: new Float32Array(13 * 13 * 4 * B) };
    l32.cls[(12 * 13 + 12) * C + 0] = 0.8;
    const out = decodeNanodet([l8, l32], W, C, B, [0], 0.4);
    assert.equal(out.length, 1);
    assert.ok(Math.abs((out[0]!.x1 + out[0]!.x2) / 2 - 12.5 * 32) < 1e-6, 'the stride-32 cell at the bottom right');
    assert.equal(decodeNanodet([l8], W, C, B, [0, 2], 0.4).length, 1, 'the car when cars are wanted');
  });
});

test('a missing models/nanodet.onnx is INFERENCE_ERR_NO_MODEL naming the build step', async () => {
  await assert.rejects(loadDetector({ path: '/nonexistent/models/nanodet.onnx', threads: 1, scoreThreshold: 0.4 }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INFERENCE_ERR_NO_MODEL');
    assert.match(e.message, /build-models\.mjs.*build-nanodet\.ts/);
    return true;
  });
});
