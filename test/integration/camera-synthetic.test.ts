import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { waitFor, sleep } from '../helpers/net.ts';
import { startHttpCameraSim } from '../sim/http-camera.ts';

const metric = (text: string, name: string, camera: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`camera="${camera}"`));
  return line ? Number(line.split(' ').pop()) : NaN;
};

describe('three synthetic cameras, one hangs (failpoint)', () => {
  let cam: CameraApp;
  let base: string;
  after(async () => { await cam?.stop(); });

  test('only the hung camera restarts; the other two keep their rate', async () => {
    cam = buildCameraApp({
      cameras: parseCameras({ cameras: ['a', 'b', 'c'].map((id) => ({ id, source: { synthetic: {} }, fps: 5, width: 320, height: 180, heartbeat_timeout_ms: 1500 })) }),
      failpoint: { kind: 'hang', camera: 'b', afterFrames: 3 },
    });
    await cam.start();
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;
    await waitFor('first frames', async () => (await fetch(`${base}/cameras/a/frame.jpg`)).status === 200, 10_000);
    const m0 = await (await fetch(`${base}/metrics`)).text();
    await sleep(6000);
    const m1 = await (await fetch(`${base}/metrics`)).text();
    for (const id of ['a', 'c']) {
      const rate = (metric(m1, 'camera_frames_total', id) - metric(m0, 'camera_frames_total', id)) / 6;
      assert.ok(rate >= 3.5, `camera ${id} rate ${rate}/s while b hangs, expected about 5`);
      assert.equal(metric(m1, 'camera_worker_restarts_total', id), 0, `camera ${id} must not restart`);
    }
    assert.ok(metric(m1, 'camera_worker_restarts_total', 'b') >= 1, 'hung camera b restarted by its heartbeat timeout');
    const restartEvents = cam.tree.snapshot().nodes.filter((n) => n.type === 'worker').map((n) => [n.id, n.restarts]);
    assert.deepEqual(restartEvents.filter(([, r]) => (r as number) > 0).map(([id]) => id), ['b']);
  });

  test('frame.jpg long-poll returns the next frame; a slow MJPEG client skips frames and does not slow a fast one', async () => {
    const latest = await fetch(`${base}/cameras/a/frame.jpg`);
    const seq = Number(latest.headers.get('x-frame-seq'));
    const t0 = Date.now();
    const next = await fetch(`${base}/cameras/a/frame.jpg?after=${seq}&wait=5000`);
    assert.equal(next.status, 200);
    assert.ok(Number(next.headers.get('x-frame-seq')) > seq);
    assert.ok(Date.now() - t0 < 2000, 'the next frame came within a few intervals');

    // Large frames (noise, ~1 MB each at 10/s) so a client that never reads fills the socket
    // buffers within a second or two and the server has to skip frames for it.
    const sim = await startHttpCameraSim({ fps: 10, noise: { width: 1280, height: 720 } });
    const big = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'big', source: { mjpeg: { url: `${sim.baseUrl}/mjpeg` } }, fps: 10 }] }) });
    await big.start();
    await big.app.listen({ port: 0, host: '127.0.0.1' });
    const bigBase = `http://127.0.0.1:${(big.app.server.address() as { port: number }).port}`;
    try {
      await waitFor('big frames', async () => (await fetch(`${bigBase}/cameras/big/frame.jpg`)).status === 200, 10_000);
      await slowAndFast(bigBase, 'big', big);
    } finally {
      await big.stop();
      await sim.close();
    }
  });
});

async function slowAndFast(base: string, id: string, app: CameraApp): Promise<void> {
    // Slow client: connects and never reads (paused socket). Fast client: counts parts.
    const slow = request(`${base}/cameras/${id}/stream.mjpeg`);
    slow.on('response', (res) => res.pause());
    slow.on('error', () => undefined);
    slow.end();
    const ctl = new AbortController();
    const fast = await fetch(`${base}/cameras/${id}/stream.mjpeg`, { signal: ctl.signal });
    assert.match(fast.headers.get('content-type') ?? '', /multipart\/x-mixed-replace; boundary=/);
    let parts = 0;
    const started = Date.now();
    const reader = (async () => {
      try {
        for await (const chunk of fast.body as unknown as AsyncIterable<Uint8Array>) {
          parts += Buffer.from(chunk).toString('latin1').split('--edgevisorframe').length - 1;
          if (Date.now() - started > 5000) break;
        }
      } catch { /* aborted */ }
    })();
    await reader;
    ctl.abort();
    const rate = parts / ((Date.now() - started) / 1000);
    assert.ok(rate >= 6, `fast MJPEG client got ${rate} parts/s, expected about 10`);
    const m = await (await fetch(`${base}/metrics`)).text();
    assert.ok(metric(m, 'camera_stream_skipped_frames_total', id) > 0, 'the slow client skipped frames');
    const camRate = (app.cameras.get(id)!.measuredFps());
    assert.ok(camRate >= 6, `camera kept its rate (${camRate}/s) with a stalled client`);
    slow.destroy();
}
