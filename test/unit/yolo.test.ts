import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodeModel, DT } from '../../apps/inference/src/model/onnx-proto.ts';
import { decodeYolo, nms, parseNames } from '../../apps/inference/src/model/yolo.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import { letterboxFor, rgbToNchw } from '../../apps/inference/src/model/preprocess.ts';

/**
 * A YOLOv8-shaped graph whose output is known: [1, 4+3, 5] = constant + 0 * ReduceMean(images),
 * so it really consumes the input tensor as an exported detector does.
 * Columns (cx, cy, w, h in 64x64 input pixels; scores for person, forklift, helmet):
 *   0: person 0.9 at (32,32) 20x40      1: person 0.8, nearly the same box (NMS drops it)
 *   2: forklift 0.7, same box as 0      3: helmet 0.1 (below threshold)   4: helmet 0.6 at (10,50) 8x8
 */
const N = 5;
const cols = [
  [32, 32, 20, 40, 0.9, 0.0, 0.0],
  [33, 32, 20, 40, 0.8, 0.1, 0.0],
  [32, 32, 20, 40, 0.0, 0.7, 0.0],
  [50, 10, 10, 10, 0.0, 0.0, 0.1],
  [10, 50, 8, 8, 0.0, 0.0, 0.6],
];
const channelMajor = Array.from({ length: 7 * N }, (_, k) => cols[k % N]![Math.floor(k / N)]!);

function writeFixture(dir: string): string {
  const bytes = encodeModel({
    name: 'yolo_const',
    inputs: [{ name: 'images', type: DT.FLOAT, shape: [1, 3, 64, 64] }],
    outputs: [{ name: 'output0', type: DT.FLOAT, shape: [1, 7, N] }],
    initializers: [
      { name: 'preds', dims: [1, 7, N], floats: channelMajor },
      { name: 'zero', dims: [], floats: [0] },
    ],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['m'], attrs: { keepdims: 0 } },
      { op: 'Mul', inputs: ['m', 'zero'], outputs: ['z'] },
      { op: 'Add', inputs: ['preds', 'z'], outputs: ['output0'] },
    ],
    metadata: { names: "{0: 'person', 1: 'forklift', 2: 'helmet'}", imgsz: '[64, 64]' },
  });
  const path = join(dir, 'yolo-const.onnx');
  writeFileSync(path, bytes);
  return path;
}

const frame = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } }).jpeg().toBuffer();
const near = (a: number, b: number, eps = 1e-3) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

describe('YOLO decoding', () => {
  test('decode applies threshold and class filter; NMS is per class', () => {
    const raw = decodeYolo(channelMajor, [1, 7, N], 0.25, null);
    assert.deepEqual(raw.map((b) => [b.classId, b.score]), [[0, 0.9], [0, 0.8], [1, 0.7], [2, 0.6]]);
    const kept = nms(raw, 0.45);
    assert.deepEqual(kept.map((b) => b.classId), [0, 1, 2], 'the overlapping person goes, the forklift on the same spot stays');
    const onlyHelmet = decodeYolo(channelMajor, [1, 7, N], 0.25, new Set([2]));
    assert.deepEqual(onlyHelmet.map((b) => b.classId), [2]);
    assert.throws(() => decodeYolo([1, 2, 3], [1, 3], 0.25, null), /\[1, 4\+classes, N\]/);
  });

  test('class names come from ultralytics metadata', () => {
    assert.deepEqual(parseNames("{0: 'person', 2: \"car\"}"), ['person', 'class1', 'car']);
    assert.equal(parseNames(undefined), null);
  });

  test('the generated graph runs in onnxruntime and boxes map back through the letterbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yolo-'));
    const det = await loadDetector({ path: writeFixture(dir), threads: 1, scoreThreshold: 0.25 });
    try {
      assert.equal(det.kind, 'yolo');
      // 128x64 frame -> scale 0.5, content 64x32 padded by 16 above and below.
      const { detections } = await det.detect('cam', await frame(128, 64));
      assert.deepEqual(detections.map((d) => d.cls), ['person', 'forklift', 'helmet']);
      const person = detections[0]!;
      near(person.score, 0.9);
      near(person.x1, 22 / 64); near(person.x2, 42 / 64);
      // y 12..52 in input pixels -> minus pad 16 -> clamp to 0, (52-16)/32 > 1 -> clamped to 1
      near(person.y1, 0); near(person.y2, 1);
      const helmet = detections[2]!;
      near(helmet.x1, 6 / 64); near(helmet.y1, (46 - 16) / 32); near(helmet.y2, (54 - 16) / 32 > 1 ? 1 : (54 - 16) / 32);
    } finally {
      await det.close();
    }
  });

  test('CLASSES keeps only the named classes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yolo-'));
    const det = await loadDetector({ path: writeFixture(dir), threads: 1, scoreThreshold: 0.25, classes: ['helmet', 'forklift'] });
    try {
      const { detections, times } = await det.detect('cam', await frame(64, 64));
      assert.deepEqual(detections.map((d) => d.cls), ['forklift', 'helmet']);
      assert.ok(times.run > 0 && times.preprocess > 0);
    } finally {
      await det.close();
    }
  });

  test('raw detect frames (uint8 RGB at model size) give the same boxes as the JPEG path; float conversion is exact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yolo-'));
    const det = await loadDetector({ path: writeFixture(dir), threads: 1, scoreThreshold: 0.25 });
    try {
      // A 128x64 camera frame letterboxed by the camera into the 64x64 input: scale 0.5, pad 16 rows.
      const letterbox = letterboxFor(128, 64, 64, 64);
      const raw = { kind: 'raw' as const, data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64, letterbox };
      const fromRaw = await det.detect('cam', raw);
      const fromJpeg = await det.detect('cam2', await frame(128, 64));
      const round = (ds: typeof fromRaw.detections) => ds.map((d) => [d.cls, ...[d.x1, d.y1, d.x2, d.y2, d.score].map((v) => Math.round(v * 1e5))]);
      assert.deepEqual(round(fromRaw.detections), round(fromJpeg.detections));
      await assert.rejects(det.detect('cam', { ...raw, width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }), /the model takes 64x64/);
    } finally {
      await det.close();
    }
    const px = Uint8Array.from([255, 0, 51, 0, 102, 255]); // two pixels, RGB interleaved
    const out = new Float32Array(6);
    rgbToNchw(px, 2, 1, out);
    assert.deepEqual([...out].map((v) => Math.round(v * 100) / 100), [1, 0, 0, 0.4, 0.2, 1]);
  });
});
