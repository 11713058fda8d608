// Two behaviours of the step executors (supervisor/src/runtime/supervisor-node.ts) that only show
// when time passes between a decision and its steps, on fake time (test/helpers/fake-clock.ts)
// with in-process workers (test/unit/runtime-harness.ts):
// - a `stop` step with `ifStillUp` is skipped for a sibling that went down on its own while an
//   earlier step of the same decision awaited a slow stop: that sibling's own failure decides;
// - a supervisor that escalated and was restarted by its parent starts with a fresh restart
//   history, as in OTP: its next single failure is a restart, not another escalation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onFakeTime, createWorkers, explain } from './runtime-harness.ts';

const fake = onFakeTime();
const tree = (obj: Record<string, unknown>, start?: boolean) => fake.tree(obj, start);

test('a sibling that crashes while another child of the same decision stops slowly is restarted once, by its own decision', async () => {
  const w = createWorkers(fake.clock);
  // one_for_all, stopped in reverse order: x (the failed one), then slow (1 s to end), then sib.
  const slow = { id: 'slow', shutdown: '1s', inproc: { run: ({ signal }: { signal: AbortSignal }) => new Promise<void>((r) => signal.addEventListener('abort', () => fake.clock.setTimeout(r, 800))) } };
  const h = await tree({ name: 'box', strategy: 'one_for_all', intensity: 10, children: [w.child('sib'), slow, w.child('x')] });
  w.crash('x');
  await explain(h, () => fake.clock.until('slow stopping for x', () => h.state('slow') === 'stopping'));
  w.crash('sib'); // down on its own before the decision about x reaches it
  await explain(h, () => fake.clock.until('all back', () => w.runs.x === 2 && w.runs.sib === 2 && ['sib', 'slow', 'x'].every((id) => h.state(id) === 'running')));
  await fake.clock.advance(200);
  const sib = h.restartEvents('sib');
  assert.deepEqual(sib.map((e) => e.data?.['cause']), ['exit'], `one restart decision for sib, its own (not a sibling restart on top)\n${h.dump()}`);
  assert.equal(h.restarts('sib'), 1, 'counted once');
  assert.deepEqual([w.runs.sib, w.runs.x], [2, 2], 'each restarted once');
  assert.ok(!h.path('sib').slice(1).includes('stopping'), 'sib, already down, was not stopped again');
});

test('a supervisor restarted after an escalation starts with a fresh restart history: its next single failure is a restart', async () => {
  const w = createWorkers(fake.clock);
  const h = await tree({ name: 'box', intensity: 10, children: [{ id: 'inner', intensity: 1, period: '60s', children: [w.child('a'), w.child('b')] }] });
  w.crash('a');
  await fake.clock.until('a back', () => w.runs.a === 2 && h.state('a') === 'running');
  w.crash('b'); // the second restart within 60 s, intensity 1: inner escalates, box restarts it
  await explain(h, () => fake.clock.until('inner escalated and back', () => h.events.some((e) => e.type === 'escalation' && e.child === 'inner') && h.state('inner') === 'running' && h.state('a') === 'running' && h.state('b') === 'running'));
  assert.deepEqual(h.restartEvents('inner').map((e) => e.data?.['cause']), ['escalation']);
  w.crash('a'); // well within the 60 s period: only a fresh history makes this the first restart
  await explain(h, () => fake.clock.until('a restarted', () => w.runs.a === 4 && h.state('a') === 'running'));
  await fake.clock.advance(200);
  assert.equal(h.events.filter((e) => e.type === 'escalation').length, 1, `no second escalation\n${h.dump()}`);
  assert.equal(h.restartEvents('inner').length, 1, 'inner restarted once');
  assert.deepEqual(h.restartEvents('a').at(-1)?.data?.['supervisor'], 'inner', 'restarted by inner itself');
});
