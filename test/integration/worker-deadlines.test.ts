// Typed workers under a real tree, API and CLI: an in-process worker that breaks each kind of
// deadline (the longest stay in a state, a per-state heartbeat, a transition) is restarted alone
// with a reason naming the constraint; its own state is in the snapshot, the API, the event log
// and `edgevisor status`; an undeclared state is refused with a stable code.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { defineWorker } from '../../supervisor/src/spec/worker-lifecycle.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, call, startService, tempDir, type Service } from './api-helpers.ts';

const LIMIT = '600ms';
const untilAborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
/** Heartbeats every 20 ms until the run is stopped. */
async function beat(signal: AbortSignal, heartbeat: () => void): Promise<void> {
  while (!signal.aborted) {
    heartbeat();
    await new Promise((r) => setTimeout(r, 20));
  }
}

const runs = { slow: 0, quiet: 0, flaky: 0 };
let undeclared: unknown;

/** Run 1 never leaves connecting. */
const slow = defineWorker({
  states: ['connecting', 'streaming'],
  initial: 'connecting',
  deadlines: { connecting: { maxFor: LIMIT } },
  async run({ signal, heartbeat, setState }) {
    if (runs.slow++ === 0) return untilAborted(signal);
    setState('streaming');
    await beat(signal, heartbeat);
  },
});
/** Run 1 streams, then stops heartbeating (alive, no progress). */
const quiet = defineWorker({
  states: ['connecting', 'streaming'],
  initial: 'connecting',
  deadlines: { streaming: { heartbeat: LIMIT } },
  async run({ signal, heartbeat, setState }) {
    setState('streaming');
    if (runs.quiet++ === 0) {
      for (let i = 0; i < 5; i++) {
        heartbeat();
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        // @ts-expect-error not a declared state: refused at run time too
        setState('buffering');
      } catch (err) {
        undeclared = err;
      }
      return untilAborted(signal);
    }
    await beat(signal, heartbeat);
  },
});
/** Run 1 flaps between reconnecting and connecting and never gets back to streaming. */
const flaky = defineWorker({
  states: ['connecting', 'streaming', 'reconnecting'],
  initial: 'connecting',
  deadlines: { transitions: { 'reconnecting->streaming': LIMIT } },
  async run({ signal, heartbeat, setState }) {
    setState('streaming');
    if (runs.flaky++ === 0) {
      for (let i = 0; !signal.aborted; i++) {
        setState(i % 2 ? 'connecting' : 'reconnecting');
        await new Promise((r) => setTimeout(r, 20));
      }
      return;
    }
    await beat(signal, heartbeat);
  },
});

