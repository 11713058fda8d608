/**
 * The ONVIF service against simulated ONVIF cameras over real SOAP/HTTP on loopback (cameras
 * added by address: discovery has its own test, in a network namespace).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { startService, type ServiceHarness } from '../helpers/onvif.ts';
import { waitFor } from '../helpers/net.ts';
import { soapCall, NS } from '../../apps/onvif/src/soap.ts';
import type { CameraView } from '../../apps/onvif/src/cameras.ts';

const sims: SimCamera[] = [];
const services: ServiceHarness[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.allSettled(services.map((s) => s.stop()));
  await Promise.allSettled(sims.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sim = async (o: Parameters<typeof startSimCamera>[0]) => { const s = await startSimCamera(o); sims.push(s); return s; };
const service = async (c: Parameters<typeof startService>[0] = {}) => { const s = await startService(c); services.push(s); return s; };
const add = (h: ServiceHarness, s: SimCamera, password = s.options.password) =>
  h.api<CameraView>('POST', '/cameras', { address: `${s.host}:${s.port}`, username: s.options.username, password });

describe('ONVIF service against simulated cameras', () => {
  test('reads device facts, profiles, stream and snapshot URIs in connect() order; the snapshot URI serves a JPEG', async () => {
    const cam = await sim({ serialNumber: '000123', rtspUri: 'rtsp://127.0.0.1:8554/live' });
    const h = await service();
    const r = await add(h, cam);
    assert.equal(r.status, 201);
    const v = r.body;
    assert.equal(v.status, 'ok', JSON.stringify(v.lastError));
    assert.equal(v.auth, 'ws-security');
    assert.deepEqual(v.device, { manufacturer: 'SimVision', model: 'SV-100', firmwareVersion: '1.2.3', serialNumber: '000123', hardwareId: 'HW-1' });
    assert.deepEqual(v.profiles.map((p) => [p.token, p.name, p.encoding, p.width, p.height, p.fps, p.streamUri]), [
      ['main', 'mainStream', 'H264', 1280, 720, 10, 'rtsp://127.0.0.1:8554/live'],
      ['sub', 'subStream', 'H264', 640, 360, 5, 'rtsp://127.0.0.1:8554/live'],
    ]);
    assert.deepEqual(cam.requests.slice(0, 5), ['GetSystemDateAndTime', 'GetServices', 'GetDeviceInformation', 'GetProfiles', 'GetVideoSources']);
    const snap = await fetch(v.profiles[0]!.snapshotUri!);
    assert.equal(snap.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual([...Buffer.from(await snap.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8]);
    const uri = await h.api<{ uri: string; profile: { token: string } }>('GET', `/stream-uri?address=127.0.0.1:${cam.port}&profile=subStream&fresh=1`);
    assert.deepEqual([uri.status, uri.body.uri, uri.body.profile.token], [200, 'rtsp://127.0.0.1:8554/live', 'sub']);
    assert.equal((await h.api('GET', '/cameras/nope')).status, 404);
    assert.equal((await h.api('GET', `/cameras/${v.id}/stream-uri?profile=nope`)).status, 404);
  });

  test('a wrong password is an authentication failure (the real ter:NotAuthorized fault), not a timeout', async () => {
    const cam = await sim({});
    const h = await service({ requestTimeoutMs: 5000 });
    const t0 = Date.now();
    const v = (await add(h, cam, 'not-the-password')).body;
    assert.ok(Date.now() - t0 < 4000, 'answered well within the request timeout');
    assert.equal(v.status, 'auth_failed');
    assert.equal(v.reachable, true);
    assert.equal(v.lastError?.code, 'ONVIF_ERR_AUTH');
    assert.equal(v.lastError?.operation, 'GetDeviceInformation');
    assert.match(v.lastError!.message, /ter:NotAuthorized/);
    assert.ok(cam.authFailures() >= 1);
    assert.ok((await h.api<{ events: { type: string }[] }>('GET', '/events')).body.events.some((e) => e.type === 'auth_failed'));
    // No credentials at all is said as such.
    const none = (await h.api<CameraView>('POST', '/cameras', { address: `127.0.0.1:${(await sim({})).port}` })).body;
    assert.deepEqual([none.status, none.credentials, none.lastError?.code], ['auth_failed', 'none', 'ONVIF_ERR_NO_CREDENTIALS']);
  });

  test('a camera clock 2 minutes off still authenticates (signed with its time) and the drift is reported', async () => {
    const cam = await sim({ clockOffsetMs: 120_000 });
    // The sim's check is real: a token signed with our own clock is refused.
    await assert.rejects(soapCall({ url: cam.url, operation: 'GetDeviceInformation', action: `${NS.tds}/GetDeviceInformation`, body: '<tds:GetDeviceInformation/>', timeoutMs: 2000,
      auth: { credentials: { username: 'admin', password: cam.options.password }, clockOffsetMs: 0 } }), { code: 'ONVIF_ERR_AUTH' });
    const h = await service();
    const v = (await add(h, cam)).body;
    assert.equal(v.status, 'ok', JSON.stringify(v.lastError));
    assert.ok(Math.abs(v.drift!.seconds - 120) <= 1.5, `drift ${v.drift!.seconds}`);
    assert.equal(v.drift!.warning, true);
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('onvif_clock_drift_seconds{') && l.includes(`camera="${v.id}"`));
    assert.ok(line && Math.abs(Number(line.split(' ').pop()) - 120) <= 1.5, line);
    assert.ok((await h.api<{ events: { type: string }[] }>('GET', '/events')).body.events.some((e) => e.type === 'clock_drift'));
  });

  test('a digest-only camera works (falls back, remembers: one round trip per call afterwards); GetCapabilities when GetServices is missing', async () => {
    const cam = await sim({ auth: 'http-digest', noGetServices: true });
    const h = await service();
    const v = (await add(h, cam)).body;
    assert.equal(v.status, 'ok', JSON.stringify(v.lastError));
    assert.equal(v.auth, 'http-digest');
    assert.ok(cam.requests.includes('GetCapabilities'));
    const challenged = cam.authFailures();
    cam.requests.length = 0;
    await h.api('POST', `/cameras/${v.id}/refresh`);
    assert.equal((await h.camera(v.id)).status, 'ok');
    assert.equal(cam.authFailures(), challenged, 'no 401 round trip once digest is known');
    assert.equal(cam.requests.filter((r) => r === 'GetProfiles').length, 1);
    const bad = await sim({ auth: 'http-digest' });
    assert.equal((await add(h, bad, 'wrong')).body.lastError?.code, 'ONVIF_ERR_AUTH');
  });

  test('a hung camera is unreachable within its timeout while the two others are refreshed on time (and one that stops mid-answer too)', async () => {
    const [a, b, hung, midway] = [await sim({}), await sim({}), await sim({}), await sim({})];
    const h = await service({ refreshIntervalMs: 500, requestTimeoutMs: 3000, backoffMs: 10_000 });
    const ids: string[] = [];
    for (const s of [a, b, hung, midway]) ids.push((await add(h, s)).body.id);
    hung.set({ hang: true });
    midway.set({ stallMidAnswer: true });
    const before = [a, b].map((s) => s.requests.filter((r) => r === 'GetSystemDateAndTime').length);
    const t0 = Date.now();
    const v = await waitFor('hung camera unreachable', async () => { const c = await h.camera(ids[2]!); return c.status === 'unreachable' ? c : undefined; }, 15_000, 100);
    const took = Date.now() - t0;
    assert.equal(v.lastError?.code, 'ONVIF_ERR_TIMEOUT');
    // It backs off (10 s +-10 %) instead of keeping the 500 ms schedule.
    assert.ok(Date.parse(v.nextRefreshAt!) - Date.parse(v.lastError!.at) >= 8500, `next try ${v.nextRefreshAt} after failing at ${v.lastError!.at}`);
    assert.ok(took < 3000 + 500 + 3000 + 2000, `unreachable after ${took} ms (timeout 3000 ms, refresh every 500 ms)`);
    // While the hung camera's request was pending (3 s), the others kept their 500 ms schedule.
    const afterCounts = [a, b].map((s) => s.requests.filter((r) => r === 'GetSystemDateAndTime').length);
    for (let i = 0; i < 2; i++) assert.ok(afterCounts[i]! - before[i]! >= 2, `camera ${i} refreshed ${afterCounts[i]! - before[i]!} times during the hang`);
    for (const id of ids.slice(0, 2)) assert.equal((await h.camera(id)).status, 'ok');
    const mid = await waitFor('mid-answer camera unreachable', async () => { const c = await h.camera(ids[3]!); return c.status === 'unreachable' ? c : undefined; }, 15_000, 100);
    assert.equal(mid.lastError?.code, 'ONVIF_ERR_TIMEOUT');
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    assert.match(metrics, /onvif_request_errors_total\{operation="GetSystemDateAndTime",code="ONVIF_ERR_TIMEOUT",app="onvif"\} [1-9]/);
    assert.match(metrics, /onvif_cameras_reachable\{app="onvif"\} 2/);
  });

  test('an unreachable XAddr and URIs are rewritten to the address the camera answered from, and reported', async () => {
    const cam = await sim({ unreachableXAddr: true, rtspUri: 'rtsp://127.0.0.1:8554/live' });
    const h = await service();
    const v = (await add(h, cam)).body;
    assert.equal(v.status, 'ok', JSON.stringify(v.lastError));
    assert.ok(v.rewrites.some((r) => r.what === 'media service XAddr' && r.from.includes('192.0.2.1') && r.to === `http://127.0.0.1:${cam.port}/onvif/media_service`));
    for (const p of v.profiles) {
      assert.equal(p.streamUri, 'rtsp://127.0.0.1:8554/live');
      assert.ok(p.snapshotUri!.startsWith(`http://127.0.0.1:${cam.port}/`));
    }
    const ev = (await h.api<{ events: { type: string; message: string }[] }>('GET', '/events')).body.events.find((e) => e.type === 'address_rewritten');
    assert.match(ev!.message, /192\.0\.2\.1.*-> .*127\.0\.0\.1/);
  });

  test('with ONVIF_API_TOKEN, changes need the token (reads stay open)', async () => {
    const cam = await sim({});
    const h = await service({ apiToken: 'tok-12345678' });
    const body = JSON.stringify({ address: `127.0.0.1:${cam.port}`, username: 'admin', password: cam.options.password });
    const post = (auth?: string) => fetch(`${h.base}/cameras`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
    assert.equal((await post()).status, 401);
    assert.equal((await post('Bearer tok-1234567')).status, 401);
    assert.equal((await post('Bearer tok-12345678')).status, 201);
    assert.equal((await h.api<{ cameras: unknown[] }>('GET', '/cameras')).body.cameras.length, 1);
  });

  test('credentials: a 0600 file under DATA_DIR, loaded at start; never in an answer, a log line, an event or a metric', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevisor-onvif-'));
    dirs.push(dir);
    const secret = `Pw-${process.pid}-Zq9`;
    const user = `tech-${process.pid}-user`;
    const cam = await sim({ username: user, password: secret });
    const digestCam = await sim({ username: user, password: secret, auth: 'http-digest' });
    const storeFile = join(dir, 'onvif-cameras.json');
    const h = await service({ dataDir: dir, storeFile });
    const id = (await h.api<CameraView>('POST', '/cameras', { address: `127.0.0.1:${cam.port}`, username: user, password: secret })).body.id;
    await h.api('POST', '/cameras', { address: `127.0.0.1:${digestCam.port}`, username: user, password: secret });
    await h.api('POST', '/cameras', { address: `127.0.0.1:${cam.port}`, username: user, password: `${secret}-wrong` });
    await h.api('POST', '/cameras', { address: `127.0.0.1:${cam.port}`, username: user, password: secret });
    // Bad input: refused, and the refusal does not echo the password back.
    assert.equal((await h.api('POST', '/cameras', { address: `http://${user}:${secret}@127.0.0.1:1/`, username: user, password: secret })).status, 400);
    assert.equal((await h.api('POST', '/cameras', { address: 'x', username: user, password: secret, extra: secret })).status, 400);
    assert.equal((await h.api('PUT', '/credentials/default', { username: user, password: 12 })).status, 400);
    assert.equal((await h.api('PUT', '/credentials/default', { username: user, password: secret })).status, 204);
    await h.api('GET', '/cameras');
    await h.api('GET', `/cameras/${id}`);
    await h.api('GET', `/cameras/${id}/profiles`);
    await h.api('GET', `/cameras/${id}/stream-uri?fresh=1`);
    await h.api('GET', '/events');
    await h.api('GET', '/healthz');
    const metrics = await (await fetch(`${h.base}/metrics`)).text();
    assert.equal(statSync(storeFile).mode & 0o777, 0o600);
    assert.ok(readFileSync(storeFile, 'utf8').includes(secret), 'the store keeps the password');
    const everything = [...h.answers, ...h.logs, metrics, JSON.stringify(h.svc.events.since(0))].join('\n');
    assert.ok(h.answers.length >= 12 && h.logs.length >= 3);
    for (const needle of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) assert.ok(!everything.includes(needle), `found ${needle}`);
    await h.stop();
    // A new service on the same DATA_DIR knows the cameras and their credentials; a store left
    // readable by others is set back to 0600 and reported.
    chmodSync(storeFile, 0o644);
    const h2 = await service({ dataDir: dir, storeFile });
    assert.equal(statSync(storeFile).mode & 0o777, 0o600);
    assert.ok(h2.svc.events.since(0).some((e) => e.type === 'store_permissions'));
    const v = await waitFor('stored camera refreshed', async () => { const c = await h2.camera(id); return c.status === 'ok' ? c : undefined; }, 10_000);
    assert.equal(v.credentials, 'camera');
    assert.equal((await h2.api<{ cameras: unknown[] }>('GET', '/cameras')).body.cameras.length, 2);
    assert.ok(![...h2.answers, ...h2.logs].join('\n').includes(secret));
    // Removed by address: gone from the list and from the store.
    assert.equal((await h2.api('DELETE', `/cameras?address=127.0.0.1:${digestCam.port}`)).status, 204);
    assert.equal((await h2.api<{ cameras: unknown[] }>('GET', '/cameras')).body.cameras.length, 1);
    assert.ok(!readFileSync(storeFile, 'utf8').includes(String(digestCam.port)));
  });
});
