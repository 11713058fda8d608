// A technician's restart of a child with dependents, with real processes (http-child.js), the real
// API and the real CLI: it restarts what the parent's strategy would restart on a failure
// (rest_for_one: the child and those after it; one_for_all: every sibling), in order, not counted
// toward intensity; `only` restarts the named child alone; the API and the CLI say what restarted.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { buildTree, explain, procChild, tech, waitFor, type Harness } from '../unit/runtime-harness.ts';
import { freePort } from '../helpers/net.ts';
import { TECH, call, startService, tempDir } from './api-helpers.ts';

let open: Harness[] = [];
afterEach(async () => {
  const hs = open;
  open = [];
  for (const h of hs) await h.close();
});
const tree = async (obj: Record<string, unknown>) => {
  const h = await buildTree(obj);
  open.push(h);
  return h;
};

/** web, then pipeline (rest_for_one: camera -> inference -> recorder); intensity 1 everywhere. */
async function pipelineTree() {
  const p = { web: await freePort(), camera: await freePort(), inference: await freePort(), recorder: await freePort() };
  return {
    name: 'box',
    intensity: 1,
    period: '60s',
    children: [
      procChild('web', p.web),
      { id: 'pipeline', strategy: 'rest_for_one', intensity: 1, period: '60s', children: [procChild('camera', p.camera), procChild('inference', p.inference), procChild('recorder', p.recorder)] },
    ],
  };
}

/** A TCP listener the test opens and closes, as the target of a child's startup probe. */
async function listenGate(port: number): Promise<Server> {
  const s = createServer((sock) => sock.destroy());
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
  return s;
}

const pids = (h: Harness, ids: string[]) => Object.fromEntries(ids.map((id) => [id, h.pid(id)]));
const allRunning = (h: Harness, ids: string[]) => ids.every((id) => h.state(id) === 'running');

describe('manual restart of a child with dependents (real processes)', () => {
  test('rest_for_one: camera, then inference, then recorder; stopped in reverse, started in order; web untouched; no intensity', async () => {
    const h = await tree(await pipelineTree());
    const ids = ['web', 'camera', 'inference', 'recorder'];
    const before = pids(h, ids);
    const mark = h.events.at(-1)!.seq;

    const plan = h.tree.restartChild('camera', tech);
    assert.deepEqual(plan.restarting, ['camera', 'inference', 'recorder']);
    assert.equal(plan.strategy, 'rest_for_one');
    await explain(h, () => waitFor('all three back with new pids', () => allRunning(h, ids) && ['camera', 'inference', 'recorder'].every((id) => h.pid(id) !== before[id]), 30_000));

    assert.equal(h.pid('web'), before.web, 'web (another branch) keeps its process');
    assert.deepEqual(ids.map((id) => h.restarts(id)), [0, 1, 1, 1]);
    // Reverse stop order, then start order, each after the one before is past its startup probe.
    const seq = (id: string, to: 'stopping' | 'starting' | 'running') => h.seqOf(id, to, mark);
    assert.ok(seq('recorder', 'stopping') < seq('inference', 'stopping') && seq('inference', 'stopping') < seq('camera', 'stopping'), h.dump());
    assert.ok(seq('camera', 'running') < seq('inference', 'starting') && seq('inference', 'running') < seq('recorder', 'starting'), h.dump());
    const dependents = h.events.filter((e) => e.seq > mark && e.type === 'restart');
    assert.deepEqual(dependents.map((e) => [e.child, e.data?.cause, e.data?.sibling]), [['recorder', 'manual', 'camera'], ['inference', 'manual', 'camera']]);
    const manual = h.events.find((e) => e.seq > mark && e.type === 'manual');
    assert.deepEqual(manual?.data?.restarting, ['camera', 'inference', 'recorder']);
    assert.equal(manual?.reason, 'restart requested by technician via test: restarting camera, then inference, then recorder (rest_for_one)');

    // Twice more with intensity 1: manual restarts are not failures.
    for (const id of ['inference', 'camera']) {
      const old = pids(h, ids);
      h.tree.restartChild(id, tech);
      await explain(h, () => waitFor(`${id} restart done`, () => allRunning(h, ids) && h.pid(id) !== old[id] && h.pid('recorder') !== old.recorder, 30_000));
      assert.equal(h.pid('camera') === old.camera, id === 'inference', 'restarting inference leaves camera (before it) alone');
    }
    assert.equal(h.events.filter((e) => e.type === 'escalation').length, 0);
    assert.equal(h.tree.snapshot().state, 'running');
    assert.deepEqual(ids.map((id) => h.restarts(id)), [0, 2, 3, 3]);
  });

  test('only: the named child alone; a manually stopped dependent stays stopped', async () => {
    const h = await tree(await pipelineTree());
    const before = pids(h, ['camera', 'inference', 'recorder']);
    const plan = h.tree.restartChild('camera', tech, { only: true });
    assert.deepEqual([plan.restarting, plan.spared], [['camera'], ['inference', 'recorder']]);
    await explain(h, () => waitFor('camera back', () => h.state('camera') === 'running' && h.pid('camera') !== before.camera, 20_000));
    assert.deepEqual([h.pid('inference'), h.pid('recorder')], [before.inference, before.recorder]);
    assert.deepEqual([h.restarts('inference'), h.restarts('recorder')], [0, 0]);

    h.tree.stopChild('recorder', tech);
    await waitFor('recorder stopped', () => h.state('recorder') === 'stopped');
    const inference = h.pid('inference');
    assert.deepEqual(h.tree.restartChild('camera', tech).restarting, ['camera', 'inference']);
    await explain(h, () => waitFor('camera and inference back', () => allRunning(h, ['camera', 'inference']) && h.pid('inference') !== inference, 30_000));
    assert.equal(h.state('recorder'), 'stopped', 'a manual stop holds across a sibling restart');
    assert.equal(h.tree.child('recorder')!.manuallyStopped, true);
  });

  test('one_for_all: every sibling restarts, before and after the named one, in start order', async () => {
    const p = [await freePort(), await freePort(), await freePort()];
    const h = await tree({ name: 'box', strategy: 'one_for_all', children: [procChild('a', p[0]!), procChild('b', p[1]!), procChild('c', p[2]!)] });
    const before = pids(h, ['a', 'b', 'c']);
    const mark = h.events.at(-1)!.seq;
    assert.deepEqual(h.tree.restartChild('b', tech).restarting, ['a', 'b', 'c']);
    await explain(h, () => waitFor('all back', () => allRunning(h, ['a', 'b', 'c']) && ['a', 'b', 'c'].every((id) => h.pid(id) !== before[id]), 30_000));
    assert.ok(h.seqOf('a', 'running', mark) < h.seqOf('b', 'starting', mark) && h.seqOf('b', 'running', mark) < h.seqOf('c', 'starting', mark), h.dump());
  });
});

