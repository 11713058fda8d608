import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { Registry } from 'prom-client';
import { renderSynthetic, renderSyntheticFrame, figureX } from '../../apps/camera/src/sources/synthetic.ts';
import { buildCameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import { DEFAULT_MODEL, loadConfig } from '../../apps/inference/src/config.ts';
import { createPipeline } from '../../apps/inference/src/pipeline.ts';
import { createMetrics } from '../../apps/inference/src/metrics.ts';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { loadZones } from '../../apps/inference/src/zones/zones-file.ts';
import { buildInferenceApp } from '../../apps/inference/src/app.ts';
import type { Detector, FrameInput, RawFrame } from '../../apps/inference/src/model/types.ts';
import { PERIOD_S, PRESS_ZONES } from '../helpers/zones.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';

const ZONES = PRESS_ZONES;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'inference-'));
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A camera-made raw detect frame (synthetic renderer, 320x320 like the shipped model) as the detector takes it. */
async function rawSynthetic(ts: number): Promise<RawFrame> {
  const { raw } = await renderSyntheticFrame(640, 480, ts, PERIOD_S, 'cam1', { width: 320, height: 320 });
  const g = raw!.geometry;
  return { kind: 'raw', data: raw!.data, width: g.width, height: g.height, letterbox: { frameWidth: g.frameWidth, frameHeight: g.frameHeight, scale: g.scale, padX: g.padX, padY: g.padY, inputWidth: g.width, inputHeight: g.height } };
}

/** Two full periods at 5 fps in virtual time through a real pipeline; returns the event frame times. */
async function dwellRun(frameAt: (ts: number) => Promise<FrameInput>, snapshotSize: [number, number]): Promise<number[]> {
  const dir = tempDir();
  writeFileSync(join(dir, 'zones.yaml'), ZONES);
  const detector = await loadDetector({ path: DEFAULT_MODEL, threads: 1, scoreThreshold: 0.25 });
  const store = openEventStore(join(dir, 'events.db'));
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const pipeline = createPipeline({ detector, zones: await loadZones(join(dir, 'zones.yaml')), store, dataDir: dir, metrics });
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % (PERIOD_S * 1000));
  const eventTimes: number[] = [];
  for (let i = 0; i < 2 * PERIOD_S * 5; i++) {
    const ts = t0 + i * 200;
    const { events } = await pipeline.processFrame('cam1', await frameAt(ts), ts);
    for (const e of events) {
      eventTimes.push(ts);
      // The dwell was met: the figure has been near the zone for >= 2 s of capture time.
      assert.ok(e.ts - e.episodeStart >= 2000);
      assert.ok(figureX(ts, PERIOD_S) > 0.6, `figure at x=${figureX(ts, PERIOD_S)} when the event fired`);
    }
  }
  assert.equal(eventTimes.length, 2, `expected one event per period, got ${eventTimes.length}`);
  assert.ok(Math.abs(eventTimes[1]! - eventTimes[0]! - PERIOD_S * 1000) <= 1000, 'the second event is one period later');

  // Durable: another connection (as the web app would open it) sees both, snapshots decode: the
  // whole frame (from a raw frame without its JPEG: the picture at detect resolution, letterbox cut off).
  const db = new Database(join(dir, 'events.db'), { readonly: true });
  const rows = db.prepare('SELECT * FROM safety_events ORDER BY id').all() as { camera: string; zone: string; cls: string; snapshot: string; boxes: string }[];
  db.close();
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.deepEqual([r.camera, r.zone, r.cls], ['cam1', 'press', 'motion']);
    const boxes = JSON.parse(r.boxes) as { x1: number; x2: number }[];
    assert.ok(boxes.length >= 1);
    assert.ok(boxes.some((b) => b.x2 > 0.667), `a box reaches into the zone: ${r.boxes}`);
    // Stored by name (no server path in any answer), under DATA_DIR/snapshots.
    assert.ok(!r.snapshot.includes('/'), r.snapshot);
    assert.ok(existsSync(join(dir, 'snapshots', r.snapshot)));
    const meta = await sharp(join(dir, 'snapshots', r.snapshot)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', ...snapshotSize]);
  }
  const text = await registry.metrics();
  assert.equal(metricValue(text, 'inference_events_total', 'camera="cam1",zone="press"'), 2);
  assert.equal(metricValue(text, 'inference_frames_total', 'camera="cam1"'), 120);
  store.close();
  await detector.close();
  return eventTimes;
}