function edgevisor(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [resolve('bin/edgevisor.mjs'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgevisor ${args.join(' ')} did not finish in 20 s: ${stdout} ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('typed workers: states and deadlines', () => {
  const tmp = tempDir();
  let svc: Service;
  const events: TreeEvent[] = [];
  before(async () => {
    svc = await startService(
      {
        version: 1,
        name: 'typed',
        intensity: 10,
        backoff: { initial: '50ms', max: '1s', reset_after: '60s' },
        children: [
          { id: 'slow', inproc: { run: slow } },
          { id: 'quiet', inproc: { run: quiet } },
          { id: 'flaky', inproc: { run: flaky } },
          // As a tree file names it: the declaration comes with the module, known only once loaded.
          { id: 'loaded', inproc: { module: resolve('test/fixtures/typed-worker.ts') } },
        ],
      },
      join(tmp.dir, 'events.db'),
    );
    svc.tree.onEvent((e) => events.push(e));
    await waitFor('every worker restarted once and streaming', () => ['slow', 'quiet', 'flaky', 'loaded'].every((id) => {
      const n = svc.tree.child(id);
      return n?.restarts === 1 && n.state === 'running' && n.workerState === 'streaming';
    }), 15_000).catch((err) => { throw new Error(`${(err as Error).message}: ${JSON.stringify(svc.tree.snapshot().nodes.map((n) => [n.id, n.state, n.restarts, n.workerState, n.lastReason]))}`); });
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  const restartOf = (id: string) => svc.store.since(0, 5000).find((e) => e.type === 'restart' && e.child === id);

  test('each broken deadline is a stall verdict whose reason names the constraint; only that worker restarts', () => {
    const expect: Record<string, { words: RegExp; deadline: string }> = {
      slow: { words: /^stayed in connecting (\d+) ms, limit 600 ms$/, deadline: 'max_for' },
      loaded: { words: /^stayed in connecting (\d+) ms, limit 600 ms$/, deadline: 'max_for' },
      quiet: { words: /^no heartbeat in streaming for (\d+) ms, limit 600 ms$/, deadline: 'heartbeat' },
      flaky: { words: /^reconnecting -> streaming not reached after (\d+) ms, limit 600 ms(?: \(now connecting\))?$/, deadline: 'transition' },
    };
    for (const [id, want] of Object.entries(expect)) {
      const r = restartOf(id);
      assert.ok(r, `a restart event for ${id}`);
      assert.equal(r.data?.['cause'], 'deadline');
      assert.equal(r.data?.['deadline'], want.deadline);
      const m = want.words.exec(String(r.data?.['words']));
      assert.ok(m, `${id}: ${String(r.data?.['words'])}`);
      assert.ok(Number(m[1]) > 600, `past the limit: ${m[1]} ms`);
      assert.ok(r.reason.startsWith(String(r.data?.['words'])), `the reason says the same: ${r.reason}`);
      assert.equal(svc.tree.child(id)!.lastRestartReason, r.data?.['words']);
      // Hung semantics: killed, not waited for.
      const unhealthy = events.find((e) => e.child === id && e.type === 'transition' && e.to === 'unhealthy');
      assert.equal(unhealthy?.data?.['hung'], true);
      const stopping = events.find((e) => e.child === id && e.type === 'transition' && e.to === 'stopping');
      assert.equal(stopping?.data?.['shutdown'], 'brutal_kill');
    }
    assert.deepEqual(runs, { slow: 2, quiet: 2, flaky: 2 }, 'each restarted once, alone');
    assert.equal(svc.tree.child('loaded')!.restarts, 1);
  });

  test('an undeclared state is refused with a stable code and the declared ones', () => {
    assert.equal((undeclared as { code?: string }).code, 'EDGEVISOR_ERR_UNDECLARED_STATE');
    assert.equal((undeclared as Error).message, 'worker "quiet": setState("buffering"): not a declared state (declared: connecting, streaming)');
  });

  test('state changes are events, a flapping worker folded into a few', () => {
    const changes = svc.store.since(0, 5000).filter((e) => e.type === 'worker_state');
    const slowChanges = changes.filter((e) => e.child === 'slow');
    assert.deepEqual(slowChanges.map((e) => e.reason), ['connecting -> streaming']);
    assert.deepEqual(slowChanges[0]!.data, { from: 'connecting', to: 'streaming', changes: 1 });
    // flaky's first run changed state every 20 ms for 600 ms: about 30 changes.
    const flakyRun1 = changes.filter((e) => e.child === 'flaky' && e.seq < restartOf('flaky')!.seq);
    const folded = flakyRun1.reduce((n, e) => n + Number(e.data?.['changes']), 0);
    assert.ok(folded >= 20, `changes counted: ${folded}`);
    assert.ok(flakyRun1.length <= 3, `folded into ${flakyRun1.length} events: ${flakyRun1.map((e) => e.reason).join(' | ')}`);
    assert.ok(flakyRun1.some((e) => /^\w+ -> \w+ \(\d+ changes in 1\.0 s\)$/.test(e.reason) || /again \(\d+ changes/.test(e.reason)), flakyRun1.map((e) => e.reason).join(' | '));
  });

  test('the worker state is in the API tree and in edgevisor status', async () => {
    const tree = await call(`${svc.url}/v1/tree`, { token: VIEWER });
    assert.equal(tree.status, 200);
    const node = (tree.body.nodes as { id: string; workerState?: string; workerStateSince?: number }[]).find((n) => n.id === 'slow')!;
    assert.equal(node.workerState, 'streaming');
    assert.ok(typeof node.workerStateSince === 'number' && node.workerStateSince <= Date.now());
    const child = await call(`${svc.url}/v1/children/quiet`, { token: VIEWER });
    assert.equal(child.body.workerState, 'streaming', JSON.stringify(child.body));

    const r = await edgevisor(['status'], { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+STATE\s+WORKER\s+UPTIME\s+RESTARTS\s+LAST-REASON$/);
    assert.match(lines.find((l) => l.trim().startsWith('slow'))!, /^\s+slow\s+running\s+streaming \d+s\s+\S+\s+1\s+stayed in connecting \d+ ms, limit 600 ms/);
    assert.match(lines.find((l) => l.trim().startsWith('typed'))!, /^typed\s+running\s+-\s/);
  });
});

test('a unit that emits states (Unit.onWorkerState, as a thread does) goes through the same door: declared ones count, others are dropped', async () => {
  const { createTree, defaultBackends, createInprocUnit, parseTreeObject } = await import('edgevisor');
  const emitters = new Set<(state: string) => void>();
  const worker = defineWorker({
    states: ['idle', 'busy'],
    initial: 'idle',
    deadlines: { busy: { maxFor: '300ms' } },
    run: ({ signal }) => untilAborted(signal),
  });
  const tree = createTree(parseTreeObject({ name: 'emitting', children: [{ id: 'w', inproc: { run: worker } }] }), {
    backends: {
      ...defaultBackends(),
      inproc: (spec, ctx) => ({ ...createInprocUnit(spec, ctx), onWorkerState: (l: (s: string) => void) => (emitters.add(l), () => emitters.delete(l)) }),
    },
    onInternalError: (e) => assert.fail(String(e)),
  });
  const restarts: TreeEvent[] = [];
  tree.onEvent((e) => e.type === 'restart' && restarts.push(e));
  await tree.start();
  try {
    await waitFor('w running', () => tree.child('w')?.state === 'running');
    assert.equal(tree.child('w')!.workerState, 'idle');
    for (const l of emitters) l('bogus');
    assert.equal(tree.child('w')!.workerState, 'idle', 'an undeclared state is dropped');
    for (const l of emitters) l('busy');
    assert.equal(tree.child('w')!.workerState, 'busy');
    await waitFor('restarted on its busy deadline', () => restarts[0], 5000);
    assert.match(String(restarts[0]!.data?.['words']), /^stayed in busy \d+ ms, limit 300 ms$/);
  } finally {
    await tree.stop();
  }
});
