/**
 * End to end on real footage: the GStreamer RTSP simulator plays vtest.avi as a camera would
 * stream it (H.264 over RTSP), the camera controller decodes it with ffmpeg into JPEGs and raw
 * 416x416 detect frames (frame.rgb: this controller names no ring), the inference app runs the motion-gated person detector and
 * raises person-in-zone events whose snapshots show the person inside the drawn box.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildCameraApp } from '../../apps/camera/src/app.ts';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadCameras, parseCameras } from '../../apps/camera/src/config.ts';
import { buildInferenceApp } from '../../apps/inference/src/app.ts';
import { NANODET_MODEL, loadConfig } from '../../apps/inference/src/config.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import { pointInPolygon } from '../../apps/inference/src/zones/dwell.ts';
import { startRtspSim } from '../sim/rtsp-server.ts';
import { waitFor } from '../helpers/net.ts';
import { iou4, requireVtest } from '../helpers/vtest.ts';

const stops: (() => Promise<void>)[] = [];
after(async () => { for (const s of stops.reverse()) await s().catch(() => {}); });

const WALKWAY: [number, number][] = [[0.55, 0.35], [1, 0.35], [1, 0.75], [0.55, 0.75]];
const metric = (text: string, name: string, labels: string) => Number(text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))?.split(' ').at(-1) ?? NaN);

describe('RTSP camera playing vtest.avi -> camera controller -> person detector -> zone events', () => {
  test('person-in-zone events with snapshots that contain the person\'s box; detect and motion rates per camera', async () => {
    const sim = await startRtspSim({ width: 768, height: 576, fps: 10, file: requireVtest() });
    stops.push(() => sim.stop());
    const cam = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'yard', source: { rtsp: { url: sim.url } }, fps: 5, width: 768, height: 576, detect: { width: 416, height: 416 } }] }) });
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    await cam.start();
    stops.push(() => cam.stop());
    const cameraUrl = `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`;

    const dir = mkdtempSync(join(tmpdir(), 'detector-rtsp-'));
    // The right part of the road: people cross it within the clip's first seconds.
    writeFileSync(join(dir, 'zones.yaml'), `cameras:
  yard:
    zones:
      - id: walkway
        polygon: ${JSON.stringify(WALKWAY)}
        rules: [{ class: person, dwell: 1s, min_score: 0.45, exit_grace: 2s }]
`);
    const cfg = loadConfig({ CAMERA_URL: cameraUrl, DATA_DIR: dir, ZONES_FILE: join(dir, 'zones.yaml'), PORT: '0', MODEL: NANODET_MODEL, SCORE_THRESHOLD: '0.4', CLASSES: 'person', ORT_THREADS: '2' });
    const logs: string[] = [];
    const inf = await buildInferenceApp(cfg, { log: (l) => logs.push(l) });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => inf.close());
    inf.startLoops();
    const base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;

    await waitFor('a person-in-zone event', () => inf.store.since(0, 10).length >= 1, 90_000, 250);
    assert.ok(logs.some((l) => /yard: raw 416x416 detect frames/.test(l)), logs.join('\n'));
    const [ev] = inf.store.since(0, 10);
    assert.equal(ev!.cls, 'person');
    assert.equal(ev!.zone, 'walkway');
    assert.ok(ev!.boxes.length >= 1);

    // The snapshot: the full 768x576 frame (or its 416x312 detect picture), with the box drawn in
    // red, and a person inside it (the detector run again on the snapshot finds them there).
    const snap = readFileSync(join(dir, 'snapshots', ev!.snapshot!));
    const { data, info } = await sharp(snap).raw().toBuffer({ resolveWithObject: true });
    assert.ok([768, 416].includes(info.width), `snapshot ${info.width}x${info.height}`);
    const box = ev!.boxes[0]!;
    const at = (x: number, y: number) => {
      const i = (Math.round(y * (info.height - 1)) * info.width + Math.round(x * (info.width - 1))) * info.channels;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    const [r, g, b] = at((box.x1 + box.x2) / 2, box.y1);
    assert.ok(r > 180 && g < 120 && b < 120, `the box's top edge is drawn red in the snapshot (got ${r},${g},${b})`);
    // The zone is filled translucent yellow (25 %, apps/inference/src/events/draw.ts), which lowers
    // the scores of the people inside it: take the tint out again before looking for them.
    const untinted = Buffer.from(data);
    const tint = [255, 213, 0];
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        if (!pointInPolygon([(x + 0.5) / info.width, (y + 0.5) / info.height], WALKWAY)) continue;
        const i = (y * info.width + x) * info.channels;
        for (let c = 0; c < 3; c++) untinted[i + c] = Math.max(0, Math.min(255, Math.round((data[i + c]! - 0.25 * tint[c]!) / 0.75)));
      }
    }
    const plain = await sharp(untinted, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: 90 }).toBuffer();
    const check = await loadDetector({ path: NANODET_MODEL, threads: 2, scoreThreshold: 0.25, classes: ['person'] });
    const again = (await check.detect('snap', plain)).detections;
    await check.close();
    // (The drawn red frames cost the people some score too: 0.25 here, and any of the event's boxes.)
    const best = Math.max(0, ...again.flatMap((d) => ev!.boxes.map((b) => iou4([d.x1, d.y1, d.x2, d.y2], [b.x1, b.y1, b.x2, b.y2]))));
    assert.ok(best >= 0.5, `a person in the snapshot where one of the event's boxes is (best IoU ${best.toFixed(2)})`);

    // Both rates per camera, as the dashboard reads them.
    const scrape = async () => (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    const m = await waitFor('10 frames through the motion model', async () => { const t = await scrape(); return metric(t, 'inference_motion_frames_total', 'camera="yard"') >= 10 ? t : undefined; }, 30_000, 250);
    assert.ok(metric(m, 'inference_detect_frames_total', 'camera="yard"') >= 5, 'detector on frames with motion');
    for (const g of ['inference_detect_fps', 'inference_motion_fps', 'inference_skipped_fps']) assert.ok(Number.isFinite(metric(m, g, 'camera="yard"')), `${g} for camera yard`);
    assert.equal(metric(m, 'inference_frame_errors_total', 'camera="yard"') || 0, 0);
  });
});

describe('the shipped default (deploy/embedded: npm start; the same files in the compose image)', () => {
  test('its cameras (vtest.avi) and zones with the tree\'s detector settings raise person events within a minute', async () => {
    requireVtest();
    const root = new URL('../../', import.meta.url);
    const tree = parseYaml(readFileSync(new URL('deploy/embedded.tree.yaml', root), 'utf8')) as { children: { id: string; children?: { id: string; process?: { env?: Record<string, string> } }[] }[] };
    const env = tree.children.find((c) => c.id === 'pipeline')!.children!.find((c) => c.id === 'inference')!.process!.env!;
    assert.equal(env.MODEL, 'models/nanodet.onnx', 'npm start runs the person detector');
    const cameras = await loadCameras(fileURLToPath(new URL('deploy/embedded/cameras.yaml', root)));
    const cam = buildCameraApp({ cameras });
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    await cam.start();
    stops.push(() => cam.stop());
    const dir = mkdtempSync(join(tmpdir(), 'detector-default-'));
    const cfg = loadConfig({
      CAMERA_URL: `http://127.0.0.1:${(cam.app.server.address() as { port: number }).port}`, DATA_DIR: dir, PORT: '0',
      ZONES_FILE: fileURLToPath(new URL(env.ZONES_FILE!, root)), MODEL: fileURLToPath(new URL(env.MODEL!, root)),
      SCORE_THRESHOLD: env.SCORE_THRESHOLD!, CLASSES: env.CLASSES!,
    });
    const inf = await buildInferenceApp(cfg, { log: () => {} });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => inf.close());
    const t0 = Date.now();
    inf.startLoops();
    await waitFor('a person event in a demo zone', () => inf.store.since(0, 10).find((e) => e.cls === 'person'), 60_000, 250);
    const ev = inf.store.since(0, 10).find((e) => e.cls === 'person')!;
    assert.ok(['forklift-lane', 'press-guard'].includes(ev.zone), ev.zone);
    assert.ok(Date.now() - t0 < 60_000);
  });
});