describe('inference pipeline on the synthetic camera figure', () => {
  let jpegEvents: number[] = [];
  test('JPEG frames (fallback): one event per dwell episode, with a snapshot that decodes; leaving and re-entering gives another', async () => {
    jpegEvents = await dwellRun((ts) => renderSynthetic(640, 480, ts, PERIOD_S, 'cam1'), [640, 480]);
  });

  test('raw detect frames from the camera give the same dwell events as JPEGs', async () => {
    const rawEvents = await dwellRun(rawSynthetic, [320, 240]);
    assert.equal(jpegEvents.length, 2, 'the JPEG run went first');
    // Same frames, decoded by two different paths (camera vs inference): within a frame or two.
    rawEvents.forEach((t, i) => assert.ok(Math.abs(t - jpegEvents[i]!) <= 400, `event ${i}: raw at ${t}, JPEG at ${jpegEvents[i]}`));
  });
});

describe('inference app against a real camera controller', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const s of stops.reverse()) await s();
  });

  async function startCamera(fps: number, detect?: { width: number; height: number }): Promise<string> {
    const cam = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'cam1', source: { synthetic: { period_s: PERIOD_S } }, fps, width: 640, height: 480, ...(detect ? { detect } : {}) }] }) });
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    await cam.start();
    stops.push(() => cam.stop());
    const addr = cam.app.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  test('pulls the newest frames, counts the ones it skipped, serves /events, /healthz, /metrics', async () => {
    const cameraUrl = await startCamera(10);
    const dir = tempDir();
    writeFileSync(join(dir, 'zones.yaml'), ZONES);
    const cfg = loadConfig({ CAMERA_URL: cameraUrl, DATA_DIR: dir, ZONES_FILE: join(dir, 'zones.yaml'), PORT: '0' });
    // A slow model (a real one behind a 250 ms delay) cannot keep up with 10 fps: it must skip, not queue.
    const real = await loadDetector({ path: cfg.model, threads: 1, scoreThreshold: 0.25 });
    const slow: Detector = { ...real, detect: async (c, j) => { await sleep(250); return real.detect(c, j); } };
    const logs: string[] = [];
    const inf = await buildInferenceApp(cfg, { detector: slow, log: (l) => logs.push(l) });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => inf.close());
    inf.startLoops();
    const base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
    const metrics = async () => (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    await waitFor('frames and drops', async () => {
      const m = await metrics();
      return metricValue(m, 'inference_frames_total', 'camera="cam1"') >= 5 && metricValue(m, 'inference_dropped_frames_total', 'camera="cam1"') >= 5;
    }, 20_000);
    const m = await metrics();
    const frames = metricValue(m, 'inference_frames_total', 'camera="cam1"');
    // Roughly 4 frames/s run, 10/s produced: most of the difference must be counted as dropped.
    assert.ok(frames <= 4 * 6, `ran ${frames} frames: it should be limited by the model`);
    assert.ok(Math.abs(Date.now() / 1000 - metricValue(m, 'inference_last_frame_timestamp_seconds', 'camera="cam1"')) < 5);
    assert.match(m, /inference_latency_seconds_bucket\{[^}]*stage="run"/);
    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) });
    assert.equal(health.status, 200);
    const ev = await fetch(`${base}/events?since=0`, { signal: AbortSignal.timeout(3000) });
    assert.equal(ev.status, 200);
    assert.ok(Array.isArray(((await ev.json()) as { events: unknown[] }).events));
    const bad = await fetch(`${base}/events?since=yesterday`, { signal: AbortSignal.timeout(3000) });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INFERENCE_ERR_BAD_QUERY');
    // This camera has no detect size: the loop fell back to JPEGs decoded here.
    assert.ok(logs.some((l) => /cam1: JPEG frames decoded here \(camera detect size not set/.test(l)), logs.join('\n'));
  });

  test('a camera with detect at the model size: raw frames over frame.rgb, events with snapshots of the whole frame', async () => {
    const cameraUrl = await startCamera(5, { width: 320, height: 320 });
    const dir = tempDir();
    writeFileSync(join(dir, 'zones.yaml'), ZONES);
    const cfg = loadConfig({ CAMERA_URL: cameraUrl, DATA_DIR: dir, ZONES_FILE: join(dir, 'zones.yaml'), PORT: '0' });
    const logs: string[] = [];
    const inf = await buildInferenceApp(cfg, { log: (l) => logs.push(l) });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => inf.close());
    inf.startLoops();
    const base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
    // The figure reaches the zone once per 12 s period and has to stay 2 s.
    await waitFor('a dwell event from raw frames', async () => inf.store.since(0, 10).length >= 1, 30_000, 250);
    assert.ok(logs.some((l) => /cam1: raw 320x320 detect frames \(frame\.rgb; camera offers no frame ring\)/.test(l)), logs.join('\n'));
    const [ev] = inf.store.since(0, 10);
    assert.deepEqual([ev!.camera, ev!.zone, ev!.cls], ['cam1', 'press', 'motion']);
    const meta = await sharp(join(cfg.dataDir, 'snapshots', ev!.snapshot!)).metadata();
    // The camera's own 640x480 JPEG of that frame when it is still the newest (nearly always at
    // 5 fps), else the raw frame's 320x240 picture: the whole frame either way, never the padding.
    assert.equal(meta.format, 'jpeg');
    assert.ok([640, 320].includes(meta.width!) && meta.height === (meta.width! * 3) / 4, `${meta.width}x${meta.height}`);
    const m = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    assert.ok(metricValue(m, 'inference_frames_total', 'camera="cam1"') >= 10);
    assert.equal(metricValue(m, 'inference_frame_errors_total', 'camera="cam1"'), 0);
  });

  test('failpoint hang: frames stop being counted while /healthz still answers', async () => {
    const cameraUrl = await startCamera(5);
    const dir = tempDir();
    const cfg = loadConfig({ CAMERA_URL: cameraUrl, DATA_DIR: dir, PORT: '0', INFERENCE_FAILPOINT: 'hang@1500ms' });
    const inf = await buildInferenceApp(cfg, { log: () => {} });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => inf.close());
    inf.startLoops();
    const base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
    const frames = async () => metricValue(await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) })).text(), 'inference_frames_total', 'camera="cam1"');
    await waitFor('first frames', async () => (await frames()) >= 2, 10_000);
    await sleep(2500);
    const stuck = await frames();
    await sleep(1500);
    assert.equal(await frames(), stuck, 'no frame is counted once the loop hangs');
    assert.equal((await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(3000) })).status, 200);
  });

  test('failpoint block: the process stops answering /healthz (event loop blocked)', async () => {
    const cameraUrl = await startCamera(5);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/inference/src/main.ts'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDir(), CAMERA_URL: cameraUrl, CAMERAS: 'cam1', INFERENCE_FAILPOINT: 'block@3s' },
      stdio: 'ignore',
    });
    stops.push(async () => void child.kill('SIGKILL'));
    const healthz = async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).status;
    await waitFor('healthz before the failpoint', async () => (await healthz()) === 200, 15_000);
    await waitFor('healthz to stop answering', async () => {
      try {
        await healthz();
        return false;
      } catch {
        return true;
      }
    }, 15_000);
    assert.equal(child.exitCode, null, 'blocked, not dead');
    child.kill('SIGKILL');
  });
});
