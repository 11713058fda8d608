/**
 * The dashboard API and its one SSE stream against the real box: a supervision tree with its
 * control API supervising the camera app (two synthetic cameras), inference and web as real
 * processes (test/helpers/dashboard-stack.ts). Tree with restart words, per-camera figures,
 * events with filters and pins, sign-in and roles, cross-site refusal, 4xx codes for bad input,
 * Last-Event-ID resume across both logs, and one upstream poller whatever the number of clients.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { startDashboardStack, TECH_TOKEN, VIEWER_TOKEN, type DashboardStack } from '../helpers/dashboard-stack.ts';
import { sleep, waitFor } from '../helpers/net.ts';
import { readSseFrames } from '../helpers/sse.ts';

let s: DashboardStack;
const bodies: string[] = [];
async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(`${s.web}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  bodies.push(text);
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}
interface Frame { id?: string; event?: string; data?: any }
async function stream(headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await fetch(`${s.web}/api/stream`, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
  assert.equal(res.status, 200);
  const frames: Frame[] = [];
  void readSseFrames(res.body!, (raw) => {
    const f: Frame = {};
    for (const line of raw.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) (f as any)[m[1]!] = m[1] === 'data' ? JSON.parse(m[2]!) : m[2];
    }
    if (f.event) frames.push(f);
  });
  return { frames, of: (ev: string) => frames.filter((f) => f.event === ev), close: () => ctl.abort() };
}
const metric = async (name: string, label: string) => Number(new RegExp(`^${name}\\{[^}]*${label}[^}]*\\} (\\S+)`, 'm').exec((await get('/metrics')).text)?.[1] ?? NaN);
async function signIn(secret = TECH_TOKEN) {
  const r = await fetch(`${s.web}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.web, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ secret }) });
  const cookie = r.headers.get('set-cookie') ?? '';
  const body = (await r.json()) as { csrf: string; role: string };
  return { status: r.status, cookie, csrf: body.csrf, role: body.role, header: cookie.split(';')[0]! };
}

/** fetch cannot set Host: a plain node:http request can. */
function withHost(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: s.ports.web, path, headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => { s = await startDashboardStack(); });
after(async () => { await s?.close(); });

