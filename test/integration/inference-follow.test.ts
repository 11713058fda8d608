// Inference follows the camera controller's camera list while it runs (apps/inference/src/camera-follow.ts).
// Real parts: a camera controller on loopback with a synthetic camera and ONVIF adoption, the
// in-process onvif service, a simulated ONVIF camera (SOAP) in front of the GStreamer RTSP sim,
// ffmpeg decoding it, and a real inference app (the motion model; the adopted camera's frames
// through its frame ring) reading the controller's GET /cameras every 200 ms. Gates the test
// opens and shuts (503): between the controller and the onvif service (to hold a restarted
// controller in its "not complete yet" state), and on inference's GET /cameras (to delete and add
// a camera again between two reads of the list).
//
// A camera adopted at run time gets its loop (its inference_frames_total moves); the controller
// down for several list periods stops nothing; a restarted controller that has not had the
// service's list yet (complete: false, the discovered camera missing) stops nothing either; a
// camera deleted by hand stops its loop and its series leave /metrics (zones warning on), the
// other camera's loop untouched; added again, it starts fresh (and so does one deleted and added
// again between two reads of the list: its new ring has another token).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras, parseCamerasFile } from '../../apps/camera/src/config.ts';
import { loadConfig } from '../../apps/inference/src/config.ts';
import { buildInferenceApp, type InferenceApp } from '../../apps/inference/src/app.ts';
import { startService, type ServiceHarness } from '../helpers/onvif.ts';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { waitFor } from '../helpers/net.ts';

/** The value of `name{...labels...}` in a /metrics text (undefined: no such series). */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

/**
 * An HTTP gate in front of `base`: GETs pass, but those `held` names get a 503 while the gate is
 * shut; `partial`: GET /cameras answers as an onvif service that has just started and found nothing yet.
 */
async function startGate(base: string, held: (path: string) => boolean = () => true): Promise<{ url: string; open: boolean; partial: boolean; stop(): Promise<void> }> {
  const gate = { url: '', open: true, partial: false, stop: async () => {} };
  const srv: Server = createServer((req, res) => {
    const path = req.url!.split('?')[0]!;
    if (gate.partial && path === '/cameras') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"cameras":[],"partial":true}');
      return;
    }
    if ((!gate.open && held(path)) || req.method !== 'GET') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"TEST_GATE_SHUT","message":"shut by the test"}}');
      return;
    }
    fetch(`${base}${req.url}`, { signal: AbortSignal.timeout(5000) }).then(async (r) => {
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await r.arrayBuffer()));
    }, () => res.writeHead(502).end());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  gate.url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  gate.stop = () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); });
  return gate;
}

