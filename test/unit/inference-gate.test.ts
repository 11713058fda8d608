import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createGatedDetector, decideGate, type GatePolicy } from '../../apps/inference/src/model/gate.ts';
import { createMetrics } from '../../apps/inference/src/metrics.ts';
import type { Detection, Detector } from '../../apps/inference/src/model/types.ts';

const P: GatePolicy = { minIntervalMs: 200, maxIntervalMs: 5000 };

describe('decideGate (pure)', () => {
  test('first frame of a camera always detects', () => {
    assert.equal(decideGate(P, { lastDetectAt: undefined, motionPending: false }, false, 0), 'detect');
  });
  test('motion detects once the budget allows; within the budget it is remembered', () => {
    const s = { lastDetectAt: 1000, motionPending: false };
    assert.equal(decideGate(P, s, true, 1100), 'budget');
    assert.equal(decideGate(P, s, true, 1200), 'detect');
    // 10 % slack: a 5 fps camera's frames 195 ms apart are all taken at a 5 fps budget.
    assert.equal(decideGate(P, s, true, 1195), 'detect');
    assert.equal(decideGate(P, { lastDetectAt: 1000, motionPending: true }, false, 1250), 'detect', 'motion seen inside the budget is served by the next frame');
  });
  test('no motion: skipped until the periodic check is due', () => {
    const s = { lastDetectAt: 1000, motionPending: false };
    assert.equal(decideGate(P, s, false, 1100), 'no_motion');
    assert.equal(decideGate(P, s, false, 5999), 'no_motion');
    assert.equal(decideGate(P, s, false, 6000), 'detect');
  });
  test('a clock that went backwards (camera restarted) detects rather than stalling', () => {
    assert.equal(decideGate(P, { lastDetectAt: 10_000, motionPending: false }, false, 500), 'detect');
  });
});

const fake = (kind: Detector['kind'], out: (ts: number) => Detection[], calls: number[]): Detector => ({
  kind, inputWidth: 8, inputHeight: 8,
  async detect(_c, _f, ts = 0) { calls.push(ts); return { detections: out(ts), times: { preprocess: 0, run: 0.001, postprocess: 0 } }; },
  reset() {}, async close() {},
});
const box = (cls: string, score = 0.9): Detection => ({ x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.5, cls, score });

describe('the gated detector', () => {
  test('holds the last objects between detector runs and adds the motion boxes of every frame', async () => {
    const motionCalls: number[] = [], detCalls: number[] = [];
    const motionAt = new Set([0, 200, 400]);
    const g = createGatedDetector({
      motion: fake('motion', (ts) => (motionAt.has(ts) ? [box('motion', 0.5)] : []), motionCalls),
      detector: fake('nanodet', () => [box('person')], detCalls),
      policy: P,
    });
    const frame = Buffer.alloc(0);
    const results = [];
    for (const ts of [0, 200, 400, 600, 800, 5400]) results.push(await g.detect('cam', frame, ts));
    assert.deepEqual(motionCalls, [0, 200, 400, 600, 800, 5400], 'motion on every frame');
    assert.deepEqual(detCalls, [0, 200, 400, 5400], 'detector on motion and at the periodic check');
    assert.deepEqual(results.map((r) => r.gate!.decision), ['detect', 'detect', 'detect', 'no_motion', 'no_motion', 'detect']);
    assert.ok(results.every((r) => r.detections.some((d) => d.cls === 'person')), 'the person is held on skipped frames');
    assert.deepEqual(results[1]!.detections.map((d) => d.cls), ['person', 'motion']);
    assert.equal(g.kind, 'nanodet');
  });
});

describe('gate metrics', () => {
  test('per-camera counters, skipped by reason, and fps gauges over the last 10 s', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    const now = Math.floor(Date.now() / 1000) * 1000 - 1000; // a whole second that is over
    for (let i = 0; i < 10; i++) m.gateDone('cam', { decision: i % 2 ? 'no_motion' : 'detect', motion: i % 2 === 0, ...(i % 2 ? {} : { detectSeconds: 0.05 }) }, now - 9000 + i * 1000);
    m.gateDone('cam', { decision: 'budget', motion: true }, now);
    const text = await registry.metrics();
    assert.match(text, /inference_motion_frames_total\{camera="cam"\} 11/);
    assert.match(text, /inference_detect_frames_total\{camera="cam"\} 5/);
    assert.match(text, /inference_detect_skipped_total\{camera="cam",reason="no_motion"\} 5/);
    assert.match(text, /inference_detect_skipped_total\{camera="cam",reason="budget"\} 1/);
    assert.match(text, /inference_detector_seconds_count 5/);
    const gauge = (name: string) => Number(new RegExp(`${name}\\{camera="cam"\\} ([\\d.]+)`).exec(text)?.[1]);
    assert.ok(gauge('inference_motion_fps') >= 1 && gauge('inference_motion_fps') <= 1.1, `motion fps ${gauge('inference_motion_fps')}`);
    assert.ok(gauge('inference_detect_fps') >= 0.4 && gauge('inference_detect_fps') <= 0.5, `detect fps ${gauge('inference_detect_fps')}`);
    assert.ok(gauge('inference_skipped_fps') >= 0.5 && gauge('inference_skipped_fps') <= 0.6, `skipped fps ${gauge('inference_skipped_fps')}`);
  });
});
