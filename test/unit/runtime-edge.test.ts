// Edge cases of the supervision runtime with in-process workers (test/unit/runtime-harness.ts),
// on fake time (test/helpers/fake-clock.ts): backoffs and heartbeat timeouts of seconds take
// milliseconds, every wait is on a condition, and durations are asserted exactly. They pin down
// timing-sensitive semantics (backoff, manual actions during backoff, restart types) that real
// processes make slow. The harness checks every event against the transition table at close.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { onFakeTime, createWorkers as workersOn, explain, tech } from './runtime-harness.ts';

const fake = onFakeTime();
const tree = (obj: Record<string, unknown>, start?: boolean) => fake.tree(obj, start);
const createWorkers = () => workersOn(fake.clock);
const waitFor = (label: string, cond: () => boolean, maxMs?: number) => fake.clock.until(label, cond, maxMs);
const sleep = (ms: number) => fake.clock.advance(ms);
const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

describe('restart types (in-process workers)', () => {
  test('temporary: a crash leaves it failed, never restarted, siblings untouched even under one_for_all', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', strategy: 'one_for_all', intensity: 5, children: [w.child('a'), w.child('t', { restart: 'temporary' }), w.child('c')] });
    w.crash('t');
    await waitFor('t failed', () => h.state('t') === 'failed');
    await sleep(200);
    assert.equal(h.state('t'), 'failed');
    assert.deepEqual([w.runs.a, w.runs.t, w.runs.c], [1, 1, 1]);
    assert.equal(h.events.filter((e) => e.type === 'restart').length, 0, 'a temporary child going down restarts nothing');
  });

  test('one_for_all: a temporary sibling is stopped, not restarted; a failed temporary stays failed', async () => {
    const w = createWorkers();
    const h = await tree({
      name: 'box',
      strategy: 'one_for_all',
      intensity: 5,
      children: [w.child('a'), w.child('t1', { restart: 'temporary' }), w.child('t2', { restart: 'temporary' }), w.child('c')],
    });
    w.crash('t1');
    await waitFor('t1 failed', () => h.state('t1') === 'failed');
    w.crash('a');
    await explain(h, () => waitFor('a and c restarted', () => w.runs.a === 2 && w.runs.c === 2 && h.state('c') === 'running'));
    await sleep(200);
    assert.deepEqual([h.state('t1'), h.state('t2')], ['failed', 'stopped']);
    assert.deepEqual([w.runs.t1, w.runs.t2], [1, 1], 'temporary children are never started again');
    assert.deepEqual(h.restartEvents('a')[0]?.data?.affected, ['a', 'c']);
    assert.equal(h.restartEvents('t2').length, 0);
  });

  test('transient in-process worker: returning is a clean end, throwing is restarted', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', children: [w.child('done', { restart: 'transient' }), w.child('boom', { restart: 'transient' })] });
    w.finish('done');
    w.crash('boom');
    await waitFor('boom restarted', () => w.runs.boom === 2 && h.state('boom') === 'running');
    await waitFor('done stopped', () => h.state('done') === 'stopped');
    await sleep(150);
    assert.equal(w.runs.done, 1);
    assert.equal(h.restartEvents('boom')[0]?.data?.cause, 'exit');
  });
});

describe('backoff (in-process workers)', () => {
  test('a child in backoff: a manual stop keeps it stopped past its timer; a manual start starts it now', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', intensity: 20, backoff: { initial: '2s', max: '2s', reset_after: '60s' }, children: [w.child('s'), w.child('go')] });
    // The second crash in a row waits 2 s. `go` is later in the order, so it goes first: a child
    // in backoff holds the restarts of the children after it (see the known bug below).
    for (const id of ['go', 's']) {
      w.crash(id);
      await waitFor(`${id} restarted once`, () => w.runs[id] === 2 && h.state(id) === 'running');
      w.crash(id);
      await waitFor(`${id} in backoff`, () => h.state(id) === 'backoff');
    }
    h.tree.stopChild('s', tech);
    const t0 = fake.clock.now();
    h.tree.startChild('go', tech);
    await waitFor('go running', () => h.state('go') === 'running');
    assert.equal(fake.clock.now() - t0, 0, 'a manual start does not wait out the backoff: not one fake millisecond');
    assert.equal(w.runs.go, 3);
    await sleep(2300); // past the 2 s backoff of s
    assert.equal(h.state('s'), 'stopped', 'the pending timer did not start a manually stopped child');
    assert.equal(w.runs.s, 2);
    assert.equal(w.runs.go, 3, 'nor start go a second time');
    h.tree.startChild('s', tech);
    await waitFor('s running', () => h.state('s') === 'running' && w.runs.s === 3);
  });
});

