// Issue 15 review, on fake time (test/helpers/fake-clock.ts): a child whose start never finishes
// (an inproc module whose import hangs: test/fixtures/hang-start.mjs) must not block its tree.
// `start_timeout` bounds the start, the parent's queue is not held while a start is in flight (a
// sibling's crash is handled meanwhile), tree.stop() does not wait for it; and the thread backend
// keeps its heartbeats on the tree's clock. Runtime edge cases in the style of runtime-edge.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { onFakeTime, createWorkers as workersOn, explain, repoRoot, waitFor as realWaitFor, type Harness } from './runtime-harness.ts';
import { createInprocUnit, defaultBackends, registerBackend } from '../../supervisor/src/backends/index.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';

const HANG = join(repoRoot, 'test/fixtures/hang-start.mjs');
const WORKERS = join(repoRoot, 'test/fixtures/workers.ts');

const fake = onFakeTime();
const tree = (obj: Record<string, unknown>, start?: boolean) => fake.tree(obj, start);
const createWorkers = () => workersOn(fake.clock);
const waitFor = (label: string, cond: () => boolean, maxMs?: number) => fake.clock.until(label, cond, maxMs);
const sinceOf = (h: Harness, id: string, to: string, nth = 0) =>
  h.events.filter((e) => e.type === 'transition' && e.child === id && e.to === to)[nth]?.ts;

describe('a start that never finishes', () => {
  test('start_timeout ends it: start_failed naming the limit, exactly at the limit; the children after it start', async () => {
    const w = createWorkers();
    const h = await tree({
      name: 'box',
      intensity: 20,
      children: [w.child('a'), { id: 'hang', start_timeout: '2s', inproc: { module: HANG, export: 'run' } }, w.child('b')],
    });
    await explain(h, () => waitFor('b running', () => h.state('b') === 'running'));
    const failed = h.events.find((e) => e.type === 'transition' && e.child === 'hang' && e.from === 'starting' && e.to === 'backoff');
    assert.ok(failed, h.dump());
    assert.match(failed.reason, /start failed: the start did not finish within 2s \(start_timeout\); ended with brutal_kill/);
    assert.equal(failed.data?.startTimeoutMs, 2000);
    assert.equal(failed.ts - sinceOf(h, 'hang', 'starting')!, 2000, 'given up exactly at start_timeout (fake time)');
    assert.equal(h.restartEvents('hang')[0]?.data?.words, 'failed to start: the start did not finish within 2s (start_timeout); ended with brutal_kill');
    // Ordered start: b waited for hang's start to end (twice: the first restart is immediate).
    assert.ok(h.seqOf('b', 'starting') > h.seqOf('hang', 'backoff'), h.dump());
    assert.equal(h.state('a'), 'running');
  });

  test("a start in flight does not hold the parent's queue: a sibling's crash is handled meanwhile, and tree.stop() does not wait for it", async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', intensity: 20, children: [w.child('a'), { id: 'hang', start_timeout: '1h', inproc: { module: HANG, export: 'run' } }] }, false);
    void h.tree.start().catch(() => undefined);
    await waitFor('hang starting', () => h.state('hang') === 'starting');
    w.crash('a');
    await explain(h, () => waitFor('a restarted while hang is still starting', () => w.runs.a === 2 && h.state('a') === 'running', 5_000));
    assert.equal(h.state('hang'), 'starting');
    const t0 = fake.clock.now();
    await h.close(); // tree.stop() (bounded there: fails after 20 s of real time)
    assert.ok(fake.clock.now() - t0 < 1000, `tree.stop() took ${fake.clock.now() - t0} ms of fake time`);
    assert.deepEqual(h.path('hang').slice(-2), ['stopping', 'stopped']);
  });

  test('a thread child keeps its heartbeats on the tree clock: a spinning thread is unhealthy after heartbeat_timeout of fake time', async () => {
    const h = await tree({ name: 'box', intensity: 20, children: [{ id: 'spin', thread: { module: WORKERS, export: 'spin', heartbeat_timeout: '500ms' } }] }, false);
    // A thread boots in real time: fake time stands still until it runs (else the fake clock
    // would run the start_timeout timer first).
    void h.tree.start().catch(() => undefined);
    await realWaitFor('the thread running', () => h.state('spin') === 'running', 20_000, 10);
    await explain(h, () => waitFor('spin unhealthy', () => h.path('spin').includes('unhealthy')));
    const e = h.events.find((x) => x.type === 'transition' && x.child === 'spin' && x.to === 'unhealthy')!;
    const age = e.data?.ageMs as number;
    assert.ok(age > 500 && age < 1000, `the age is measured on the tree's clock: ${age} ms`);
    // Its stops and restarts mix real time (a thread boots, terminate() lands) with fake time (the
    // grace): move both until tree.stop() is done; then close() finds it stopped.
    let stopped = false;
    void h.tree.stop().then(() => (stopped = true));
    const deadline = Date.now() + 20_000;
    while (!stopped) {
      assert.ok(Date.now() < deadline, `tree.stop() did not finish within 20 s\n${h.dump()}`);
      await fake.clock.advance(50);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});

describe('a start that finishes after its node was stopped', () => {
  test('one_for_all stops a child mid-start; the run that comes up late is stopped before the next start, never orphaned', async () => {
    // "late": a registered backend whose start takes 1 s of tree time (a container start that
    // cannot be called off) and whose stop during that start has nothing to stop yet.
    const w = createWorkers();
    let up = 0;
    let starts = 0;
    const registry = registerBackend(defaultBackends(), 'late', (spec, ctx) => {
      const inner = createInprocUnit({ ...spec, backend: { kind: 'inproc', run: w.make('late'), heartbeatTimeoutMs: 0 } }, ctx);
      inner.onExit(() => up--);
      return {
        ...inner,
        onExit: inner.onExit,
        async start() {
          starts++;
          await new Promise<void>((r) => ctx.clock!.setTimeout(() => r(), 1000));
          await inner.start();
          up++;
        },
      };
    });
    const spec = parseTreeObject({ version: 1, name: 'box', strategy: 'one_for_all', intensity: 20, children: [w.child('a'), { id: 'late', custom: { kind: 'late' } }] });
    const errors: unknown[] = [];
    const t = createTree(spec, { backends: registry, clock: fake.clock, onInternalError: (e) => errors.push(e) });
    void t.start().catch(() => undefined);
    await waitFor('late starting', () => t.child('late')?.state === 'starting');
    w.crash('a'); // one_for_all: late is stopped while its start is in flight
    await waitFor('both running again', () => w.runs.a === 2 && t.child('late')?.state === 'running' && starts === 2);
    assert.equal(up, 1, 'one run of late is up: the one that came up late was stopped');
    assert.deepEqual(errors.map(String), []);
    let stopped = false;
    const stopping = t.stop().then(() => (stopped = true));
    await waitFor('tree stopped', () => stopped);
    await stopping;
    assert.equal(up, 0);
  });
});
