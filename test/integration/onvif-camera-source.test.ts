/**
 * Camera controller source `onvif: {address, profile}`: the RTSP URI comes from the ONVIF service
 * (a real process, killed and restarted here), the stream from the GStreamer RTSP sim behind the
 * simulated ONVIF camera; a camera "reboot" hands out a new URI.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const metric = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('camera="dock"'));
  return line ? Number(line.split(' ').pop()) : NaN;
};
const ffmpegFor = (url: string): number => {
  try { return execFileSync('pgrep', ['-f', `ffmpeg.*${url}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length; } catch { return 0; }
};

function startService(port: number, dataDir: string, logs: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/onvif/src/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ONVIF_REQUEST_TIMEOUT_MS: '2000', ONVIF_BACKOFF_MS: '500' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  return child;
}

describe('camera controller: onvif source', () => {
  const rtsp: RtspSim[] = [];
  let cam: SimCamera | undefined;
  let app: CameraApp | undefined;
  let svc: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-onvif-src-'));
  after(async () => {
    await app?.stop();
    svc?.kill('SIGKILL');
    await cam?.stop();
    for (const r of rtsp) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('streams from the URI the service hands out, keeps streaming while the service is down, re-asks after a reboot with a new URI', async () => {
    const a = await startRtspSim({ fps: 10, width: 640, height: 360 });
    rtsp.push(a);
    const secret = `Src-${process.pid}-pw`;
    cam = await startSimCamera({ rtspUri: a.url, password: secret });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const logs: string[] = [];
    svc = startService(port, dir, logs);
    await waitFor('onvif service up', async () => (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) })).ok, 20_000, 100);
    const added = await fetch(`${base}/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: `127.0.0.1:${cam.port}`, username: 'admin', password: secret }) });
    assert.equal(((await added.json()) as { status: string }).status, 'ok');

    app = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'dock', source: { onvif: { address: `127.0.0.1:${cam.port}`, profile: 'subStream' } }, fps: 5, width: 320, height: 180 }] }, { onvifUrl: base }) });
    await app.start();
    await app.app.listen({ port: 0, host: '127.0.0.1' });
    const camBase = `http://127.0.0.1:${(app.app.server.address() as { port: number }).port}`;
    const metrics = async () => (await fetch(`${camBase}/metrics`)).text();
    await waitFor('first frame', async () => metric(await metrics(), 'camera_frames_total') > 0, 25_000, 200);
    const rate = async (s: number) => { const x = metric(await metrics(), 'camera_frames_total'); await sleep(s * 1000); return (metric(await metrics(), 'camera_frames_total') - x) / s; };
    const r1 = await rate(4);
    assert.ok(r1 >= 3.5 && r1 <= 6.5, `${r1} frames/s, expected about 5`);

    // The service dies: the stream does not depend on it.
    svc.kill('SIGKILL');
    await new Promise((r) => svc!.once('exit', r));
    const r2 = await rate(3);
    assert.ok(r2 >= 3.5, `${r2} frames/s with the onvif service down`);

    // Back (same DATA_DIR: the camera and its credentials are loaded at start).
    svc = startService(port, dir, logs);
    await waitFor('camera known again', async () => {
      const list = (await (await fetch(`${base}/cameras`, { signal: AbortSignal.timeout(1000) })).json()) as { cameras: { status: string }[] };
      return list.cameras[0]?.status === 'ok';
    }, 20_000, 200);

    // The camera reboots with another stream URI: the old stream fails, the source re-asks.
    const b = await startRtspSim({ fps: 10, width: 640, height: 360 });
    rtsp.push(b);
    cam.set({ rtspUri: b.url });
    await a.stop();
    const stoppedAt = Date.now() / 1000;
    await waitFor('frames from the new URI', async () => metric(await metrics(), 'camera_last_frame_timestamp_seconds') > stoppedAt + 1, 40_000, 250);
    const r3 = await rate(3);
    assert.ok(r3 >= 3.5, `${r3} frames/s after the reboot`);
    assert.equal(ffmpegFor(b.url), 1, 'decoding the new URI');
    assert.equal(ffmpegFor(a.url), 0, 'the old URI is left');
    assert.ok(!logs.join('').includes(secret), 'no password in the service log');
  });
});