describe('dashboard API against the real box', () => {
  test('status of the whole box: every subsystem with state, uptime, restarts; cameras with Frigate figures and a quality word', async () => {
    const st = await waitFor('a stats frame with cameras and detect fps', async () => {
      const r = await get('/api/status');
      return r.status === 200 && r.json.cameras.length === 2 && r.json.cameras.every((c: any) => c.detectFps !== null && c.cameraFps > 0) ? r.json : null;
    }, 90_000, 250);
    const ids = st.tree.nodes.map((n: any) => n.id);
    for (const id of ['camera', 'inference', 'web', 'crashy']) assert.ok(ids.includes(id), `${id} in ${ids}`);
    const subsystems = st.tree.nodes.filter((n: any) => n.parent && !n.inner);
    assert.deepEqual(subsystems.filter((n: any) => !(n.state === 'running' && typeof n.startedAt === 'number' && n.restarts === 0)), []);
    const dock = st.cameras.find((c: any) => c.id === 'dock');
    assert.equal(dock.expectedFps, 5);
    assert.ok(['excellent', 'fair', 'poor', 'unusable'].includes(dock.quality));
    for (const k of ['cameraFps', 'detectFps', 'skippedFps', 'lastFrameAgeMs', 'reconnectsLastHour', 'stallsLastHour', 'frames']) assert.equal(typeof dock[k], 'number', k);
    const h = await get('/api/cameras/dock/history');
    assert.ok(h.json.ts.length >= 1 && h.json.cameraFps.length === h.json.ts.length);
    assert.equal((await get('/api/cameras/nope/history')).json.error.code, 'WEB_ERR_UNKNOWN_CAMERA');
    const z = await get('/api/zones');
    assert.deepEqual(z.json.zones.cameras.dock.zones[0].polygon[0], [0.66, 0]);
    const m = await get('/metrics');
    assert.match(m.text, /^web_event_loop_delay_seconds\{quantile="0.99"/m);
  });

  test('a child that crashes shows its restart and the reason in words; the stream carries the supervisor events', async () => {
    const live = await stream();
    await waitFor('stream open', () => live.of('stats').length > 0, 10_000);
    const pid = s.pid('crashy')!;
    process.kill(pid, 'SIGKILL');
    const node = await waitFor('crashy restarted in /api/tree', async () => {
      const t = await get('/api/tree');
      const n = t.json.nodes?.find((x: any) => x.id === 'crashy');
      return n && n.restarts >= 1 && n.state === 'running' && n.lastRestartReason ? n : null;
    }, 45_000, 200);
    assert.match(node.lastRestartReason, /killed by signal SIGKILL/);
    await waitFor('the restart on the stream', () => live.of('supervisor').some((f) => f.data.child === 'crashy' && f.data.type === 'restart'), 30_000);
    const log = await get('/api/supervisor-events?child=crashy');
    assert.ok(log.json.events.some((e: any) => e.type === 'exit'));
    assert.ok(log.json.events.every((e: any) => e.child === 'crashy'));
    live.close();
  });

  test('events: paged newest first, filtered by camera, zone, class, time and pin; snapshots; bad filters are 400', async () => {
    // The running pipeline writes real events of dock and press too: the test's own go under
    // cameras no pipeline has, and every query is bounded to the milliseconds of these appends.
    const t0 = Date.now() - 1;
    const dock = s.append(3, 'test-dock');
    const press = s.append(2, 'test-press');
    const span = `from=${t0}&to=${Date.now() + 1}`;
    const byCam = await get(`/api/events?camera=test-press&${span}`);
    assert.deepEqual(byCam.json.events.map((e: any) => e.id), press.toReversed());
    const page1 = await get(`/api/events?camera=test-dock&${span}&limit=2`);
    assert.deepEqual(page1.json.events.map((e: any) => e.id), [dock[2], dock[1]]);
    const page2 = await get(`/api/events?camera=test-dock&${span}&limit=2&before=${page1.json.next}`);
    assert.deepEqual(page2.json.events.map((e: any) => e.id), [dock[0]]);
    assert.equal((await get(`/api/events?zone=nowhere&${span}`)).json.events.length, 0);
    const ids = async (q: string) => (await get(`/api/events?${q}&${span}`)).json.events.map((e: any) => e.id);
    const mine = [...dock, ...press];
    assert.deepEqual((await ids('cls=motion')).filter((id: number) => mine.includes(id)).sort((a: number, b: number) => a - b), [...mine].sort((a, b) => a - b), 'every motion event of the test');
    assert.deepEqual((await ids('cls=person')).filter((id: number) => mine.includes(id)), [], 'none of them under person');
    const ev = page1.json.events[0];
    assert.equal(ev.snapshot, `/api/events/${ev.id}/snapshot.jpg`);
    const snap = await fetch(`${s.web}${ev.snapshot}`);
    assert.equal(snap.headers.get('content-type'), 'image/jpeg');
    for (const [q, code] of [['limit=0', 'WEB_ERR_BAD_QUERY'], ['camera=a%20b', 'WEB_ERR_BAD_QUERY'], ['from=99999999999999999999', 'WEB_ERR_BAD_QUERY'], ['pinned=yes', 'WEB_ERR_BAD_QUERY'], ['what=1', 'WEB_ERR_BAD_QUERY']] as const) {
      const r = await get(`/api/events?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.json.error.code, code, q);
      assert.doesNotMatch(r.text, /e\+?20/, 'a big number is never re-printed as 1e20');
    }
  });

  test('client mistakes are 4xx, never "inference unavailable", and are not counted as upstream errors', async () => {
    const before = await metric('web_upstream_errors_total', 'upstream="inference"');
    const cases: [string, number, string][] = [
      ['/api/events/0/snapshot.jpg', 400, 'WEB_ERR_BAD_ID'],
      ['/api/safety-events/0/snapshot.jpg', 400, 'WEB_ERR_BAD_ID'],
      ['/api/events/999999999/snapshot.jpg', 404, 'WEB_ERR_NO_SNAPSHOT'],
      [`/api/safety-events?since=${'9'.repeat(400)}`, 400, 'WEB_ERR_BAD_QUERY'],
      ['/api/safety-events?since=99999999999999999999', 400, 'WEB_ERR_BAD_QUERY'],
      ['/api/cameras/..%2Fetc/frame.jpg', 400, 'WEB_ERR_BAD_ID'],
      ['/api/cameras/nope/frame.jpg', 404, 'WEB_ERR_NOT_FOUND'],
      ['/api/supervisor-events?limit=0', 400, 'WEB_ERR_BAD_QUERY'],
    ];
    for (const [path, status, code] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, `${path}: ${r.text}`);
      assert.equal(r.json.error.code, code, path);
      assert.doesNotMatch(r.text, /1e\+?20|Infinity/);
    }
    for (const id of ['abc', '9'.repeat(400), '1-2-3']) {
      const r = await get('/api/stream', { headers: { 'last-event-id': id } });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, 'WEB_ERR_BAD_CURSOR');
    }
    const r = await get('/api/safety-events/stream', { headers: { 'last-event-id': '9'.repeat(400) } });
    assert.equal(r.json.error.code, 'WEB_ERR_BAD_CURSOR');
    assert.equal(await metric('web_upstream_errors_total', 'upstream="inference"'), before);
    // After those, the stream still reports the inference app up.
    const st = await get('/api/status');
    assert.equal(st.json.upstream.inference.ok, true);
  });

  test('roles: a viewer changes nothing; a technician signs in (cookie HttpOnly, SameSite=Strict, expiring); CSRF and cross-site refused', async () => {
    const [id] = s.append(1, 'press');
    assert.equal((await get(`/api/events/${id}/pin`, { method: 'PUT' })).json.error.code, 'WEB_ERR_SIGNIN_REQUIRED');
    assert.equal((await get('/api/children/crashy/restart', { method: 'POST' })).status, 401);
    assert.equal((await signIn('wrong-token')).status, 401);
    const viewer = await signIn(VIEWER_TOKEN);
    assert.equal(viewer.role, 'viewer');
    assert.equal((await get(`/api/events/${id}/pin`, { method: 'PUT', headers: { cookie: viewer.header, 'x-csrf-token': viewer.csrf, origin: s.web } })).json.error.code, 'WEB_ERR_TECHNICIAN_ONLY');
    const tech = await signIn();
    assert.equal(tech.status, 200);
    assert.match(tech.cookie, /HttpOnly/i);
    assert.match(tech.cookie, /SameSite=Strict/i);
    assert.match(tech.cookie, /Max-Age=\d+/i);
    const session = await get('/api/session', { headers: { cookie: tech.header } });
    assert.equal(session.json.role, 'technician');
    assert.equal(session.json.csrf, tech.csrf);
    const pin = (h: Record<string, string>) => get(`/api/events/${id}/pin`, { method: 'PUT', headers: { cookie: tech.header, ...h } });
    assert.equal((await pin({ origin: s.web })).json.error.code, 'WEB_ERR_CSRF');
    assert.equal((await pin({ origin: 'http://evil.example', 'x-csrf-token': tech.csrf })).json.error.code, 'WEB_ERR_CROSS_SITE');
    assert.equal((await pin({ 'sec-fetch-site': 'cross-site', 'x-csrf-token': tech.csrf })).json.error.code, 'WEB_ERR_CROSS_SITE');
    const crossSignIn = await fetch(`${s.web}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify({ secret: TECH_TOKEN }) });
    assert.equal(crossSignIn.status, 403);
    const ok = await pin({ origin: s.web, 'sec-fetch-site': 'same-origin', 'x-csrf-token': tech.csrf });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.pinned, true);
    const pinned = await get('/api/events?pinned=true');
    assert.ok(pinned.json.events.some((e: any) => e.id === id));
    const unpin = await get(`/api/events/${id}/pin`, { method: 'DELETE', headers: { cookie: tech.header, origin: s.web, 'x-csrf-token': tech.csrf } });
    assert.equal(unpin.json.pinned, false);
    // A forged cookie is no session.
    assert.equal((await get('/api/session', { headers: { cookie: tech.header.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } })).json.signedIn, false);
    // DNS rebinding: a foreign Host name is refused; IP literals and localhost pass.
    const rebound = await withHost('/api/status', `evil.example:${s.ports.web}`);
    assert.equal(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body).error.code, 'WEB_ERR_HOST_NOT_ALLOWED');
    assert.equal((await withHost('/api/session', `localhost:${s.ports.web}`)).status, 200);
    assert.equal((await withHost('/api/session', `127.0.0.1:${s.ports.web}`)).status, 200);
    // Probes reach /healthz by service name (http://web:8080 in compose): never refused for its Host.
    assert.equal((await withHost('/healthz', `web:${s.ports.web}`)).status, 200);
    // Oversized and malformed bodies.
    const big = await fetch(`${s.web}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.web }, body: JSON.stringify({ secret: 'x'.repeat(5000) }) });
    assert.equal(big.status, 413);
    assert.match(((await big.json()) as any).error.code, /^FST_ERR_CTP_BODY_TOO_LARGE$/);
    assert.equal((await get('/api/session', { method: 'POST', headers: { 'content-type': 'application/json', origin: s.web }, body: '{"secret": 5}' })).json.error.code, 'WEB_ERR_BAD_BODY');
  });

  test('technician actions: restart a subsystem through the supervisor, logged with the role; log lines; unknown ids are 404', async () => {
    const tech = await signIn();
    const h = { cookie: tech.header, origin: s.web, 'x-csrf-token': tech.csrf };
    const before = s.tree.child('crashy')!.restarts;
    const r = await get('/api/children/crashy/restart', { method: 'POST', headers: h });
    assert.equal(r.status, 202);
    await waitFor('crashy restarted', () => s.tree.child('crashy')!.restarts > before && s.tree.child('crashy')!.state === 'running', 20_000);
    const manual = s.events.find((e) => e.type === 'manual' && e.child === 'crashy');
    assert.equal(manual?.data?.['role'], 'technician');
    const node = await waitFor('restart words in the tree', async () => {
      const n = (await get('/api/tree')).json.nodes.find((x: any) => x.id === 'crashy');
      return n.restarts > before && /by a technician/.test(n.lastRestartReason ?? '') ? n : null;
    }, 10_000, 200);
    assert.ok(node);
    const detail = await get('/api/children/crashy', { headers: h });
    assert.ok(Array.isArray(detail.json.logs));
    assert.equal((await get('/api/children/nope/restart', { method: 'POST', headers: h })).status, 404);
    assert.equal((await get('/api/children/crashy/explode', { method: 'POST', headers: h })).json.error.code, 'WEB_ERR_BAD_ACTION');
    assert.equal((await get('/api/children/a%20b/restart', { method: 'POST', headers: h })).json.error.code, 'WEB_ERR_BAD_ID');
    // Log lines are redacted where they are written: viewers read them too, parsed for the panel.
    const asViewer = await get('/api/children/inference', {});
    assert.equal(asViewer.status, 200);
    const parsed = asViewer.json.entries.filter((e: any) => e.msg !== undefined);
    assert.ok(parsed.length > 0 && parsed.every((e: any) => typeof e.level === 'string' && typeof e.ts === 'number'), JSON.stringify(asViewer.json.entries.slice(-5)));
    assert.ok(parsed.some((e: any) => e.fields.some(([k, v]: [string, string]) => k === 'app' && v === 'inference')), JSON.stringify(parsed.slice(-5)));
  });

  test('Last-Event-ID resumes both logs exactly: every safety event and supervisor event missed, in order, none twice', async () => {
    const a = await stream();
    const [first] = s.append(1, 'press');
    await waitFor('a live safety event', () => a.of('safety').some((f) => f.data.id === first), 10_000);
    const lastId = [...a.frames].reverse().find((f) => f.id)!.id!;
    a.close();
    const [safetyCursor, supCursor] = lastId.split('-').map(Number);
    const missed = s.append(3, 'dock');
    s.tree.restartChild('crashy', { role: 'technician', via: 'test' });
    await waitFor('crashy back', () => s.tree.child('crashy')!.state === 'running' && s.events.some((e) => e.type === 'manual' && e.child === 'crashy' && e.data?.['via'] === 'test'), 20_000);
    const b = await stream({ 'last-event-id': lastId });
    const supExpected = s.events.filter((e) => e.seq > supCursor!).map((e) => e.seq);
    await waitFor('the missed events', () => b.of('safety').filter((f) => missed.includes(f.data.id)).length === 3 && supExpected.every((q) => b.of('supervisor').some((f) => f.data.seq === q)), 15_000);
    const safetyIds = b.of('safety').map((f) => f.data.id);
    assert.ok(safetyIds.every((x) => x > safetyCursor!), 'nothing older than the cursor');
    assert.deepEqual(safetyIds, [...safetyIds].sort((x, y) => x - y));
    assert.equal(new Set(safetyIds).size, safetyIds.length);
    const stored = s.store.since(safetyCursor!, 1000).map((e) => e.id);
    assert.deepEqual(safetyIds.slice(0, stored.length), stored, 'every stored event after the cursor, none skipped');
    const seqs = b.of('supervisor').map((f) => f.data.seq);
    assert.deepEqual(seqs.slice(0, supExpected.length), supExpected);
    b.close();
  });

  test('one upstream poller: 20 dashboards cost the web app no more upstream requests than one', async () => {
    const rate = async () => {
      const names = ['supervisor', 'camera', 'inference'];
      const before = await Promise.all(names.map((n) => metric('web_upstream_requests_total', `upstream="${n}"`)));
      const t = Date.now();
      await sleep(3000);
      const after = await Promise.all(names.map((n) => metric('web_upstream_requests_total', `upstream="${n}"`)));
      return after.reduce((sum, v, i) => sum + v - before[i]!, 0) / ((Date.now() - t) / 1000);
    };
    const one = await stream();
    await waitFor('one client live', () => one.of('stats').length > 0, 10_000);
    const r1 = await rate();
    const many = await Promise.all(Array.from({ length: 19 }, () => stream()));
    await waitFor('20 clients live', () => many.every((c) => c.of('stats').length > 0), 15_000);
    const r20 = await rate();
    // One poller per client would make it about 20x; timers under load make it vary a little.
    assert.ok(r20 <= r1 * 1.6 + 2, `upstream requests/s: ${r1.toFixed(1)} with 1 client, ${r20.toFixed(1)} with 20`);
    assert.equal(await metric('web_sse_clients', 'app="web"'), 20);
    for (const c of [one, ...many]) c.close();
  });

  test('/healthz answers within its budget or not at all: a request that waited through a stall is dropped', async () => {
    const pid = s.pid('web')!;
    process.kill(pid, 'SIGSTOP');
    const late = fetch(`${s.web}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, (e: Error) => e.name);
    await sleep(1500);
    process.kill(pid, 'SIGCONT');
    assert.notEqual(await late, 200, 'no late 200 after a 1.5 s stall');
    await waitFor('healthz answers again once the loop runs', async () => (await fetch(`${s.web}/healthz`)).status === 200, 5000, 100);
  });

  test('no answer carried a token, a server path or an internal URL', async () => {
    // The camera answers, with press's frames on the ring (its file lives under s.dir/frames).
    await waitFor('press on the frame ring', async () => /^inference_frame_path\{[^}]*camera="press"[^}]*path="ring"[^}]*\} 1$/m.test(await (await fetch(`http://127.0.0.1:${s.ports.inference}/metrics`)).text()), 30_000, 250);
    assert.equal((await get('/api/cameras')).status, 200);
    assert.equal((await get('/api/status')).status, 200);
    const all = bodies.join('\n');
    for (const secret of [TECH_TOKEN, VIEWER_TOKEN]) assert.ok(!all.includes(secret), 'a token leaked');
    assert.ok(!all.includes(s.dir), 'a server path leaked');
    assert.ok(!new RegExp(`127\\.0\\.0\\.1:(${s.ports.inference}|${s.ports.camera}|${s.ports.supervisor})`).test(all), 'an internal URL leaked');
  });
});

