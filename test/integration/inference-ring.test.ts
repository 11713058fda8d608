// Frames from the camera controller to inference through the frame ring (shared memory), with
// real processes like the e2e test, and the fallbacks: frame.rgb over HTTP when the ring is not
// in inference's FRAMES_DIR, or it has none. GET /cameras names the ring's file and token, never
// a directory (no server path in an answer); a file name with a slash or ".." is refused.
// apps/camera/src/frame-ring.ts, apps/inference/src/camera-loop.ts, apps/inference/src/ring-path.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCameraApp } from '../../apps/camera/src/app.ts';
import { defaultFramesDir, parseCameras } from '../../apps/camera/src/config.ts';
import { createRingWriter } from '../../apps/camera/src/frame-ring.ts';
import { loadConfig } from '../../apps/inference/src/config.ts';
import { buildInferenceApp } from '../../apps/inference/src/app.ts';
import { PERIOD_S, PRESS_ZONES } from '../helpers/zones.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { shmAddon } from '../../apps/camera/src/shm-map.ts';

const ZONES = PRESS_ZONES;
const CAMERAS = `cameras:
  - id: cam1
    source: { synthetic: { period_s: ${PERIOD_S} } }
    fps: 5
    width: 640
    height: 480
    detect: { width: 320, height: 320 }
`;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'inference-ring-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
const get = async (url: string) => fetch(url, { signal: AbortSignal.timeout(3000) });
function spawnApp(main: string, env: Record<string, string>): ChildProcess {
  // The apps log JSON lines on stdout (and a start failure on stderr): both are the log.
  const child = spawn(process.execPath, ['--import', 'tsx', main], { env: { ...process.env, HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.on('data', (d) => (err += d));
  child.stderr!.on('data', (d) => (err += d));
  cleanups.push(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  Object.defineProperty(child, 'log', { get: () => err });
  return child;
}
const logOf = (c: ChildProcess) => (c as ChildProcess & { log: string }).log;
const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));

describe('frames through the ring', () => {
  test('camera and inference processes: frames through the ring in inference\'s FRAMES_DIR, one event per dwell; GET /cameras names no directory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cameras.yaml'), CAMERAS);
    writeFileSync(join(dir, 'zones.yaml'), ZONES);
    const [cport, iport] = [await freePort(), await freePort()];
    // The camera's default: a per-run directory of its own (its pid), removed at stop.
    const camera = spawnApp('apps/camera/src/main.ts', { PORT: String(cport), CAMERAS_FILE: join(dir, 'cameras.yaml') });
    const framesDir = defaultFramesDir(camera.pid);
    const cameraUrl = `http://127.0.0.1:${cport}`;
    let text = '';
    const info = await waitFor('camera /cameras', async () => {
      text = await (await get(`${cameraUrl}/cameras`)).text();
      return (JSON.parse(text) as { cameras: { ring: Record<string, unknown> | null }[] }).cameras[0]?.ring ?? undefined;
    }, 20_000, 200);
    assert.deepEqual(Object.keys(info).sort(), ['file', 'token'], 'the ring is its file name and token, no directory');
    assert.equal(info['file'], 'cam1.ring');
    assert.equal(typeof info['token'], 'number');
    assert.ok(existsSync(join(framesDir, 'cam1.ring')), `the ring in the per-run directory ${framesDir}`);
    // No server path anywhere in the answer: not the frames directory, not any absolute path.
    assert.ok(!text.includes(framesDir) && !text.includes('edgevisor-frames-'), text);
    assert.doesNotMatch(text, /"\/[^"]*"/, 'no string in GET /cameras is an absolute path');

    const inference = spawnApp('apps/inference/src/main.ts', { PORT: String(iport), CAMERA_URL: cameraUrl, DATA_DIR: join(dir, 'data'), ZONES_FILE: join(dir, 'zones.yaml'), FRAMES_DIR: framesDir });
    const base = `http://127.0.0.1:${iport}`;
    const metrics = async () => (await get(`${base}/metrics`)).text();
    await waitFor('inference on the ring', async () => metricValue(await metrics(), 'inference_frame_path', 'camera="cam1",path="ring"') === 1, 30_000, 250)
      .catch((e) => { throw new Error(`${(e as Error).message}\n${logOf(inference)}`); });
    // The real inference process maps the ring when the native helper is built (always in CI).
    const said = logOf(inference).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { child?: string; msg: string })
      .find((l) => l.child === 'cam1' && /^raw 320x320 detect frames through the frame ring/.test(l.msg));
    // The file name only in the line: no server path.
    assert.match(said?.msg ?? '', new RegExp(`\\(cam1\\.ring in FRAMES_DIR, ${shmAddon() ? 'mmap' : 'pread'}\\)$`), logOf(inference));

    // Two episodes of the figure in the zone, one period apart: exactly one event each.
    const events = await waitFor('two dwell events', async () => {
      const ev = ((await (await get(`${base}/events?since=0`)).json()) as { events: { ts: number; zone: string; cls: string; episodeStart: number }[] }).events;
      return ev.length >= 2 ? ev : undefined;
    }, 3 * PERIOD_S * 1000 + 10_000, 500);
    assert.equal(events.length, 2, 'one event per dwell episode');
    assert.deepEqual(events.map((e) => [e.zone, e.cls]), [['press', 'motion'], ['press', 'motion']]);
    assert.ok(Math.abs(events[1]!.ts - events[0]!.ts - PERIOD_S * 1000) <= 1500, `events ${events[1]!.ts - events[0]!.ts} ms apart`);
    const m = await metrics();
    assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="rgb"'), 0);
    assert.equal(metricValue(m, 'inference_frame_errors_total', 'camera="cam1"'), 0);
    const frames = metricValue(m, 'inference_frames_total', 'camera="cam1"');
    // 5 fps over >= 12 s: the loop keeps up (a missed wake-up would show as a low count).
    assert.ok(frames >= 50, `ran ${frames} frames`);

    // SIGTERM: the camera removes its per-run directory (it is RAM).
    camera.kill('SIGTERM');
    inference.kill('SIGTERM');
    await Promise.all([exited(camera), exited(inference)]);
    assert.equal(existsSync(framesDir), false, 'per-run frames directory removed at stop');
  });

  describe('in one process (camera app + inference app)', () => {
    async function startCamera(framesDir: string, failpoint?: { afterFrames: number }): Promise<string> {
      const cam = buildCameraApp({
        cameras: parseCameras({ cameras: [{ id: 'cam1', source: { synthetic: { period_s: PERIOD_S } }, fps: 10, width: 640, height: 480, detect: { width: 320, height: 320 }, heartbeat_timeout_ms: 1000 }] }),
        frames: { dir: framesDir, log: () => {} },
        ...(failpoint ? { failpoint: { kind: 'hang' as const, camera: 'cam1', afterFrames: failpoint.afterFrames } } : {}),
      });
      await cam.app.listen({ port: 0, host: '127.0.0.1' });
      await cam.start();
      cleanups.push(() => cam.stop());
      return `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;
    }
    async function startInference(env: Record<string, string>) {
      const logs: string[] = [];
      const inf = await buildInferenceApp(loadConfig({ DATA_DIR: tempDir(), PORT: '0', ...env }), { log: (l) => logs.push(l) });
      await inf.app.listen({ port: 0, host: '127.0.0.1' });
      cleanups.push(() => inf.close());
      inf.startLoops();
      const base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
      return { logs, metrics: async () => (await get(`${base}/metrics`)).text() };
    }

    test('FRAMES_DIR without the ring: falls back to frame.rgb over HTTP, and says why', async () => {
      const cameraUrl = await startCamera(tempDir());
      const inf = await startInference({ CAMERA_URL: cameraUrl, FRAMES_DIR: tempDir() });
      await waitFor('frames over HTTP', async () => metricValue(await inf.metrics(), 'inference_frames_total', 'camera="cam1"') >= 10, 20_000, 200);
      const m = await inf.metrics();
      assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="rgb"'), 1);
      assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="ring"'), 0);
      assert.equal(metricValue(m, 'inference_frame_errors_total', 'camera="cam1"'), 0);
      assert.ok(inf.logs.some((l) => /cam1: raw 320x320 detect frames \(frame\.rgb; ring unusable: ENOENT/.test(l)), inf.logs.join('\n'));
    });

    test('no FRAMES_DIR: no ring, frame.rgb over HTTP, and says why', async () => {
      const cameraUrl = await startCamera(tempDir());
      const inf = await startInference({ CAMERA_URL: cameraUrl });
      await waitFor('frames over HTTP', async () => metricValue(await inf.metrics(), 'inference_frames_total', 'camera="cam1"') >= 5, 20_000, 200);
      const m = await inf.metrics();
      assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="rgb"'), 1);
      assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="ring"'), 0);
      assert.ok(inf.logs.some((l) => /cam1: raw 320x320 detect frames \(frame\.rgb; no FRAMES_DIR: set it to the directory the camera app writes its frame rings in\)/.test(l)), inf.logs.join('\n'));
    });

    test('a controller naming a ring file with ".." or a slash is refused, though a valid ring lies there', async () => {
      // A camera app that is not ours (or broken), as a protocol peer: it names a file outside
      // FRAMES_DIR where a real ring with its token exists; joining the name would open it.
      const root = tempDir();
      const framesDir = join(root, 'frames');
      mkdirSync(framesDir);
      const token = 4242;
      const writer = createRingWriter(join(root, 'cam1.ring'), { width: 320, height: 320 }, token);
      cleanups.push(() => writer.close());
      for (const file of ['../cam1.ring', `${root}/cam1.ring`]) {
        let frameRequests = 0;
        const server = createServer((req, res) => {
          if (req.url === '/cameras') {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ cameras: [{ id: 'cam1', detect: { width: 320, height: 320, format: 'rgb24' }, ring: { file, token }, targetFps: 5 }] }));
          } else if (req.url?.startsWith('/cameras/cam1/frame.rgb')) {
            frameRequests++;
            res.statusCode = 204;
            res.end();
          } else {
            res.statusCode = 404;
            res.end();
          }
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
        const inf = await startInference({ CAMERA_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, FRAMES_DIR: framesDir, FRAME_WAIT_MS: '200', CAMERAS: 'cam1' });
        await waitFor('the loop on frame.rgb', async () => frameRequests >= 1 && metricValue(await inf.metrics(), 'inference_frame_path', 'camera="cam1",path="rgb"') === 1, 20_000, 100);
        assert.equal(metricValue(await inf.metrics(), 'inference_frame_path', 'camera="cam1",path="ring"'), 0, `${file} was not opened`);
        const why = /has a slash|has "\.\."/;
        assert.ok(inf.logs.some((l) => l.includes(`ring file name ${JSON.stringify(file)} refused`) && why.test(l) && l.includes('expected a plain file name like "cam1.ring"')), inf.logs.join('\n'));
      }
    });

    test('the camera worker restarts: inference reopens the new ring and frames go on', async () => {
      const framesDir = tempDir();
      const cameraUrl = await startCamera(framesDir, { afterFrames: 20 });
      const inf = await startInference({ CAMERA_URL: cameraUrl, FRAMES_DIR: framesDir });
      const runs = async () => ((await (await get(`${cameraUrl}/cameras`)).json()) as { cameras: { workerRuns: number }[] }).cameras[0]!.workerRuns;
      await waitFor('the camera worker restarted twice', async () => (await runs()) >= 3, 30_000, 200);
      const before = metricValue(await inf.metrics(), 'inference_frames_total', 'camera="cam1"');
      assert.ok(before >= 25, `frames of the first runs: ${before}`);
      await waitFor('frames from the newest ring', async () => metricValue(await inf.metrics(), 'inference_frames_total', 'camera="cam1"') >= before + 10, 20_000, 200);
      const m = await inf.metrics();
      assert.equal(metricValue(m, 'inference_frame_path', 'camera="cam1",path="ring"'), 1, 'still on the ring, not fallen back');
      assert.equal(inf.logs.filter((l) => /through the frame ring/.test(l)).length, 1, `logged once: ${inf.logs.join('\n')}`);
    });
  });
});
