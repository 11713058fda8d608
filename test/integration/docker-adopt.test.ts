// `edgevisor run` supervising containers is SIGKILLed and started again: the running containers
// are adopted with zero restarts and the event log continues where it stopped. A SIGTERM leaves
// them running too (docker.on_exit: leave, the default) unless the tree says on_exit: stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestProject, dockerUnavailable, fault, type TestContainer, type TestProject } from '../helpers/docker.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const skip = (await dockerUnavailable()) ?? false;
const TECH = 'technician-token-456';
const bin = resolve('bin/edgevisor.mjs');

describe('supervisor SIGKILLed under running containers', { skip, timeout: 300_000 }, () => {
  let proj: TestProject;
  let dir: string;
  let a: TestContainer, b: TestContainer;
  let sup: ChildProcess | undefined;
  let api: string;
  let file: string;
  let writeTree: (onExit?: 'leave' | 'stop') => void;

  before(async () => {
    proj = await createTestProject();
    a = await proj.create('web');
    b = await proj.create('camera');
    dir = mkdtempSync(join(tmpdir(), 'ev-adopt-'));
    file = join(dir, 'tree.yaml');
    const probe = (c: TestContainer) => `      - { name: live, http: { url: "${c.url}/healthz" }, every: 500ms, timeout: 1s, startup_grace: 30s }`;
    writeTree = (onExit) => writeFileSync(
      file,
      [
        'version: 1',
        'name: adoptbox',
        `docker: { project: ${proj.name}, timeout: 20s${onExit ? `, on_exit: ${onExit}` : ''} }`,
        'store: { path: ./events.db }',
        'children:',
        '  - id: web',
        '    docker: { service: web }',
        '    probes:',
        probe(a),
        '  - id: camera',
        '    docker: { service: camera }',
        '    probes:',
        probe(b),
        '',
      ].join('\n'),
    );
    writeTree();
    api = `http://127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    sup?.kill('SIGKILL');
    await proj?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = () => {
    const p = spawn(process.execPath, [bin, 'run', file], {
      env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_LISTEN: api.replace('http://', ''), EDGEVISOR_TECHNICIAN_TOKEN: TECH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    return { p, out: () => out };
  };
  const get = async (path: string) => (await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${TECH}` }, signal: AbortSignal.timeout(5000) })).json() as Promise<any>;
  /** Waits until both children are running; on timeout the supervisor's output is in the error. */
  const untilAllRunning = (what: string, sup: { out(): string }) =>
    waitFor(what, allRunning, 90_000, 300).catch((err: Error) => {
      throw new Error(`${err.message}\n${sup.out()}`);
    });
  const allRunning = async () => {
    const t = await get('/v1/tree');
    return ['web', 'camera'].every((id) => t.nodes.find((n: any) => n.id === id)?.state === 'running');
  };

  test('containers are adopted with zero restarts and the event seq continues', async () => {
    const first = run();
    sup = first.p;
    await untilAllRunning('first run: both running', first);
    const before = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    const lastSeq: number = (await get('/v1/events?limit=1')).lastSeq;
    assert.ok(lastSeq > 0, 'events were logged');

    first.p.kill('SIGKILL');
    await new Promise((r) => first.p.once('exit', r));

    const second = run();
    sup = second.p;
    await untilAllRunning('second run: both running', second);
    const afterRun = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    assert.deepEqual(
      afterRun.map((s) => [s.running, s.startedAt, s.restartCount]),
      before.map((s) => [s.running, s.startedAt, s.restartCount]),
      'zero app restarts',
    );
    const events: any[] = (await get(`/v1/events?since=${lastSeq}&limit=1000`)).events;
    assert.ok(events.length > 0 && events[0].seq === lastSeq + 1, `seq continues from ${lastSeq}: ${events.map((e) => e.seq).join(',')}`);
    assert.ok(events.some((e) => e.child === 'web' && /adopted/.test(e.reason)), 'web adopted');
    const tree = await get('/v1/tree');
    assert.deepEqual(['web', 'camera'].map((id) => tree.nodes.find((n: any) => n.id === id).restarts), [0, 0]);

    // Still supervised after adoption: a crash is seen and restarted.
    await fault(b.url, 'crash?code=4');
    await waitFor('camera restarted by the second supervisor', async () => (await get('/v1/tree')).nodes.find((n: any) => n.id === 'camera').restarts === 1, 60_000, 300);
    second.p.kill('SIGTERM');
    await new Promise((r) => second.p.once('exit', r));
  });

  test('SIGTERM leaves the containers running for the next supervisor; on_exit: stop stops them', async () => {
    const first = run();
    sup = first.p;
    await untilAllRunning('both running', first);
    const before = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    first.p.kill('SIGTERM');
    const code = await new Promise((r) => first.p.once('exit', r));
    assert.equal(code, 0, first.out());
    assert.match(first.out(), /left running; the next supervisor adopts it/);
    const left = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    assert.deepEqual(left.map((s) => [s.running, s.startedAt]), before.map((s) => [true, s.startedAt]), 'still running, same run');

    writeTree('stop');
    const second = run();
    sup = second.p;
    await untilAllRunning('adopted again', second);
    const adopted = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    assert.deepEqual(adopted.map((s) => s.startedAt), before.map((s) => s.startedAt), 'adopted, not restarted');
    second.p.kill('SIGTERM');
    assert.equal(await new Promise((r) => second.p.once('exit', r)), 0, second.out());
    const stopped = await Promise.all([a, b].map((c) => proj.inspect(c.id)));
    assert.deepEqual(stopped.map((s) => s.running), [false, false], 'on_exit: stop stops them');
    writeTree();
  });
});