describe('inference follows the camera controller\'s list', () => {
  const dir = mkdtempSync(join(tmpdir(), `edgevisor-inf-follow-${process.pid}-`));
  let rtsp: RtspSim | undefined;
  let sim: SimCamera | undefined;
  let onvif: ServiceHarness | undefined;
  let gate: Awaited<ReturnType<typeof startGate>> | undefined;
  let listGate: Awaited<ReturnType<typeof startGate>> | undefined;
  let cams: CameraApp | undefined;
  let inf: InferenceApp | undefined;
  after(async () => {
    await inf?.close();
    await cams?.stop();
    await listGate?.stop();
    await gate?.stop();
    await onvif?.stop();
    await sim?.stop();
    await rtsp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an adopted camera gets a loop; the controller down or not complete stops nothing; a deleted camera stops its loop and loses its series, the other untouched; back, it starts fresh', async () => {
    rtsp = await startRtspSim({ fps: 5, width: 320, height: 180 });
    const secret = `Follow-${process.pid}-pw`;
    sim = await startSimCamera({ rtspUri: rtsp.url, password: secret });
    onvif = await startService();
    gate = await startGate(onvif.base);
    const { discovered } = parseCamerasFile({
      cameras: [{ id: 'yard', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }],
      discovered: { fps: 5, width: 320, height: 180, detect: { width: 320, height: 320 } },
    });
    const framesDir = join(dir, 'frames');
    const controller = () => buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'yard', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }] }),
      frames: { dir: framesDir, perRun: true },
      discovery: { onvifUrl: gate!.url, everyMs: 200, config: discovered!, log: () => {} },
    });
    cams = controller();
    await cams.start();
    await cams.app.listen({ port: 0, host: '127.0.0.1' });
    const camPort = (cams.app.server.address() as { port: number }).port;
    const camBase = `http://127.0.0.1:${camPort}`;

    // The camera the service will know: its id is known before the zones file is written.
    const added = await onvif.api<{ id: string; status: string }>('POST', '/cameras', { address: `127.0.0.1:${sim.port}`, username: 'admin', password: secret });
    assert.equal(added.body.status, 'ok');
    const x = added.body.id;
    // The controller adopted it at once (its poll runs every 200 ms): delete it by hand, so it
    // is "added at run time" below, after inference runs.
    await waitFor(`${x} adopted`, () => cams!.cameras.has(x), 10_000);
    cams.discovery!.children.remove(x, { role: 'technician', via: 'test' });
    await waitFor(`${x} gone`, () => !cams!.tree.child(x), 10_000);

    const zones = join(dir, 'zones.yaml');
    writeFileSync(zones, `cameras:\n  yard:\n    zones:\n      - id: gate\n        polygon: [[0, 0], [0.3, 0], [0.3, 1]]\n        rules: [{ class: motion, dwell: 1s }]\n  ${x}:\n    zones:\n      - id: lane\n        polygon: [[0.7, 0], [1, 0], [1, 1]]\n        rules: [{ class: motion, dwell: 1s }]\n`);
    const lines: string[] = [];
    listGate = await startGate(camBase, (path) => path === '/cameras');
    inf = await buildInferenceApp(loadConfig({ CAMERA_URL: listGate.url, DATA_DIR: join(dir, 'data'), ZONES_FILE: zones, PORT: '0', CAMERA_LIST_INTERVAL_MS: '200', FRAME_WAIT_MS: '500', FRAMES_DIR: framesDir }), { log: (l) => lines.push(l) });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    inf.startLoops();
    const infBase = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
    const metrics = async () => (await fetch(`${infBase}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const frames = async (camera: string) => series(await metrics(), 'inference_frames_total', `camera="${camera}"`) ?? 0;
    const lists = async (outcome: string) => series(await metrics(), 'inference_camera_lists_total', `outcome="${outcome}"`) ?? 0;
    const starts = (camera: string) => lines.filter((l) => l === `inference: camera ${camera}: listed by the camera controller: its frame loop starts`).length;
    const where = () => `loops ${JSON.stringify([...inf!.loops()])}; log:\n${lines.slice(-15).join('\n')}`;

    await waitFor(() => `yard's frames through the model (${where()})`, async () => (await frames('yard')) >= 3, 20_000, 100);

    // 1. Added at run time (by hand, through the controller's inner-tree route): it gets its loop.
    const post = await fetch(`${camBase}/v1/children`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parent: 'discovered', child: { id: x } }), signal: AbortSignal.timeout(5000) });
    assert.equal(post.status, 201, await post.text());
    await waitFor(() => `${x}'s frames through the model (${where()})`, async () => (await frames(x)) >= 3, 30_000, 100);
    assert.deepEqual([...inf.loops()].sort(), [[x, 'running'], ['yard', 'running']].sort());
    assert.match(await metrics(), /^inference_zones_unknown_cameras(\{[^}]*\})? 0$/m, 'both zones cameras are known');

    // 2. The controller down for several list periods: nothing stops.
    await cams.stop();
    let failed = await lists('failed');
    await waitFor('3 failed list reads', async () => (await lists('failed')) >= failed + 3, 10_000, 100);
    assert.deepEqual([...inf.loops()].sort(), [[x, 'running'], ['yard', 'running']].sort(), where());

    // 3. Restarted, without the onvif service's list yet (gate shut): it answers [yard], complete:
    //    false. Nothing stops; once it has the list again, x's frames flow through the same loop.
    gate.open = false;
    cams = controller();
    await cams.start();
    await cams.app.listen({ port: camPort, host: '127.0.0.1' });
    const incomplete = await lists('incomplete');
    await waitFor('3 incomplete list answers', async () => (await lists('incomplete')) >= incomplete + 3, 15_000, 100);
    const listed = (await (await fetch(`${camBase}/cameras`, { signal: AbortSignal.timeout(5000) })).json()) as { complete: boolean; cameras: { id: string }[] };
    assert.deepEqual([listed.complete, listed.cameras.map((c) => c.id)], [false, ['yard']]);
    assert.deepEqual([...inf.loops()].sort(), [[x, 'running'], ['yard', 'running']].sort(), where());
    // Then the service answers, but partial (it has just started too, its discovery run not
    // finished, no camera found yet): the controller's list stays incomplete.
    gate.partial = true;
    gate.open = true;
    const partial = cams.discovery!.stats().partial;
    await waitFor('3 partial lists from the service', () => cams!.discovery!.stats().partial >= partial + 3, 10_000, 50);
    const incomplete2 = await lists('incomplete');
    await waitFor('3 more incomplete list answers', async () => (await lists('incomplete')) >= incomplete2 + 3, 15_000, 100);
    assert.deepEqual([...inf.loops()].sort(), [[x, 'running'], ['yard', 'running']].sort(), where());
    const xBefore = await frames(x);
    gate.partial = false;
    await waitFor(() => `${x}'s frames again after the controller restart (${where()})`, async () => (await frames(x)) >= xBefore + 3, 30_000, 100);
    await waitFor(() => `yard's frames again (${where()})`, async () => (await frames('yard')) > 0 && (await lists('complete')) > 0, 10_000, 100);
    assert.deepEqual([starts('yard'), starts(x)], [1, 1], 'neither loop was stopped and started again');
    assert.ok(lines.some((l) => l.startsWith(`inference camera ${x}: raw 320x320 detect frames through the frame ring (`)), where());

    // 3b. Deleted and added again between two reads of the list (inference's GET /cameras held):
    //     its loop goes on, and starts the new stream clean (the new ring has the new runtime's token).
    listGate.open = false;
    const actor = { role: 'technician', via: 'test' } as const;
    cams.discovery!.children.remove(x, actor);
    await waitFor(`${x}'s worker gone`, () => !cams!.tree.child(x), 10_000);
    cams.discovery!.children.add('discovered', { id: x }, actor);
    // The loop's own GET /cameras (which path, which ring) is held too: open before it is needed.
    listGate.open = true;
    await waitFor(() => `${x}'s new ring taken as a new stream (${where()})`, () => lines.some((l) => l.startsWith(`inference camera ${x}: its frame ring is a new stream (after seq `)), 20_000, 50);
    const xNow = await frames(x);
    await waitFor(() => `${x}'s new frames (${where()})`, async () => (await frames(x)) >= xNow + 3, 20_000, 100);
    assert.equal(starts(x), 1, 'the same loop');

    // 4. Deleted by a technician: its loop stops and every series labelled with it leaves /metrics;
    //    yard's loop is untouched and keeps counting.
    const before = await frames(x);
    const del = await fetch(`${camBase}/v1/children/${encodeURIComponent(x)}`, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    assert.ok(del.ok, `DELETE: ${del.status} ${await del.text()}`);
    await waitFor(() => `${x}'s loop gone (${where()})`, () => !inf!.loops().has(x), 10_000, 50);
    const text = await metrics();
    assert.ok(!text.includes(`camera="${x}"`), `no series of ${x} left:\n${text.split('\n').filter((l) => l.includes(x)).join('\n')}`);
    assert.match(text, /^inference_zones_unknown_cameras(\{[^}]*\})? 1$/m, 'its zones are not watched now, and it says so');
    const health = (await (await fetch(`${infBase}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as { checks: Record<string, { warning?: string }> };
    assert.match(health.checks['zones']?.warning ?? '', new RegExp(`does not have: ${x} \\(known: yard\\)`));
    assert.ok(lines.includes(`inference: camera ${x}: frame loop stopped, its state and metric series removed`), where());
    const yardAt = await frames('yard');
    await waitFor('yard keeps counting', async () => (await frames('yard')) >= yardAt + 5, 10_000, 100);
    assert.equal(starts('yard'), 1, 'yard\'s loop was never restarted');
    assert.deepEqual([...inf.loops()], [['yard', 'running']]);

    // 5. Added again: a fresh loop, its counter from zero.
    const again = await fetch(`${camBase}/v1/children`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parent: 'discovered', child: { id: x } }), signal: AbortSignal.timeout(5000) });
    assert.equal(again.status, 201, await again.text());
    const first = await waitFor(() => `${x} back (${where()})`, async () => (await frames(x)) || undefined, 30_000, 50);
    assert.ok(first < before, `its counter began again (${first} after ${before} before it was deleted)`);
    assert.equal(starts(x), 2);
    await waitFor('zones all known again', async () => /^inference_zones_unknown_cameras(\{[^}]*\})? 0$/m.test(await metrics()), 10_000, 100);
    for (const l of lines) assert.ok(!l.includes(secret) && !l.includes('http://'), `no URL or password in a log line: ${l}`);
  });
});
