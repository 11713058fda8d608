// Raw detect frames (decode once): the camera makes, next to each JPEG, the same picture
// letterboxed into the detector's input as RGB24 and serves it as frame.rgb. Real ffmpeg against
// the GStreamer RTSP sim, real sharp for synthetic and MJPEG, real HTTP.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { startHttpCameraSim, type HttpCameraSim } from '../sim/http-camera.ts';
import { waitFor } from '../helpers/net.ts';

const DW = 320, DH = 320;

async function listen(cam: CameraApp): Promise<string> {
  await cam.start();
  await cam.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;
}

interface Pair { seq: number; rgb: Buffer; headers: Headers; jpeg: Buffer }

/** frame.rgb and frame.jpg of one and the same seq (retried until both calls see the same frame). */
async function samePair(base: string, id: string): Promise<Pair> {
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`${base}/cameras/${id}/frame.rgb`, { signal: AbortSignal.timeout(5000) });
    assert.equal(r.status, 200, await r.clone().text());
    const rgb = Buffer.from(await r.arrayBuffer());
    const j = await fetch(`${base}/cameras/${id}/frame.jpg`, { signal: AbortSignal.timeout(5000) });
    const jpeg = Buffer.from(await j.arrayBuffer());
    const seq = Number(r.headers.get('x-frame-seq'));
    if (Number(j.headers.get('x-frame-seq')) === seq) return { seq, rgb, headers: r.headers, jpeg };
  }
  throw new Error('never got frame.rgb and frame.jpg of the same seq');
}

/** Mean of each channel over rows y0..y1 (exclusive) of an RGB24 image `w` wide. */
function meanRgb(px: Uint8Array, w: number, y0: number, y1: number): [number, number, number] {
  const s = [0, 0, 0];
  for (let i = y0 * w * 3; i < y1 * w * 3; i += 3) { s[0]! += px[i]!; s[1]! += px[i + 1]!; s[2]! += px[i + 2]!; }
  const n = (y1 - y0) * w;
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

/** Centroid of bright pixels (luma > 128) of an RGB24 image, or null if there are none. */
function brightCentroid(px: Uint8Array, w: number, h: number): [number, number] | null {
  let sx = 0, sy = 0, n = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    if (0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]! > 128) { sx += x; sy += y; n++; }
  }
  return n ? [sx / n, sy / n] : null;
}

/** Asserts the letterbox headers and that the padding rows (top and bottom) are pure black. */
function checkLetterbox(p: Pair, frameW: number, frameH: number): { padY: number; picH: number } {
  const h = p.headers;
  assert.deepEqual(
    ['x-frame-format', 'x-detect-width', 'x-detect-height', 'x-frame-width', 'x-frame-height'].map((k) => h.get(k)),
    ['rgb24', String(DW), String(DH), String(frameW), String(frameH)],
  );
  assert.equal(p.rgb.length, DW * DH * 3, 'exactly W*H*3 bytes');
  const scale = Number(h.get('x-letterbox-scale'));
  const padY = Number(h.get('x-letterbox-pad-y'));
  const picH = Math.round(frameH * scale);
  assert.equal(Number(h.get('x-letterbox-pad-x')), 0);
  assert.equal(padY, Math.floor((DH - picH) / 2), 'picture centred');
  const top = p.rgb.subarray(0, padY * DW * 3);
  const bottom = p.rgb.subarray((padY + picH) * DW * 3);
  assert.ok(top.length > 0 && bottom.length > 0);
  assert.ok(top.every((b) => b === 0) && bottom.every((b) => b === 0), 'padding rows are black');
  return { padY, picH };
}

