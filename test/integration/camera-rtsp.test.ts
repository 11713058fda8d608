import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { waitFor, sleep } from '../helpers/net.ts';

const metric = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('camera="door"'));
  return line ? Number(line.split(' ').pop()) : NaN;
};

/** ffmpeg processes decoding this URL (children of this test process). */
const ffmpegFor = (url: string): number[] => {
  try {
    return execFileSync('pgrep', ['-f', `ffmpeg.*${url}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

describe('RTSP camera end to end', () => {
  let sim: RtspSim | undefined;
  let cam: CameraApp | undefined;
  after(async () => { await cam?.stop(); await sim?.stop(); });

  test('decodes at the target fps; a dropped server reconnects; metrics show the gap and the recovery', async () => {
    sim = await startRtspSim({ width: 640, height: 360, fps: 10 });
    const url = sim.url;
    cam = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'door', source: { rtsp: { url } }, fps: 5, width: 320, height: 180 }] }) });
    await cam.start();
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;
    const metrics = async () => (await fetch(`${base}/metrics`)).text();

    await waitFor('first RTSP frame', async () => (await fetch(`${base}/cameras/door/frame.jpg`)).status === 200, 20_000);
    const jpeg = Buffer.from(await (await fetch(`${base}/cameras/door/frame.jpg`)).arrayBuffer());
    // SOF0 marker carries height and width: the frame was scaled to the target size.
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    assert.ok(sof > 0, 'baseline JPEG');
    assert.deepEqual([jpeg.readUInt16BE(sof + 7), jpeg.readUInt16BE(sof + 5)], [320, 180]);

    const a = await metrics();
    await sleep(4000);
    const b = await metrics();
    const rate = (metric(b, 'camera_frames_total') - metric(a, 'camera_frames_total')) / 4;
    assert.ok(rate >= 4 && rate <= 6, `decoded ${rate} frames/s, expected about 5`);
    assert.equal(metric(b, 'camera_reconnects_total'), 0);

    // Kill the server: ffmpeg's stream drops, the camera reconnects with backoff.
    const port = sim.port;
    await sim.stop();
    const killedAt = Date.now() / 1000;
    await waitFor('reconnect attempts', async () => metric(await metrics(), 'camera_reconnects_total') >= 2, 20_000, 200);
    const gap = await metrics();
    assert.ok(metric(gap, 'camera_last_frame_timestamp_seconds') <= killedAt + 0.5, 'no frames while the server is down');
    const list = (await (await fetch(`${base}/cameras`)).json()) as { cameras: Array<{ state: string; lastError: { code: string } | null }> };
    assert.equal(list.cameras[0]!.state, 'reconnecting');
    assert.match(list.cameras[0]!.lastError!.code, /CAMERA_ERR_(STREAM_LOST|CONNECT)/);

    // Restart the server on the same port: frames resume, the last-frame timestamp moves on.
    sim = await startRtspSim({ port, width: 640, height: 360, fps: 10 });
    const restartedAt = Date.now() / 1000;
    await waitFor('frames after the server came back', async () => metric(await metrics(), 'camera_last_frame_timestamp_seconds') > restartedAt, 25_000, 200);
    const c = await metrics();
    await sleep(3000);
    const d = await metrics();
    const after = (metric(d, 'camera_frames_total') - metric(c, 'camera_frames_total')) / 3;
    assert.ok(after >= 3.5, `recovered rate ${after}/s`);
    // Exactly one ffmpeg for this camera (old ones were reaped), and none after stop.
    assert.equal(ffmpegFor(url).length, 1);
    await cam.stop();
    cam = undefined;
    await waitFor('ffmpeg gone after stop', () => ffmpegFor(url).length === 0, 5000);
  });
});