describe('manual actions: errors', () => {
  test('unknown ids throw UNKNOWN_CHILD; actions the state does not allow throw STATE_CONFLICT', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', children: [w.child('a'), { id: 'group', children: [w.child('x')] }] });
    for (const act of ['stopChild', 'startChild', 'restartChild'] as const) {
      assert.throws(() => h.tree[act]('nope', tech), code('EDGEVISOR_ERR_UNKNOWN_CHILD'), act);
    }
    assert.throws(() => h.tree.startChild('a', tech), code('EDGEVISOR_ERR_STATE_CONFLICT'), 'start of a running child');
    h.tree.stopChild('group', tech);
    await waitFor('group stopped', () => h.state('group') === 'stopped' && h.state('x') === 'stopped');
    assert.throws(() => h.tree.stopChild('group', tech), code('EDGEVISOR_ERR_STATE_CONFLICT'), 'stop of a stopped child');
    assert.throws(() => h.tree.restartChild('group', tech), code('EDGEVISOR_ERR_STATE_CONFLICT'), 'restart of a stopped child');
    assert.throws(() => h.tree.startChild('x', tech), /start group first/, 'start of a child whose supervisor is stopped');
    assert.throws(() => h.tree.startChild('x', tech), code('EDGEVISOR_ERR_STATE_CONFLICT'));
    const manual = h.events.filter((e) => e.type === 'manual');
    assert.equal(manual.length, 1, 'refused actions leave no trace in the log');
    assert.deepEqual(manual[0]?.data, { action: 'stop', role: 'technician', via: 'test' });
    h.tree.startChild('group', tech);
    await waitFor('x back with its group', () => h.state('x') === 'running');
    assert.equal(w.runs.x, 2);
  });
});

describe('regressions found by adversarial tests', () => {
  test('delays grow 0, 100, 200 ms and reset to 0 after reset_after of clean running', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', intensity: 20, backoff: { initial: '100ms', max: '1s', reset_after: '600ms' }, children: [w.child('a')] });
    for (let i = 2; i <= 4; i++) {
      w.crash('a');
      await waitFor(`run ${i}`, () => w.runs.a === i && h.state('a') === 'running');
    }
    await sleep(800); // past reset_after
    w.crash('a');
    await waitFor('run 5', () => w.runs.a === 5 && h.state('a') === 'running');
    // Today the last delay is 400: the reset never happens after a crash (upSince is cleared first).
    assert.deepEqual(h.restartEvents('a').map((e) => e.data?.delayMs), [0, 100, 200, 0]);
  });

  test('one_for_one: a sibling in backoff does not hold back the restart of another child', async () => {
    const w = createWorkers();
    const h = await tree({ name: 'box', intensity: 20, backoff: { initial: '3s', max: '3s', reset_after: '60s' }, children: [w.child('first'), w.child('second')] });
    w.crash('first');
    await waitFor('first restarted once', () => w.runs.first === 2 && h.state('first') === 'running');
    w.crash('first');
    await waitFor('first in a 3 s backoff', () => h.state('first') === 'backoff');
    const t0 = fake.clock.now();
    w.crash('second'); // its first failure: restart at once (delay 0)
    await explain(h, () => waitFor('second back', () => w.runs.second === 2 && h.state('second') === 'running', 1500));
    assert.equal(fake.clock.now() - t0, 0, 'its restart is immediate although first waits out 3 s');
  });

  test('a child that turns unhealthy and then exits before its supervisor acts is restarted once, not twice', async () => {
    const w = createWorkers();
    const h = await tree({
      name: 'box',
      intensity: 20,
      children: [
        w.child('a', {}, { heartbeat_timeout: '200ms' }),
        // Ignores the abort for its whole 1.5 s grace: stopping it keeps the supervisor's queue busy.
        { id: 'slowstop', shutdown: '1500ms', inproc: { run: async () => new Promise<void>(() => undefined) } },
      ],
    });
    // The moment a is declared unhealthy, its code dies too (as a stuck worker often does).
    h.tree.onEvent((e) => {
      if (e.type === 'transition' && e.child === 'a' && e.to === 'unhealthy' && w.runs.a === 1) w.crash('a');
    });
    h.tree.stopChild('slowstop', tech);
    w.stall('a');
    await explain(h, () => waitFor('a restarted', () => w.runs.a === 2 && h.state('a') === 'running', 6000));
    await sleep(200);
    assert.equal(h.restartEvents('a').length, 1, `one failure, one restart decision\n${h.dump()}`);
    assert.equal(h.restarts('a'), 1);
  });
});