describe('a manual restart does not hold its supervisor while the children start', () => {
  test('a sibling that crashes while the restarted child sits in its startup is handled at once', async () => {
    const [pSlow, pOther, pGate] = [await freePort(), await freePort(), await freePort()];
    let gate = await listenGate(pGate);
    const slow = { ...procChild('slow', pSlow, { probe: false }), probes: [{ name: 'gate', tcp: { host: '127.0.0.1', port: pGate }, every: '100ms', timeout: '100ms', failures: 2, startup_grace: '20s' }] };
    const h = await tree({ name: 'box', children: [slow, procChild('other', pOther)] });
    await new Promise((r) => gate.close(r));
    h.tree.restartChild('slow', tech);
    await explain(h, () => waitFor('slow in its startup again', () => h.state('slow') === 'starting' && h.restarts('slow') === 1));
    const other = h.pid('other');
    await fetch(`http://127.0.0.1:${pOther}/fail/crash?code=1`, { method: 'POST', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    // The crash is decided on at once (not queued behind the startup); other starts again after
    // slow is past its startup, as ordered start has it after a failure too.
    await explain(h, () => waitFor('the restart of other decided', () => h.restartEvents('other').length === 1, 15_000));
    assert.equal(h.state('slow'), 'starting', 'still in its startup: the crash was not queued behind it');
    gate = await listenGate(pGate);
    await explain(h, () => waitFor('both running', () => h.state('slow') === 'running' && h.state('other') === 'running' && h.pid('other') !== other, 15_000));
    await new Promise((r) => gate.close(r));
  });
});

describe('restart through the API and the CLI says what it restarts', () => {
  test('202 with the plan and its words; ?only=1; a bad flag is a 400; the CLI prints the same line', async () => {
    const tmp = tempDir();
    const svc = await startService(await pipelineTree(), join(tmp.dir, 'events.db'));
    try {
      await waitFor('tree running', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running'), 30_000);
      const r = await call(`${svc.url}/v1/children/inference/restart`, { method: 'POST', token: TECH });
      assert.equal(r.status, 202);
      assert.deepEqual(r.body, {
        accepted: true, action: 'restart', child: 'inference', restarting: ['inference', 'recorder'], stopping: [], strategy: 'rest_for_one', only: false,
        message: 'restarting inference, then recorder (rest_for_one)',
      });
      await waitFor('back up', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running' && n.restarts === (['inference', 'recorder'].includes(n.id) ? 1 : 0)), 30_000);
      const only = await call(`${svc.url}/v1/children/recorder/restart?only=1`, { method: 'POST', token: TECH });
      assert.equal(only.status, 202);
      assert.equal(only.body.message, 'restarting recorder only');
      const bad = await call(`${svc.url}/v1/children/camera/restart?only=maybe`, { method: 'POST', token: TECH });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /^only: expected 1 or 0/);
      await waitFor('back up', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running'), 30_000);

      const env = { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH };
      const cli = await edgevisor(['restart', 'camera'], env);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(cli.stdout, 'restarting camera, then inference, then recorder (rest_for_one)\n');
      await waitFor('back up', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running'), 30_000);
      const cliOnly = await edgevisor(['restart', 'camera', '--only'], env);
      assert.equal(cliOnly.stdout, 'restarting camera only (rest_for_one would also restart inference, recorder)\n');
    } finally {
      await svc.close();
      tmp.remove();
    }
  });
});

/** The real bin, bounded in time. */
function edgevisor(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [resolve('bin/edgevisor.mjs'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => (child.kill('SIGKILL'), rej(new Error(`edgevisor ${args.join(' ')} timed out: ${stdout} ${stderr}`))), 20_000);
    child.on('exit', (code) => (clearTimeout(timer), res({ code, stdout, stderr })));
  });
}
