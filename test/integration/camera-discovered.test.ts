// A camera the onvif service learns of at run time gets its worker in the running camera
// controller (apps/camera/src/discovered.ts: a simple_one_for_one `discovered` supervisor and
// tree.addChild), with no restart of the controller or of its other cameras. Real parts: the
// in-process onvif service, a simulated ONVIF camera speaking SOAP (test/sim/onvif-camera.ts) in
// front of the GStreamer RTSP sim, ffmpeg decoding the stream. Issue 15: the cameras file's
// `discovered:` section gives them their settings and says which are adopted, and a camera the
// service no longer lists loses its worker after forget_after_polls polls, never while the
// service is down. Merged with the inner-tree add/delete (main): a camera added or deleted by hand
// through the `children` hook gets the same settings and is forgotten the same way.
import { after, describe, test } from 'node:test';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras, parseCamerasFile } from '../../apps/camera/src/config.ts';
import { DISCOVERED } from '../../apps/camera/src/discovered.ts';
import { ringPath } from '../../apps/camera/src/frame-ring.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { startService, type ServiceHarness } from '../helpers/onvif.ts';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { startRtspSim, type RtspSim } from '../sim/rtsp-server.ts';
import { waitFor } from '../helpers/net.ts';

describe('camera controller: cameras found by the onvif service', () => {
  let rtsp: RtspSim | undefined;
  let cam: SimCamera | undefined;
  let onvif: ServiceHarness | undefined;
  let app: CameraApp | undefined;
  const more: { stop(): Promise<void> }[] = [];
  after(async () => {
    await app?.stop();
    for (const x of more.reverse()) await x.stop();
    await onvif?.stop();
    await cam?.stop();
    await rtsp?.stop();
  });

  test('a new ONVIF camera gets a worker streaming its frames; the running controller and its other camera are untouched', async () => {
    rtsp = await startRtspSim({ fps: 10, width: 640, height: 360 });
    const secret = `Disc-${process.pid}-pw`;
    cam = await startSimCamera({ rtspUri: rtsp.url, password: secret });
    onvif = await startService();
    const logs: string[] = [];
    app = buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'yard', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }] }),
      discovery: { onvifUrl: onvif.base, everyMs: 200, log: (l) => logs.push(l) },
    });
    const events: TreeEvent[] = [];
    app.tree.onEvent((e) => events.push(e));
    await app.start();
    await waitFor('yard streaming', () => (app!.cameras.get('yard')?.frames.latest()?.seq ?? 0) > 0, 20_000);
    assert.deepEqual(app.tree.child(DISCOVERED)?.children, [], 'no camera known yet');

    const added = await onvif.api<{ id: string; status: string }>('POST', '/cameras', { address: `127.0.0.1:${cam.port}`, username: 'admin', password: secret });
    assert.equal(added.body.status, 'ok');
    const id = added.body.id;
    await waitFor(`a worker for ${id}`, () => app!.tree.child(id)?.state === 'running', 10_000);
    await waitFor(`frames of ${id}`, () => (app!.cameras.get(id)?.frames.latest()?.seq ?? 0) > 3, 30_000);
    const node = app.tree.child(id)!;
    assert.equal(node.parent, DISCOVERED);
    assert.equal(node.dynamic, true);
    assert.equal(app.cameras.get(id)?.config.source.kind, 'onvif');

    assert.equal(app.cameras.get('yard')?.runs, 1, 'the other camera was not restarted');
    assert.equal(events.filter((e) => e.type === 'transition' && e.child === 'camera-controller').length, 2, 'the controller tree started once (starting, running) and never again');
    const add = events.filter((e) => e.type === 'manual' && e.data?.['action'] === 'add');
    assert.deepEqual(add.map((e) => e.data?.['added']), [id], 'one worker, added once, however many polls ran');
    assert.equal(add[0]?.data?.['via'], 'discovery');
    assert.ok(!JSON.stringify(events).includes(secret), 'no password in the tree events');

    // A technician deletes the worker through the tree: it stays deleted while the service lists the camera.
    app.tree.removeChild(id, { role: 'technician', via: 'test' });
    await waitFor(`${id} deleted`, () => !app!.tree.child(id), 10_000);
    const polls = app.discovery!.stats().listed;
    await waitFor('3 more polls', () => app!.discovery!.stats().listed >= polls + 3, 10_000);
    assert.deepEqual([!!app.tree.child(id), app.cameras.has(id)], [false, false], 'not adopted again, gone from /cameras');
    assert.ok(logs.includes(`camera ${id}: its worker was deleted through the tree: not adopted again by the poll until it is added by hand`), logs.join('\n'));
  });

  test('discovered: settings reach each adopted camera; deny keeps one out; a camera deleted from the service loses its worker after N polls, the other untouched; the service down removes nothing', async () => {
    // Its own RTSP sim: nothing of the first test's stream (its deleted worker's client) is in the way.
    const stream = await startRtspSim({ fps: 10, width: 640, height: 360 });
    more.push(stream);
    const secret = `Disc2-${process.pid}-pw`;
    const sims = await Promise.all(['SimVision', 'SimVision', 'OtherCo'].map((manufacturer) => startSimCamera({ rtspUri: stream.url, password: secret, manufacturer })));
    more.push(...sims);
    // Its own service, so the first test's controller adopts none of these.
    const svc = await startService();
    let svcStopped = false;
    more.push({ stop: async () => { if (!svcStopped) await svc.stop(); } });
    const ids: string[] = [];
    for (const sim of sims) {
      const r = await svc.api<{ id: string; status: string }>('POST', '/cameras', { address: `127.0.0.1:${sim.port}`, username: 'admin', password: secret });
      assert.equal(r.body.status, 'ok');
      ids.push(r.body.id);
    }
    const [gone, stays, denied] = ids as [string, string, string];
    const N = 3;
    const { discovered: config } = parseCamerasFile({
      cameras: [{ id: 'yard2', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }],
      discovered: { fps: 4, width: 320, height: 180, detect: { width: 96, height: 96 }, heartbeat_timeout_ms: 12_000, profile: 'sub', deny: { manufacturers: ['otherco'] }, forget_after_polls: N },
    });
    const logs: string[] = [];
    const framesDir = mkdtempSync(join(tmpdir(), `edgevisor-disc-frames-${process.pid}-`));
    const cams = buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'yard2', source: { synthetic: {} }, fps: 5, width: 160, height: 90 }] }),
      frames: { dir: framesDir, perRun: true },
      discovery: { onvifUrl: svc.base, everyMs: 150, config: config!, log: (l) => logs.push(l) },
    });
    more.push(cams);
    await cams.start();
    await cams.app.listen({ port: 0, host: '127.0.0.1' });
    const camerasOf = async () => {
      const r = await fetch(`http://127.0.0.1:${(cams.app.server.address() as { port: number }).port}/cameras`, { signal: AbortSignal.timeout(5000) });
      return ((await r.json()) as { cameras: { id: string; targetFps: number; width: number; height: number; detect: unknown; discovered: boolean; state: string; worker: { since: string; restarts: number } | null }[] }).cameras;
    };
    const seq = (id: string) => cams.cameras.get(id)?.frames.latest()?.seq ?? 0;
    // On a timeout the message says where each camera stood: its worker, its last error, the poll's log.
    const where = () => `both SimVision cameras stream: ${JSON.stringify([gone, stays].map((id) => {
      const n = cams.tree.child(id);
      const c = cams.cameras.get(id);
      return { id, worker: n && { state: n.state, workerState: n.workerState, restarts: n.restarts, lastReason: n.lastReason, lastRestartReason: n.lastRestartReason }, frames: seq(id), lastError: c?.lastError };
    }))}; polls ${JSON.stringify(cams.discovery!.stats())}; log: ${logs.slice(-12).join(' | ')}`;
    await waitFor(where, () => seq(gone) > 2 && seq(stays) > 2, 40_000);

    // 1. The discovered: settings, as GET /cameras of the camera app shows them.
    const listed = await camerasOf();
    assert.deepEqual(listed.map((c) => c.id).sort(), ['yard2', gone, stays].sort(), `the OtherCo camera is denied: ${logs.join('\n')}`);
    for (const id of [gone, stays]) {
      const c = listed.find((x) => x.id === id)!;
      assert.deepEqual([c.targetFps, c.width, c.height, c.detect, c.discovered], [4, 320, 180, { width: 96, height: 96, format: 'rgb24' }, true]);
      const src = cams.cameras.get(id)!.config.source;
      assert.deepEqual(src.kind === 'onvif' && [src.device, src.profile], [id, 'sub']);
      assert.equal(cams.cameras.get(id)!.config.heartbeatTimeoutMs, 12_000);
    }
    assert.equal(listed.find((c) => c.id === 'yard2')!.discovered, false);
    assert.ok(logs.some((l) => l === `camera ${denied}: discovered, not adopted: its manufacturer (OtherCo) is in discovered.deny`), logs.join('\n'));
    assert.equal(logs.filter((l) => l.startsWith(`camera ${denied}:`)).length, 1, 'said once, not every poll');

    // 2. Deleted from the service: gone after N polls without it; the other camera untouched.
    const before = { ...cams.tree.child(stays)!, runs: cams.cameras.get(stays)!.runs };
    const polled = cams.discovery!.stats().listed;
    assert.ok(existsSync(ringPath(framesDir, gone)), 'a detect camera writes its frame ring');
    assert.equal((await svc.api('DELETE', `/cameras/${gone}`)).status, 204);
    await waitFor(`${gone}'s worker removed`, () => !cams.tree.child(gone) && !cams.cameras.has(gone), 20_000);
    await waitFor(`${gone}'s frame ring deleted`, () => !existsSync(ringPath(framesDir, gone)), 5_000);
    assert.ok(existsSync(ringPath(framesDir, stays)), 'the other camera\'s ring stays');
    // Its series went with it (no frozen timestamp for a staleness alert, no frozen counter); the other camera's stay.
    const metrics = await (await fetch(`http://127.0.0.1:${(cams.app.server.address() as { port: number }).port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const series = (name: string, id: string) => new RegExp(`^${name}\\{camera="${id}"[,}]`, 'm').test(metrics);
    const names = ['camera_last_frame_timestamp_seconds', 'camera_frames_total'];
    assert.deepEqual([names.map((n) => series(n, gone)), names.map((n) => series(n, stays))], [[false, false], [true, true]], metrics);
    assert.ok(cams.discovery!.stats().listed - polled >= N, `removed after ${N} lists without it, not before`);
    const about = logs.filter((l) => l.startsWith(`camera ${gone}: missing`));
    assert.deepEqual(about.map((l) => /\((\d) of 3 polls/.exec(l)?.[1] ?? 'removed'), ['1', '2', 'removed'], about.join('\n'));
    assert.match(about[2]!, /3 poll\(s\) in a row \(deleted or expired there\): its worker is removed$/);
    assert.deepEqual((await camerasOf()).map((c) => c.id).sort(), ['yard2', stays].sort());
    const after1 = cams.tree.child(stays)!;
    assert.deepEqual([after1.since, after1.restarts, after1.state, cams.cameras.get(stays)!.runs], [before.since, before.restarts, 'running', before.runs], 'the other camera kept its worker run');
    const s1 = seq(stays);
    await waitFor(`${stays} still streams`, () => seq(stays) > s1 + 2, 20_000);

    // 3. The service down: polls fail, nothing is removed however many there are.
    svcStopped = true;
    await svc.stop();
    const failed = cams.discovery!.stats().failed;
    await waitFor(`${N + 2} polls without the service`, () => cams.discovery!.stats().failed >= failed + N + 2, 20_000);
    const after2 = cams.tree.child(stays);
    assert.deepEqual([after2?.since, after2?.restarts, cams.cameras.has(stays), cams.discovery!.missing().get(stays)], [before.since, before.restarts, true, 0], 'kept, and not counted as missing');
    assert.ok(logs.some((l) => /^camera: onvif service unreachable: .*discovered workers kept as they are$/.test(l)), logs.join('\n'));
    assert.ok(!logs.some((l) => l.includes(svc.base) || l.includes(secret)), 'no service URL or password in the log');

    // 4. Deleted by hand (the inner routes' children hook): forgotten at once, its ring gone once its worker stopped.
    assert.ok(existsSync(ringPath(framesDir, stays)));
    cams.discovery!.children.remove(stays, { role: 'technician', via: 'test' });
    assert.deepEqual([cams.cameras.has(stays), cams.discovery!.missing().has(stays)], [false, false]);
    await waitFor(`${stays}'s worker gone and its frame ring deleted`, () => !cams.tree.child(stays) && !existsSync(ringPath(framesDir, stays)), 10_000);
    // Added by hand: the same discovered: settings as when the poll adopted it.
    cams.discovery!.children.add(DISCOVERED, { id: stays }, { role: 'technician', via: 'test' });
    const again = cams.cameras.get(stays)!.config;
    assert.deepEqual([again.fps, again.width, again.height, again.detect, again.heartbeatTimeoutMs, again.source.kind === 'onvif' && again.source.profile], [4, 320, 180, { width: 96, height: 96 }, 12_000, 'sub']);
  });

  test('a controller with no configured camera: an onvif service answering errors or a body that is not a camera list is a failed poll, nothing removed, no count kept', async () => {
    // A service that misbehaves on purpose: a real HTTP peer on loopback whose GET /cameras the test sets.
    let answer: { status: number; body: string } = { status: 200, body: JSON.stringify({ cameras: [{ id: 'cam-x', status: 'ok', device: { manufacturer: 'SimVision' } }] }) };
    let served = 0;
    const svc = createServer((req, res) => {
      if (req.url === '/cameras') served++;
      const a = req.url === '/cameras' ? answer : { status: 503, body: '{"error":{"code":"ONVIF_ERR_NOT_READY"}}' };
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
    await new Promise<void>((r) => svc.listen(0, '127.0.0.1', r));
    more.push({ stop: () => new Promise<void>((r) => { svc.closeAllConnections(); svc.close(() => r()); }) });
    const base = `http://127.0.0.1:${(svc.address() as { port: number }).port}`;
    const logs: string[] = [];
    // A controller with no configured camera: every camera it has comes from the service.
    const file = parseCamerasFile({ cameras: [], discovered: { forget_after_polls: 2 } });
    const cams = buildCameraApp({
      cameras: file.cameras,
      discovery: { onvifUrl: base, everyMs: 50, config: file.discovered!, log: (l) => logs.push(l) },
    });
    more.push(cams);
    await cams.start();
    assert.deepEqual(cams.tree.snapshot().nodes.map((n) => n.id), ['camera-controller', DISCOVERED]);
    await waitFor('cam-x adopted', () => cams.tree.child('cam-x'), 10_000);
    const polls = () => cams.discovery!.stats();
    for (const bad of [{ status: 503, body: '{"error":{"code":"X"}}' }, { status: 200, body: '{}' }, { status: 200, body: 'not json' }, { status: 200, body: '{"cameras":{"cam-x":{}}}' }]) {
      answer = bad;
      const failed = polls().failed;
      await waitFor(`3 polls answered ${bad.status} ${bad.body}`, () => polls().failed >= failed + 3, 10_000);
      assert.ok(cams.tree.child('cam-x') && cams.cameras.has('cam-x'), `kept through ${bad.body}`);
      assert.equal(cams.discovery!.missing().get('cam-x'), 0);
    }
    assert.ok(logs.some((l) => /^camera: onvif service answered GET \/cameras with HTTP 503; discovered workers kept as they are$/.test(l)), logs.join('\n'));
    assert.ok(logs.includes('camera: onvif service gave no camera list: GET /cameras: expected { cameras: [...] }; discovered workers kept as they are'), logs.join('\n'));
    // A real list without it, twice (forget_after_polls: 2): removed.
    answer = { status: 200, body: '{"cameras":[]}' };
    await waitFor('cam-x removed', () => !cams.tree.child('cam-x') && !cams.cameras.has('cam-x'), 10_000);
    assert.ok(served > 10);
    assert.deepEqual(logs.filter((l) => l.startsWith('camera cam-x: missing')).map((l) => /\((\d) of 2/.exec(l)?.[1] ?? 'removed'), ['1', 'removed']);
  });

  test('by hand (the inner routes\' children hook): an added camera gets the discovered: settings and is never removed by absence; a deleted one is forgotten, not adopted again, and leaves no miss count', async () => {
    let listing: string[] = ['cam-x'];
    let served = 0;
    const svc = createServer((req, res) => {
      if (req.url === '/cameras') served++;
      const ok = req.url === '/cameras';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ cameras: listing.map((id) => ({ id, status: 'ok', device: { manufacturer: 'SimVision' } })) }) : '{"error":{"code":"X"}}');
    });
    await new Promise<void>((r) => svc.listen(0, '127.0.0.1', r));
    more.push({ stop: () => new Promise<void>((r) => { svc.closeAllConnections(); svc.close(() => r()); }) });
    const base = `http://127.0.0.1:${(svc.address() as { port: number }).port}`;
    const logs: string[] = [];
    const config = parseCamerasFile({ cameras: [{ id: 'a', source: { synthetic: {} } }], discovered: { fps: 3, width: 176, height: 144, forget_after_polls: 2 } }).discovered!;
    const cams = buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'yard4', source: { synthetic: {} }, fps: 2, width: 160, height: 90 }] }),
      discovery: { onvifUrl: base, everyMs: 50, config, log: (l) => logs.push(l) },
    });
    more.push(cams);
    await cams.start();
    const d = cams.discovery!;
    const hand = { role: 'technician', via: 'test' } as const;
    const polls = async (n: number) => { const at = served; await waitFor(`${n} more polls`, () => served >= at + n, 10_000); await d.poll(); };
    await waitFor('cam-x adopted', () => cams.tree.child('cam-x'), 10_000);

    // Added by hand, not listed: the discovered: settings, and still there after many lists without it.
    const snap = d.children.add(DISCOVERED, { id: 'cam-hand' }, hand);
    assert.equal(snap.parent, DISCOVERED);
    const c = cams.cameras.get('cam-hand')!.config;
    assert.deepEqual([c.fps, c.width, c.height, c.source.kind === 'onvif' && c.source.device], [3, 176, 144, 'cam-hand']);
    await polls(5);
    assert.ok(cams.tree.child('cam-hand') && cams.cameras.has('cam-hand'), 'never removed by absence');
    assert.equal(d.missing().has('cam-hand'), false, 'no miss count for it');
    assert.ok(logs.includes('camera cam-hand: added by hand, gets its worker (3 fps, 176x144)'), logs.join('\n'));

    // cam-x missing once (1 of 2), then deleted and added again by hand: the old count is gone with it.
    listing = [];
    await waitFor('cam-x missing once', () => d.missing().get('cam-x') === 1, 10_000);
    d.children.remove('cam-x', hand);
    assert.deepEqual([cams.cameras.has('cam-x'), d.missing().has('cam-x')], [false, false], 'forgotten at once, no miss count left');
    await waitFor('cam-x deleted', () => !cams.tree.child('cam-x'), 10_000);
    listing = ['cam-x'];
    await polls(3);
    assert.equal(cams.tree.child('cam-x'), undefined, 'listed, but declined: not adopted again by the poll');
    assert.ok(logs.includes('camera cam-x: its worker was deleted by hand: not adopted again by the poll until it is added by hand'), logs.join('\n'));
    d.children.add(DISCOVERED, { id: 'cam-x' }, hand);
    listing = [];
    await polls(4);
    assert.ok(cams.tree.child('cam-x') && cams.cameras.has('cam-x'), 'added by hand again: kept through lists without it');
    assert.equal(logs.filter((l) => l.startsWith('camera cam-x: missing')).length, 1, 'only the one miss before the delete');
    assert.throws(() => d.children.add(DISCOVERED, { id: 'cam-x' }, hand), /already has a camera "cam-x"/);
  });
});
