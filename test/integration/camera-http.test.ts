import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { startHttpCameraSim, type HttpCameraSim } from '../sim/http-camera.ts';
import { waitFor } from '../helpers/net.ts';

const metric = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line ? Number(line.split(' ').pop()) : NaN;
};

async function listen(cam: CameraApp): Promise<string> {
  await cam.start();
  await cam.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;
}

describe('HTTP camera sources with auth', () => {
  const sims: HttpCameraSim[] = [];
  let cam: CameraApp | undefined;
  after(async () => { await cam?.stop(); await Promise.all(sims.map((s) => s.close())); });

  test('mjpeg (digest) and snapshot (basic) deliver frames; a wrong password is a clear error and a metric', async () => {
    const digest = await startHttpCameraSim({ auth: 'digest', fps: 10 });
    const basic = await startHttpCameraSim({ auth: 'basic' });
    const wrong = await startHttpCameraSim({ auth: 'digest' });
    sims.push(digest, basic, wrong);
    cam = buildCameraApp({ cameras: parseCameras({ cameras: [
      { id: 'mj', source: { mjpeg: { url: `${digest.baseUrl}/mjpeg`, username: 'admin', password: 'secret' } }, fps: 5 },
      { id: 'snap', source: { snapshot: { url: `${basic.baseUrl}/snapshot.jpg`, username: 'admin', password: 'secret' } }, fps: 4 },
      { id: 'bad', source: { snapshot: { url: `${wrong.baseUrl}/snapshot.jpg`, username: 'admin', password: 'WRONG' } }, fps: 4 },
    ] }) });
    const base = await listen(cam);

    // Frames arrive and are real JPEGs.
    for (const id of ['mj', 'snap']) {
      const r = await waitFor(`frame from ${id}`, async () => { const r = await fetch(`${base}/cameras/${id}/frame.jpg`); return r.status === 200 ? r : undefined; }, 15_000);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(body[0], 0xff); assert.equal(body[1], 0xd8);
    }
    // Rate: the mjpeg camera sends 10/s, thinned to the target 5/s; snapshot polled at 4/s.
    const m0 = await (await fetch(`${base}/metrics`)).text();
    await new Promise((r) => setTimeout(r, 3000));
    const m1 = await (await fetch(`${base}/metrics`)).text();
    const mjRate = (metric(m1, 'camera_frames_total', 'camera="mj"') - metric(m0, 'camera_frames_total', 'camera="mj"')) / 3;
    const snapRate = (metric(m1, 'camera_frames_total', 'camera="snap"') - metric(m0, 'camera_frames_total', 'camera="snap"')) / 3;
    assert.ok(mjRate >= 3 && mjRate <= 6, `mjpeg rate ${mjRate}/s, expected about 5`);
    assert.ok(snapRate >= 2.5 && snapRate <= 5, `snapshot rate ${snapRate}/s, expected about 4`);

    // Wrong password: no frame (503 with the code), the error names camera, URL and cause, metric counts it.
    const r = await fetch(`${base}/cameras/bad/frame.jpg`);
    assert.equal(r.status, 503);
    const err = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'CAMERA_ERR_NO_FRAME');
    const list = (await (await fetch(`${base}/cameras`)).json()) as { cameras: Array<{ id: string; state: string; lastError: { code: string; message: string } | null }> };
    const bad = list.cameras.find((c) => c.id === 'bad')!;
    assert.equal(bad.state, 'reconnecting');
    assert.equal(bad.lastError?.code, 'CAMERA_ERR_AUTH');
    assert.match(bad.lastError!.message, /camera bad: .*snapshot\.jpg rejected the username\/password/);
    assert.ok(metric(m1, 'camera_source_errors_total', 'camera="bad",code="CAMERA_ERR_AUTH"') >= 1);
    assert.ok(wrong.authFailures() >= 1);
    // Unknown camera.
    assert.equal((await fetch(`${base}/cameras/nope/frame.jpg`)).status, 404);
  });
});