describe('the merged tree (needs the tree helper: camera workers as inner children of camera)', () => {
  test('camera workers appear under camera, and a technician restarts one while the other keeps its frames going', async () => {
    const tree = (await get('/api/tree')).json;
    const workers = tree.nodes.filter((n: any) => n.parent === 'camera' && n.inner);
    assert.deepEqual(workers.map((n: any) => n.id).sort(), ['camera/dock', 'camera/press']);
    const tech = await signIn();
    const framesOf = async (id: string) => (await get('/api/cameras')).json.cameras.find((c: any) => c.id === id).frames as number;
    const pressBefore = await framesOf('press');
    const r = await get(`/api/children/${encodeURIComponent('camera/dock')}/restart`, { method: 'POST', headers: { cookie: tech.header, origin: s.web, 'x-csrf-token': tech.csrf } });
    assert.equal(r.status, 202);
    await waitFor('camera/dock restarted', async () => {
      const n = (await get('/api/tree')).json.nodes.find((x: any) => x.id === 'camera/dock');
      return n.restarts >= 1 && n.state === 'running';
    }, 20_000, 250);
    assert.ok((await framesOf('press')) > pressBefore, 'press kept streaming');
    assert.equal(s.tree.child('camera')!.restarts, 0, 'the camera container was not restarted');
    // The worker's log panel: the camera app's lines about it (child = dock), its restart among them.
    let last: unknown;
    const dockLog = await waitFor('the restart in dock\'s log', async () => {
      const l = (last = (await get(`/api/children/${encodeURIComponent('camera/dock')}`)).json) as any;
      return l.entries?.some((e: any) => /^(manual|restart): /.test(e.msg ?? '')) ? l : undefined;
    }, 10_000, 250).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
    assert.ok(dockLog.entries.every((e: any) => e.fields.some(([k, v]: [string, string]) => k === 'child' && v === 'dock')), JSON.stringify(dockLog.entries));
  });
});
