/**
 * Sign-in on a site that needs it (WEB_REQUIRE_SIGNIN), install-time passwords written by the real
 * set-password.ts CLI (scrypt, 0600), session expiry and sign-out, the failure limit, config
 * errors, and a fuzz of the web API: no 5xx, no stack trace, no server path, always the error
 * contract. The web app on a real listener (port 0); its upstreams are absent (nothing listens).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../apps/web/src/app.ts';
import { loadWebConfig } from '../../apps/web/src/config.ts';
import { parsePasswordFile } from '../../apps/web/src/passwords.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const repo = resolve(import.meta.dirname, '../..');
let dir: string;
let app: FastifyInstance;
let url: string;
const setPassword = (file: string, role: string, pw: string) => spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'apps/web/src/set-password.ts'), file, role], { input: `${pw}\n`, encoding: 'utf8', cwd: repo });
const signIn = async (secret: string) => {
  const r = await fetch(`${url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: url }, body: JSON.stringify({ secret }) });
  return { status: r.status, cookie: (r.headers.get('set-cookie') ?? '').split(';')[0]!, body: (await r.json()) as any };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'web-auth-'));
  const file = join(dir, 'passwords');
  assert.equal(setPassword(file, 'technician', 'correct horse battery').status, 0);
  assert.equal(setPassword(file, 'viewer', 'control room 1').status, 0);
  assert.equal(setPassword(file, 'viewer', 'short').status, 1, 'a short password is refused');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const dead = `http://127.0.0.1:${await freePort()}`;
  app = buildApp({
    version: 'test', inferenceUrl: dead, cameraUrl: dead, supervisorUrl: dead, supervisorTokens: { technician: 'the-tech-token-xyz' },
    passwords: parsePasswordFile(readFileSync(file, 'utf8'), 'passwords'), requireSignin: true, sessionTtlMs: 1500, dataDir: dir,
    upstreamTimeoutMs: 300, log: () => undefined,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('web sign-in and roles', () => {
  test('a site that needs sign-in: the page loads, the data does not until a viewer signs in with the install-time password', async () => {
    assert.equal((await fetch(`${url}/`)).status, 200);
    const s = (await (await fetch(`${url}/api/session`)).json()) as any;
    assert.deepEqual([s.role, s.signinRequired], [null, true]);
    for (const p of ['/api/status', '/api/events', '/api/stream', '/api/safety-events', '/api/cameras/dock/frame.jpg']) {
      const r = await fetch(`${url}${p}`);
      assert.equal(r.status, 401, p);
      assert.equal(((await r.json()) as any).error.code, 'WEB_ERR_SIGNIN_REQUIRED');
    }
    const v = await signIn('control room 1');
    assert.equal(v.body.role, 'viewer');
    const st = await fetch(`${url}/api/status`, { headers: { cookie: v.cookie } });
    assert.notEqual(st.status, 401);
    // A viewer changes nothing, even with its own CSRF token.
    const pin = await fetch(`${url}/api/events/1/pin`, { method: 'PUT', headers: { cookie: v.cookie, origin: url, 'x-csrf-token': v.body.csrf } });
    assert.equal(((await pin.json()) as any).error.code, 'WEB_ERR_TECHNICIAN_ONLY');
  });

  test('a technician signs in with the password or the token; sessions expire; sign-out revokes', async () => {
    assert.equal((await signIn('correct horse battery')).body.role, 'technician');
    const t = await signIn('the-tech-token-xyz');
    assert.equal(t.body.role, 'technician');
    const who = async (cookie: string) => ((await (await fetch(`${url}/api/session`, { headers: { cookie } })).json()) as any).signedIn;
    assert.equal(await who(t.cookie), true);
    await fetch(`${url}/api/session`, { method: 'DELETE', headers: { cookie: t.cookie, origin: url } });
    assert.equal(await who(t.cookie), false, 'revoked');
    const u = await signIn('correct horse battery');
    assert.equal(await who(u.cookie), true, 'a new session works');
    await waitFor('the session expires after its TTL', async () => (await who(u.cookie)) === false, 10_000, 100);
  });

  test('a stranger\'s body is refused before it is read: 401, not a parse error or 413', async () => {
    for (const [path, method] of [['/api/children/web/restart', 'POST'], ['/api/events/1/pin', 'PUT']] as const) {
      const r = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{"not json' + 'x'.repeat(100_000) });
      assert.equal(r.status, 401, path);
      assert.equal(((await r.json()) as any).error.code, 'WEB_ERR_SIGNIN_REQUIRED');
    }
  });

  test('ten failed sign-ins in a minute, then 429', async () => {
    let last = 0;
    for (let i = 0; i < 11; i++) last = (await signIn(`wrong-${i}`)).status;
    assert.equal(last, 429);
  });

  test('config errors name the variable and what is accepted', () => {
    assert.throws(() => loadWebConfig({ WEB_REQUIRE_SIGNIN: 'maybe' }), /env WEB_REQUIRE_SIGNIN: expected true or false/);
    assert.throws(() => loadWebConfig({ SUPERVISOR_URL: 'ftp://x' }), /env SUPERVISOR_URL: expected an http:\/\/ URL/);
    assert.throws(() => loadWebConfig({ WEB_PASSWORDS_FILE: join(dir, 'missing') }), /env WEB_PASSWORDS_FILE: cannot read missing/);
    assert.throws(() => parsePasswordFile('technician:plain:secret\n', 'pw'), /pw:1: expected/);
  });

  test('tokens from the environment (compose): the technician token is kept for the supervisor; a viewer token alone reads only', () => {
    const both = loadWebConfig({ EDGEVISOR_TECHNICIAN_TOKEN: 'tech-1', EDGEVISOR_VIEWER_TOKEN: 'view-1' });
    assert.deepEqual(both.supervisorTokens, { technician: 'tech-1', viewer: 'view-1' });
    const viewerOnly = loadWebConfig({ EDGEVISOR_TOKEN: 'view-2' });
    assert.deepEqual(viewerOnly.supervisorTokens, { viewer: 'view-2' });
  });

  test('fuzz: malformed paths, queries, headers and bodies never give a 5xx (but 503 unavailable), a stack trace or a server path', async () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const junk = ['0', '-1', '9'.repeat(400), '99999999999999999999', '1e20', '%00', '..%2F..%2Fetc%2Fpasswd', "'", '<script>', 'a'.repeat(3000), '%E0%A4%A', '[]', '{"a":1}', 'NaN', ''];
    const paths = ['/api/events', '/api/events/{}/snapshot.jpg', '/api/events/{}/pin', '/api/children/{}', '/api/children/{}/{}', '/api/cameras/{}/history', '/api/cameras/{}/frame.jpg', '/api/safety-events', '/api/safety-events/{}/snapshot.jpg', '/api/supervisor-events', '/api/session', '/api/stream', '/ui/{}', '/{}'];
    const t = await signIn('correct horse battery');
    for (let i = 0; i < 250; i++) {
      const j = () => junk[rnd(junk.length)]!;
      const path = paths[rnd(paths.length)]!.replace(/\{\}/g, () => j());
      const query = rnd(2) ? `?${['since', 'limit', 'camera', 'from', 'before', 'child', 'latest', j()][rnd(8)]}=${j()}` : '';
      const method = ['GET', 'POST', 'PUT', 'DELETE'][rnd(4)]!;
      const headers: Record<string, string> = { 'last-event-id': encodeURIComponent(j()), origin: rnd(2) ? url : 'http://evil.example' };
      if (rnd(2)) Object.assign(headers, { cookie: rnd(3) ? t.cookie : `edgevisor_session=${encodeURIComponent(j())}`, 'x-csrf-token': rnd(2) ? t.body.csrf : j() });
      const body = method === 'GET' ? undefined : rnd(2) ? j() : JSON.stringify({ secret: j() });
      if (body !== undefined) headers['content-type'] = rnd(2) ? 'application/json' : 'text/plain';
      let r: Response;
      try {
        r = await fetch(`${url}${path}${query}`, { method, headers, body, signal: AbortSignal.timeout(5000) });
      } catch (err) {
        assert.fail(`${method} ${path}${query}: ${String(err)}`);
      }
      const text = r.headers.get('content-type')?.includes('event-stream') ? '' : await r.text();
      if (r.headers.get('content-type')?.includes('event-stream')) await r.body?.cancel();
      const where = `${method} ${path}${query} -> ${r.status} ${text.slice(0, 200)}`;
      assert.ok(r.status < 500 || (r.status === 503 && /_UNAVAILABLE|WEB_ERR_STARTING/.test(text)), where);
      assert.doesNotMatch(text, /\n\s+at |\.ts:\d+|node_modules|\/tmp\/|\/work\//, where);
      // Fastify's router-level errors (bad URL encoding, 414) are answered before any app hook, in
      // fastify's own shape: apps/common's createAppServer must map them (issue 16 point 10).
      const framework = /"code":"FST_ERR_(BAD_URL|MAX_PARAM_LENGTH)"/.test(text);
      if (r.status >= 400 && !framework && r.headers.get('content-type')?.includes('json')) {
        const e = JSON.parse(text).error;
        assert.ok(typeof e?.code === 'string' && typeof e?.message === 'string', where);
      }
      assert.ok(!text.includes('the-tech-token-xyz'), where);
    }
  });
});
