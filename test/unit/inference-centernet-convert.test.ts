/**
 * The optional CenterNet against its source: models/centernet.onnx (built by
 * apps/inference/scripts/build-centernet.ts when EDGEVISOR_MODELS names it; built here into a
 * temp dir when it is not there, so the optional build stays tested) run by onnxruntime must give what the tfjs graph gives
 * on real frames, and our JS decoding must give what the graph's own cut-off tail (TopK, boxes)
 * gives. Tolerances: float32 through different kernels (tfjs-cpu vs ORT's MLAS), so not bit-equal:
 * heatmap (0..1) within 1e-5, box distances (input pixels, up to ~250) within 0.01 px.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { buildCenternet, CENTERNET_MODEL, CENTERNET_SHA_FILE, centernetSource, sha256 } from '../../apps/inference/scripts/build-centernet.ts';
import { loadTfjsGraph, type TfjsGraph } from '../../apps/inference/scripts/tfjs-to-onnx.ts';
import { decodeCenternet } from '../../apps/inference/src/model/centernet.ts';
import { asRawFrame, vtestRgb } from '../helpers/vtest.ts';

let g: TfjsGraph;
let session: ort.InferenceSession;
let frames: Uint8Array[];
let modelFile = CENTERNET_MODEL;

before(async () => {
  g = await loadTfjsGraph(centernetSource());
  if (!existsSync(modelFile)) {
    modelFile = join(mkdtempSync(join(tmpdir(), 'centernet-')), 'centernet.onnx');
    writeFileSync(modelFile, await buildCenternet());
  }
  session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 2 });
  // Two real frames (tfjs-cpu takes ~8 s CPU a frame), letterboxed to 512x512 exactly as the camera sends them.
  frames = await Promise.all((await vtestRgb([40, 600])).map(async (f) => (await asRawFrame(f, 512)).data));
});

describe('the converted CenterNet (models/centernet.onnx)', () => {
  test('is the file the converter writes: its sha256 is the one recorded in models/centernet.onnx.sha256', () => {
    const expected = readFileSync(CENTERNET_SHA_FILE, 'utf8').trim().split(/\s+/)[0];
    assert.equal(sha256(readFileSync(modelFile)), expected, 'rebuild: node --import tsx apps/inference/scripts/build-centernet.ts --force');
  });

  test('heatmap and box sizes equal the tfjs graph on 2 real frames (1e-5 / 0.01 px), and the JS decoding equals the graph\'s TopK tail', async () => {
    for (const [k, data] of frames.entries()) {
      const out = await session.run({ image: new ort.Tensor('uint8', data, [1, 512, 512, 3]) });
      const heat = out.heatmap!.data as Float32Array;
      const wh = out.wh!.data as Float32Array;
      const x = tf.tensor(Float32Array.from(data), [1, 512, 512, 3]);
      const [kp, whT, det] = g.model.execute({ [g.inputName]: x }, ['tower_0/keypoints', 'tower_0/wh', 'tower_0/detections']) as tf.Tensor[];
      const refHeat = tf.transpose(kp!, [0, 3, 1, 2]).dataSync();
      const refWh = tf.transpose(whT!, [0, 3, 1, 2]).dataSync();
      let dh = 0, dw = 0;
      for (let i = 0; i < heat.length; i++) dh = Math.max(dh, Math.abs(heat[i]! - refHeat[i]!));
      for (let i = 0; i < wh.length; i++) dw = Math.max(dw, Math.abs(wh[i]! - refWh[i]!));
      assert.ok(dh < 1e-5, `frame ${k}: heatmap differs by ${dh}`);
      assert.ok(dw < 0.01, `frame ${k}: wh differs by ${dw} px`);

      // The graph's own decoding (TopK 100 over all classes, then boxes): rows x1 y1 x2 y2 score class.
      const ref = (det!.arraySync() as number[][][])[0]!.filter((r) => r[4]! >= 0.3);
      const ours = decodeCenternet(heat, wh, 128, 128, 4, Array.from({ length: 80 }, (_, i) => i), 0.3);
      assert.ok(ref.length >= 3, `frame ${k}: expected some detections, got ${ref.length}`);
      assert.equal(ours.length, ref.length, `frame ${k}: ${ours.length} peaks, the graph has ${ref.length}`);
      ref.forEach((r, i) => {
        const o = ours[i]!;
        assert.equal(o.classId, r[5], `frame ${k} peak ${i}: class`);
        assert.ok(Math.abs(o.score - r[4]!) < 1e-5, `frame ${k} peak ${i}: score ${o.score} vs ${r[4]}`);
        for (const [a, b] of [[o.x1, r[0]!], [o.y1, r[1]!], [o.x2, r[2]!], [o.y2, r[3]!]] as const) assert.ok(Math.abs(a - b) < 0.01, `frame ${k} peak ${i}: box ${[o.x1, o.y1, o.x2, o.y2].join(',')} vs ${r.slice(0, 4).join(',')}`);
      });
      tf.dispose([x, kp!, whT!, det!]);
    }
  });
});
