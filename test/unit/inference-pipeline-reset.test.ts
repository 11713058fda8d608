// What inference drops of a camera that left the controller's list (camera-follow.ts `forget`:
// pipeline.resetCamera): its model state (Detector.reset) and its open dwell episodes, so a camera
// that comes back starts clean: an episode under way when it left does not fire early when it is
// back. A real pipeline, event store (SQLite in a temp dir) and zones file; the detector is a
// scripted one (a person in the zone on every frame), since what is tested is the pipeline's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Registry } from 'prom-client';
import { createPipeline } from '../../apps/inference/src/pipeline.ts';
import { createMetrics } from '../../apps/inference/src/metrics.ts';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { loadZones } from '../../apps/inference/src/zones/zones-file.ts';
import type { Detector } from '../../apps/inference/src/model/types.ts';
import { PRESS_ZONES } from '../helpers/zones.ts';

test('resetCamera drops the camera\'s model state and open dwell episodes: back, its dwell counts from zero', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `edgevisor-inf-reset-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'zones.yaml'), PRESS_ZONES);
  const resets: string[] = [];
  const detector: Detector = {
    kind: 'motion', inputWidth: 64, inputHeight: 48,
    detect: async () => ({ detections: [{ x1: 0.75, y1: 0.2, x2: 0.85, y2: 0.9, cls: 'motion', score: 0.9 }], times: { preprocess: 0, run: 0, postprocess: 0 } }),
    reset: (camera) => void resets.push(camera),
    close: async () => {},
  };
  const store = openEventStore(join(dir, 'events.db'));
  t.after(() => store.close());
  const pipeline = createPipeline({ detector, zones: await loadZones(join(dir, 'zones.yaml')), store, dataDir: dir, metrics: createMetrics(new Registry()) });
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg().toBuffer();
  const t0 = 1_700_000_000_000;
  // 1.6 s of the 2 s dwell at 5 fps: no event yet.
  for (let ms = 0; ms <= 1600; ms += 200) assert.deepEqual((await pipeline.processFrame('cam1', jpeg, t0 + ms)).events, []);
  pipeline.resetCamera('cam1');
  assert.deepEqual(resets, ['cam1'], 'the detector forgot the camera (motion background, gate)');
  // Back 200 ms later: without the reset the episode (since t0) would fire now; it starts again instead.
  const fired: number[] = [];
  for (let ms = 1800; ms <= 4000; ms += 200) if ((await pipeline.processFrame('cam1', jpeg, t0 + ms)).events.length) fired.push(ms);
  assert.deepEqual(fired, [3800], 'one event, 2 s after the camera came back');
});
