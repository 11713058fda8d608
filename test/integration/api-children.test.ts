// Children added to and deleted from a running tree through the real API and the real CLI
// (`edgevisor add|delete`): real http-child processes, a real SQLite event log, API on port 0.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, call, childrenTree, fixture, startService, tempDir, type Service } from './api-helpers.ts';

const bin = resolve('bin/edgevisor.mjs');

function edgevisor(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgevisor ${args.join(' ')} did not finish in ${timeoutMs}ms; ${stdout} ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const send = async (url: string, method: 'POST' | 'DELETE', body: unknown, token = TECH) => {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'x-edgevisor-via': 'api', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const healthy = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }).catch(() => null))?.ok === true;

describe('POST /v1/children, DELETE /v1/children/:id, edgevisor add|delete', () => {
  const tmp = tempDir();
  let svc: Service;
  before(async () => {
    const base = await childrenTree('box', ['web']);
    const cams = { id: 'cams', strategy: 'simple_one_for_one', max_children: 3, template: { shutdown: '2s', process: { command: [process.execPath, fixture] } } };
    svc = await startService({ ...base, children: [...(base['children'] as unknown[]), cams] }, join(tmp.dir, 'events.db'));
    await waitFor('web running', () => svc.tree.child('web')?.state === 'running', 20_000);
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  test('a child from the template, its env given at add time, runs as a real process; deleted, it stops and is gone', async () => {
    const port = await freePort();
    const r = await send(`${svc.url}/v1/children`, 'POST', { parent: 'cams', child: { id: 'dock', env: { PORT: String(port) } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.added, 'dock');
    assert.equal(r.body.child.dynamic, true);
    await waitFor('dock serving on its own port', () => healthy(port), 20_000);
    const pid = svc.tree.child('dock')?.info?.pid as number;
    const ev = svc.store.since(0, 1000).find((e) => e.type === 'manual' && e.data?.['action'] === 'add');
    assert.deepEqual(ev?.data, { action: 'add', role: 'technician', via: 'api', added: 'dock', parent: 'cams' });

    const d = await send(`${svc.url}/v1/children/dock`, 'DELETE', undefined);
    assert.equal(d.status, 202);
    assert.deepEqual(d.body, { accepted: true, action: 'delete', child: 'dock' });
    await waitFor('dock gone from the tree', () => svc.tree.child('dock') === undefined, 10_000);
    assert.equal(await healthy(port), false, 'its process is stopped');
    assert.throws(() => process.kill(pid, 0), 'no process left');
    const tree = await call(`${svc.url}/v1/tree`, { token: VIEWER });
    assert.ok(!tree.body.nodes.some((n: { id: string }) => n.id === 'dock'));
  });

  test('a child spec under a static supervisor, checked by the tree file schema, with its probe', async () => {
    const port = await freePort();
    const child = { id: 'extra', process: { command: [process.execPath, fixture], env: { PORT: String(port) } }, probes: [{ http: { url: `http://127.0.0.1:${port}/healthz` }, every: '250ms', startup_grace: '5s' }] };
    const r = await send(`${svc.url}/v1/children`, 'POST', { parent: 'box', child });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await waitFor('extra running (past its probe)', () => svc.tree.child('extra')?.state === 'running', 20_000);
    assert.deepEqual(svc.tree.child('box')?.children, ['web', 'cams', 'extra']);
    const d = await send(`${svc.url}/v1/children/extra`, 'DELETE', undefined);
    assert.equal(d.status, 202);
    await waitFor('extra gone', () => svc.tree.child('extra') === undefined, 10_000);
  });

  test('refusals: the field named, the right status and code, nothing recorded', async () => {
    const before = svc.store.lastSeq();
    const cases: [unknown, number, string, RegExp][] = [
      [{ parent: 'box', child: { id: 'x', process: { command: 'node' }, every: 1 } }, 400, 'EDGEVISOR_ERR_SPEC_INVALID', /child\.process\.command: expected a command as a list.*child\.every: unknown field/],
      [{ parent: 'cams', child: { id: 'x', process: {} } }, 400, 'EDGEVISOR_ERR_SPEC_INVALID', /process: unknown field; cams is simple_one_for_one/],
      [{ child: {} }, 400, 'EDGEVISOR_ERR_BAD_REQUEST', /^parent: expected the id of a supervisor, got nothing$/],
      [{ parent: 'box', kid: {} }, 400, 'EDGEVISOR_ERR_BAD_REQUEST', /^kid: unknown field; accepted: parent, child$/],
      [[1], 400, 'EDGEVISOR_ERR_BAD_REQUEST', /^body: expected JSON/],
      [{ parent: 'nope', child: {} }, 404, 'EDGEVISOR_ERR_UNKNOWN_CHILD', /no child "nope"/],
      [{ parent: 'web', child: {} }, 409, 'EDGEVISOR_ERR_STATE_CONFLICT', /it is a worker/],
      [{ parent: 'cams', child: { id: 'web' } }, 409, 'EDGEVISOR_ERR_CHILD_EXISTS', /already has a child "web"/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await send(`${svc.url}/v1/children`, 'POST', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.body.error.code, code, JSON.stringify(body));
      assert.match(r.body.error.message, message);
    }
    const del = await send(`${svc.url}/v1/children/web`, 'DELETE', undefined);
    assert.equal(del.status, 409);
    assert.match(del.body.error.message, /declared in the tree file/);
    assert.equal((await send(`${svc.url}/v1/children`, 'POST', { parent: 'cams', child: {} }, VIEWER)).status, 403, 'a viewer cannot add');
    assert.equal((await send(`${svc.url}/v1/children/web`, 'DELETE', undefined, VIEWER)).status, 403);
    assert.equal(svc.store.lastSeq(), before, 'refused requests leave no event');
  });

  test('a repeated DELETE while the child stops is a 409; the child being deleted leaves room under max_children', async () => {
    const ports = await Promise.all([1, 2, 3, 4].map(() => freePort()));
    const child = (id: string, i: number, extra: Record<string, string> = {}) => ({ parent: 'cams', child: { id, env: { PORT: String(ports[i]), ...extra } } });
    // x1 ignores SIGTERM: its stop waits out the template's 2 s grace, the window a second DELETE falls in.
    for (const [i, id] of ['x1', 'x2', 'x3'].entries()) {
      const r = await send(`${svc.url}/v1/children`, 'POST', child(id, i, id === 'x1' ? { IGNORE_SIGTERM: '1' } : {}));
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await waitFor('x1 serving (its SIGTERM handler installed)', () => healthy(ports[0]!), 20_000);
    const full = await send(`${svc.url}/v1/children`, 'POST', child('x4', 3));
    assert.equal(full.status, 409, 'max_children 3');
    assert.equal((await send(`${svc.url}/v1/children/x1`, 'DELETE', undefined)).status, 202);
    for (let i = 0; i < 2; i++) {
      const again = await send(`${svc.url}/v1/children/x1`, 'DELETE', undefined);
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal(again.body.error.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
      assert.match(again.body.error.message, /x1 is being deleted/);
    }
    const room = await send(`${svc.url}/v1/children`, 'POST', child('x4', 3));
    assert.equal(room.status, 201, `x1 on its way out leaves room: ${JSON.stringify(room.body)}`);
    const readd = await send(`${svc.url}/v1/children`, 'POST', child('x1', 0));
    assert.equal(readd.status, 409);
    assert.equal(readd.body.error.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
    assert.match(readd.body.error.message, /x1 is being deleted: add it again once it is gone/);
    assert.equal(svc.tree.child('x1')?.state, 'stopping', 'all of that while x1 was still stopping');
    await waitFor('x1 gone', () => svc.tree.child('x1') === undefined, 10_000);
    const deletes = svc.store.since(0, 10_000).filter((e) => e.type === 'manual' && e.data?.['action'] === 'delete' && e.child === 'x1');
    assert.equal(deletes.length, 1, 'one delete accepted, one recorded');
    for (const id of ['x2', 'x3', 'x4']) assert.equal((await send(`${svc.url}/v1/children/${id}`, 'DELETE', undefined)).status, 202);
    await waitFor('all gone', () => ['x2', 'x3', 'x4'].every((id) => svc.tree.child(id) === undefined), 10_000);
  });

  test('edgevisor add (template and --file) and delete, through the real bin', async () => {
    const env = { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH };
    const port = await freePort();
    const a = await edgevisor(['add', 'cams', '--env', `PORT=${port}`], env);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout.trim(), /^added cams-\d+ to cams$/);
    const id = a.stdout.trim().split(' ')[1]!;
    await waitFor(`${id} serving`, () => healthy(port), 20_000);
    const file = join(tmp.dir, 'child.yaml');
    writeFileSync(file, `id: filed\nprocess: { command: [node, -e, "setInterval(() => {}, 1000)"] }\n`);
    const f = await edgevisor(['add', 'box', '--file', file], env);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout.trim(), 'added filed to box');
    const bad = await edgevisor(['add', 'cams', '--env', 'NOEQUALS'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--env expects NAME=VALUE, got "NOEQUALS"/);
    for (const x of [id, 'filed']) {
      const d = await edgevisor(['delete', x], env);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout.trim(), `deleting ${x} (stopped, then removed from the tree)`);
    }
    await waitFor('both gone', () => svc.tree.child(id) === undefined && svc.tree.child('filed') === undefined, 10_000);
    const refused = await edgevisor(['delete', 'web'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /declared in the tree file/);
  });
});