describe('raw detect frames', () => {
  let sim: RtspSim | undefined;
  const sims: HttpCameraSim[] = [];
  const apps: CameraApp[] = [];
  after(async () => {
    for (const a of apps) await a.stop();
    await sim?.stop();
    await Promise.all(sims.map((s) => s.close()));
  });

  test('rtsp: one ffmpeg, two outputs; raw frames are the JPEG picture letterboxed; long-poll, 404 without detect, /cameras', async () => {
    sim = await startRtspSim({ width: 640, height: 360, fps: 10 });
    const cam = buildCameraApp({ cameras: parseCameras({ cameras: [
      { id: 'door', source: { rtsp: { url: sim.url } }, fps: 5, width: 640, height: 360, detect: { width: DW, height: DH } },
      { id: 'plain', source: { synthetic: {} }, fps: 5, width: 320, height: 180 },
    ] }) });
    apps.push(cam);
    const base = await listen(cam);
    await waitFor('first raw RTSP frame', async () => (await fetch(`${base}/cameras/door/frame.rgb`)).status === 200, 20_000);

    const p = await samePair(base, 'door');
    const { padY, picH } = checkLetterbox(p, 640, 360);
    // Same picture: the JPEG scaled to the picture size has the same colours and the ball (the
    // sim's one bright thing, moving every frame) in the same place, so the two are one frame.
    const ref = await sharp(p.jpeg).resize(DW, picH, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const pic = p.rgb.subarray(padY * DW * 3, (padY + picH) * DW * 3);
    const [a, b] = [meanRgb(pic, DW, 0, picH), meanRgb(ref, DW, 0, picH)];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(a[c]! - b[c]!) < 4, `channel ${c}: raw mean ${a[c]} vs JPEG ${b[c]}`);
    const [ca, cb] = [brightCentroid(pic, DW, picH), brightCentroid(ref, DW, picH)];
    assert.ok(ca && cb, 'the ball is visible in both');
    assert.ok(Math.hypot(ca[0] - cb[0], ca[1] - cb[1]) < 3, `ball at ${ca} in raw, ${cb} in JPEG`);

    // Long-poll: the next raw frame after this seq, same semantics as frame.jpg.
    const t0 = Date.now();
    const next = await fetch(`${base}/cameras/door/frame.rgb?after=${p.seq}&wait=5000`, { signal: AbortSignal.timeout(8000) });
    assert.equal(next.status, 200);
    assert.ok(Number(next.headers.get('x-frame-seq')) > p.seq);
    assert.ok(Date.now() - t0 < 3000, 'the next frame came within a few intervals');
    assert.equal((await next.arrayBuffer()).byteLength, DW * DH * 3);
    const far = Number(next.headers.get('x-frame-seq')) + 1000;
    const none = await fetch(`${base}/cameras/door/frame.rgb?after=${far}&wait=0`);
    assert.equal(none.status, 204);
    const bad = await fetch(`${base}/cameras/door/frame.rgb?wait=soon`);
    assert.equal(bad.status, 400);

    const off = await fetch(`${base}/cameras/plain/frame.rgb`);
    assert.equal(off.status, 404);
    const err = ((await off.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'CAMERA_ERR_NO_DETECT');
    assert.match(err.message, /detect: \{ width, height \}/);
    assert.equal((await fetch(`${base}/cameras/nope/frame.rgb`)).status, 404);

    const list = (await (await fetch(`${base}/cameras`)).json()) as { cameras: Array<{ id: string; detect: unknown }> };
    assert.deepEqual(list.cameras.map((c) => [c.id, c.detect]), [['door', { width: DW, height: DH, format: 'rgb24' }], ['plain', null]]);
    // One decode: exactly one ffmpeg process for this camera.
    const ffmpeg = execFileSync('pgrep', ['-f', `ffmpeg.*${sim.url}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    assert.equal(ffmpeg.length, 1);
  });

  test('synthetic and mjpeg with detect: the raw frame is the JPEG picture, padding black', async () => {
    const mj = await startHttpCameraSim({ fps: 10 });
    sims.push(mj);
    const cam = buildCameraApp({ cameras: parseCameras({ cameras: [
      { id: 'syn', source: { synthetic: {} }, fps: 5, width: 640, height: 480, detect: { width: DW, height: DH } },
      { id: 'mj', source: { mjpeg: { url: `${mj.baseUrl}/mjpeg` } }, fps: 10, width: 320, height: 180, detect: { width: DW, height: DH } },
    ] }) });
    apps.push(cam);
    const base = await listen(cam);
    for (const id of ['syn', 'mj']) await waitFor(`${id} raw frame`, async () => (await fetch(`${base}/cameras/${id}/frame.rgb`)).status === 200, 10_000);

    const syn = await samePair(base, 'syn');
    // 640x480 -> 320x240, padded by 40 rows above and below.
    const { padY, picH } = checkLetterbox(syn, 640, 480);
    assert.deepEqual([padY, picH], [40, 240]);
    const ref = await sharp(syn.jpeg).resize(DW, picH, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const pic = syn.rgb.subarray(padY * DW * 3, (padY + picH) * DW * 3);
    const [a, b] = [meanRgb(pic, DW, 0, picH), meanRgb(ref, DW, 0, picH)];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(a[c]! - b[c]!) < 4, `synthetic channel ${c}: raw ${a[c]} vs JPEG ${b[c]}`);

    // The MJPEG sim serves solid red, green, blue frames: the raw picture has the JPEG's colour.
    const m = await samePair(base, 'mj');
    const lb = checkLetterbox(m, 320, 180);
    const rawMean = meanRgb(m.rgb, DW, lb.padY, lb.padY + lb.picH);
    const jpegMean = meanRgb(await sharp(m.jpeg).removeAlpha().raw().toBuffer(), 320, 0, 180);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(rawMean[c]! - jpegMean[c]!) < 4, `mjpeg channel ${c}: raw ${rawMean[c]} vs JPEG ${jpegMean[c]}`);
    const dominant = (x: number[]) => x.indexOf(Math.max(...x));
    assert.equal(dominant(rawMean), dominant(jpegMean));
  });
});
