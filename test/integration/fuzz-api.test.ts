// Issue 16, point 10 and the HTTP fuzz: random methods, paths, headers and bodies, with and
// without tokens, over raw sockets against a real `edgevisor run`. No answer is a 5xx, carries a
// stack trace, a token or a server path; every error body is the {error:{code,message}} contract
// with an EDGEVISOR_ERR_* code; the supervisor logs no stack and keeps supervising.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';
import { TEST_TECH, TEST_VIEWER, startSupervisor, type SupervisorProcess } from '../helpers/supervisor-process.ts';
import { httpChild, repoRoot } from '../helpers/tree.ts';

let dir: string;
let sup: SupervisorProcess;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgevisor-fuzz-api-'));
  const port = await freePort();
  const file = join(dir, 'tree.yaml');
  writeFileSync(
    file,
    `version: 1\nname: fz\nintensity: 50\nperiod: 10s\napi: { listen: "127.0.0.1:0" }\nstore: { path: ./events.db }\nchildren:\n  - id: web\n    shutdown: 1s\n    process: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(httpChild)}], env: { PORT: "${port}" } }\n    probes:\n      - { name: live, http: { url: "http://127.0.0.1:${port}/healthz" }, every: 500ms, timeout: 1s, startup_grace: 5s }\n`,
  );
  sup = await startSupervisor(file);
  await waitFor('web running', async () => (await sup.state('web')) === 'running', 20_000);
});
after(async () => {
  await sup?.kill();
  rmSync(dir, { recursive: true, force: true });
});

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sends raw bytes, returns status and body (the head of it for a stream). */
function rawRequest(port: number, bytes: Buffer): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      const text = out.toString('latin1');
      const cut = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, head: cut >= 0 ? text.slice(0, cut) : text, body: cut >= 0 ? text.slice(cut + 4) : '' });
    };
    const timer = setTimeout(finish, 3_000);
    s.on('data', (d) => {
      out = Buffer.concat([out, d]);
      const text = out.toString('latin1');
      const cut = text.indexOf('\r\n\r\n');
      if (cut < 0) return;
      // An event stream stays open: its first frame is enough. Otherwise: the whole body.
      if (/text\/event-stream/.test(text) && text.includes('\n\n', cut + 4)) finish();
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, cut));
      if (length && out.length - Buffer.byteLength(text.slice(0, cut + 4), 'latin1') >= Number(length[1])) finish();
    });
    s.on('close', finish);
    s.on('error', finish);
    s.write(bytes);
  });
}

test('HTTP fuzz of the control API: no 5xx, no stack, no secret or path, always the error contract', async () => {
  const port = Number(new URL(sup.url).port);
  const r = rng(16);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const methods = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'BREW', 'G\u00e9T', ''];
  const paths = ['/', '/healthz', '/metrics', '/v1', '/v1/', '/v1/tree', '/v1/events', '/v1/children/web', '/v1/children/fz', '/v1/children/nope', '/v1/children/web/restart', '/v1/children/web/stop', '/v1/children/web/start', '/v1/children/web/explode', '/v1/audit', '/v1/children/%E0%A4%A', `/v1/children/${'a'.repeat(300)}`, '/v1/children/../../etc/passwd', '/v1/children/%00', `/v1/${'x'.repeat(20_000)}`, '/v1/events?since=-1', `/v1/events?since=${'9'.repeat(400)}`, '/v1/events?limit=0', '/v1/events?limit=99999', '/v1/events?since=1&since=2', '/v1/events?since=%ZZ', '//v1//tree', '/V1/TREE', '/v1/tree?x=' + '%'.repeat(50)];
  const auths = [null, null, `Bearer ${TEST_VIEWER}`, `Bearer ${TEST_TECH}`, 'Bearer wrong-token-1234', 'Basic YWRtaW46YWRtaW4=', 'Bearer', `Bearer ${'t'.repeat(10_000)}`, `bearer ${TEST_TECH} extra`];
  const types = [null, 'application/json', 'application/json', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', '\u0000'];
  const bodies = ['', '{}', '{bad', '[]', 'null', JSON.stringify({ a: 'x'.repeat(30_000) }), '\u0000\u0001\u0002', '{"__proto__":{"x":1}}'];
  const secrets = [TEST_TECH, TEST_VIEWER, dir, repoRoot, '/work/', '/tmp/'];
  const statuses = new Map<number, number>();
  let batch: Promise<void>[] = [];
  for (let i = 0; i < 400; i++) {
    const method = pick(methods);
    const path = pick(paths);
    const auth = pick(auths);
    const type = pick(types);
    const body = method === 'GET' || method === 'HEAD' ? (r() < 0.2 ? pick(bodies) : '') : pick(bodies);
    const headers = [`Host: 127.0.0.1`, 'Connection: close'];
    if (auth) headers.push(`Authorization: ${auth}`);
    if (type && body) headers.push(`Content-Type: ${type}`);
    if (r() < 0.2) headers.push('Accept: text/event-stream');
    if (r() < 0.1) headers.push(`Last-Event-ID: ${pick(['0', '-5', 'abc', '9'.repeat(400)])}`);
    if (r() < 0.05) headers.push(`X-Big: ${'h'.repeat(20_000)}`);
    // Sometimes a body shorter than announced: the server waits for the rest, unless it refuses first.
    const short = body !== '' && r() < 0.1;
    if (body) headers.push(`Content-Length: ${Buffer.byteLength(body) + (short ? 50 : 0)}`);
    const request = Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    // Eight at a time: enough concurrency to interleave, not enough to load the shared machine.
    if (batch.length >= 8) await Promise.all(batch.splice(0));
    const job = rawRequest(port, request).then((res) => {
      const what = `${method} ${path.slice(0, 60)} auth=${auth?.slice(0, 20)} type=${type} body=${body.slice(0, 20)} -> ${res.status} ${res.body.slice(0, 200)}`;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const unauthenticated = auth === null || !auth.includes(TEST_VIEWER) && !auth.includes(TEST_TECH) || /extra|^Basic/.test(auth);
      if (short && res.status === 0) {
        // Waiting for the rest of the body is right, except where auth must refuse before reading it.
        assert.ok(!(unauthenticated && /^\/v1(\/|\?|$)/.test(path) && /^[A-Z]+$/.test(method)), `${what}: no 401 before the body`);
        return;
      }
      assert.ok(res.status >= 200 && res.status < 500, what);
      for (const s of secrets) assert.ok(!res.head.includes(s) && !res.body.includes(s), `${what}: answer carries ${s}`);
      assert.doesNotMatch(res.body, /\bat .+:\d+:\d+|stack/i, what);
      if (res.status >= 400 && method !== 'HEAD') {
        const json = JSON.parse(res.body);
        assert.deepEqual(Object.keys(json), ['error'], what);
        assert.match(json.error.code, /^EDGEVISOR_ERR_[A-Z_]+$/, what);
        assert.equal(typeof json.error.message, 'string', what);
      }
    });
    batch.push(job);
  }
  await Promise.all(batch);
  console.log('statuses:', JSON.stringify(Object.fromEntries(statuses)));
  assert.ok((statuses.get(401) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0, 'the fuzz reached the auth and routing layers');
  // The supervisor is fine and still supervising; its log has no stack trace and no token.
  assert.equal((await sup.api('/healthz', { token: null })).status, 200);
  await waitFor('web running after the fuzz', async () => (await sup.state('web')) === 'running', 20_000);
  const log = sup.stdout() + sup.stderr();
  assert.doesNotMatch(log, /^\s+at /m, 'stack trace in the supervisor log');
  assert.ok(!log.includes(TEST_TECH) && !log.includes(TEST_VIEWER), 'token in the supervisor log');
  const refusals = (log.match(/unauthenticated request refused/g) ?? []).length;
  assert.ok(refusals >= 1 && refusals <= 3, `${refusals} refusal lines: rate limited to one per 10 s`);
});

test('unauthenticated requests are refused before their body is read, and not logged as errors', async () => {
  const port = Number(new URL(sup.url).port);
  const before = sup.stdout() + sup.stderr();
  for (let i = 0; i < 20; i++) {
    // 1 MB announced, 5 bytes sent: an answer can only come from a check made before the body.
    const res = await rawRequest(port, Buffer.from(`POST /v1/children/web/restart HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{bad `));
    assert.equal(res.status, 401, res.head);
    assert.equal(JSON.parse(res.body).error.code, 'EDGEVISOR_ERR_UNAUTHORIZED');
  }
  const added = (sup.stdout() + sup.stderr()).slice(before.length);
  assert.doesNotMatch(added, /"level":50|request failed|\bat /, added);
  assert.ok(added.split('\n').filter((l) => /refused/.test(l)).length <= 1, added);
});
