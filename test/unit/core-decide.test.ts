// core/decide.ts with plain data: every strategy x restart type x cause, intensity and escalation
// (root and nested), backoff (growth, cap, reset), and the ordered start of a reconcile pass.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type ChildView, type FailureReport, type Step, type SupervisorView } from '../../supervisor/src/core/decide.ts';
import type { FailureCause } from '../../supervisor/src/core/strategy.ts';
import type { RestartType, Strategy } from '../../supervisor/src/spec/types.ts';

const NOW = 1_700_000_000_000;
const child = (id: string, extra: Partial<ChildView> = {}): ChildView => ({
  id,
  restart: 'permanent',
  state: 'running',
  manuallyStopped: false,
  desiredUp: true,
  pendingFailure: false,
  generation: 1,
  handledGeneration: -1,
  backoff: { attempt: 0 },
  dueAt: 0,
  startReason: null,
  ...extra,
});
const sup = (children: ChildView[], extra: Partial<SupervisorView> = {}): SupervisorView => ({
  id: 'box',
  state: 'running',
  strategy: 'one_for_one',
  intensity: 3,
  periodMs: 10_000,
  backoff: { initialMs: 100, maxMs: 1_000, resetAfterMs: 5_000 },
  window: { restarts: [] },
  hasParent: false,
  children,
  ...extra,
});
const failure = (extra: Partial<FailureReport> = {}): FailureReport => ({ cause: 'exit', ranForMs: 0, generation: 1, normal: false, reason: 'exited with code 1', ...extra });
const failed = (s: SupervisorView, id: string, f: Partial<FailureReport> = {}, now = NOW) => decide(s, { type: 'failed', child: id, failure: failure(f) }, now);
const reconcile = (s: SupervisorView, tried: string[] = [], now = NOW) => decide(s, { type: 'reconcile', tried }, now);
/** Steps as short strings, for whole-sequence assertions. */
const brief = (steps: Step[]) =>
  steps.map((st) => {
    switch (st.kind) {
      case 'stop':
        return `stop ${st.child}->${st.next}${st.ifStillUp ? '?' : ''}`;
      case 'start':
      case 'watch':
        return `${st.kind} ${st.child}`;
      case 'emit':
        return `emit ${st.event.type} ${st.event.child}${st.ifStillUp ? '?' : ''}`;
      case 'wait':
        return `wait +${st.at - NOW}`;
      case 'mark':
        return `mark ${st.child}`;
      case 'escalate':
        return `escalate ${st.toParent ? 'parent' : 'root'}`;
      default:
        return st.kind;
    }
  });
const restartEvent = (steps: Step[]) => steps.find((s): s is Extract<Step, { kind: 'emit' }> => s.kind === 'emit' && s.event.type === 'restart')?.event;

describe('decide: which failures are acted on', () => {
  test('a report of an older run, or of a run already handled, decides nothing', () => {
    assert.deepEqual(failed(sup([child('a', { generation: 2 })]), 'a', { generation: 1 }), []);
    assert.deepEqual(failed(sup([child('a', { handledGeneration: 1 })]), 'a'), []);
    assert.deepEqual(failed(sup([child('a')]), 'nope'), []);
  });
  test('a supervisor that is not running, or a manually stopped child: handled, nothing else', () => {
    for (const s of [sup([child('a')], { state: 'stopping' }), sup([child('a', { manuallyStopped: true })])]) {
      assert.deepEqual(failed(s, 'a'), [{ kind: 'mark', child: 'a', set: { handledGeneration: 1, pendingFailure: false } }]);
    }
  });
});

describe('decide: restart type x cause', () => {
  const causes: [FailureCause, boolean][] = [['exit', true], ['exit', false], ['start_failed', false], ['probe', false], ['heartbeat', false], ['escalation', false]];
  const expectRestart = (r: RestartType, cause: FailureCause, normal: boolean) => r === 'permanent' || (r === 'transient' && !(cause === 'exit' && normal));
  for (const restart of ['permanent', 'transient', 'temporary'] as const) {
    for (const [cause, normal] of causes) {
      test(`${restart}, ${cause}${cause === 'exit' ? (normal ? ' (clean)' : ' (code 1)') : ''}: ${expectRestart(restart, cause, normal) ? 'restarted' : 'not restarted'}`, () => {
        // The node is still up when a probe verdict arrives, already down after an exit.
        const state = cause === 'probe' || cause === 'heartbeat' ? 'unhealthy' : 'backoff';
        const steps = failed(sup([child('a', { restart, state })]), 'a', { cause, normal });
        if (expectRestart(restart, cause, normal)) {
          assert.deepEqual(brief(steps), ['mark a', 'record', 'mark a', 'emit restart a', 'stop a->backoff', 'wait +0']);
          assert.equal(restartEvent(steps)?.data?.['cause'], cause);
        } else {
          const stop = state === 'unhealthy' ? ['stop a->failed'] : [];
          assert.deepEqual(brief(steps), ['mark a', 'mark a', ...stop, 'wait +0']);
          assert.deepEqual((steps[1] as Extract<Step, { kind: 'mark' }>).set, { desiredUp: false });
          assert.ok(!steps.some((s) => s.kind === 'record'), 'a failure that is not restarted counts toward no intensity');
        }
      });
    }
  }
});

describe('decide: strategies', () => {
  const four = (extra: Record<string, Partial<ChildView>> = {}) => ['a', 'b', 'c', 'd'].map((id) => child(id, { ...(id === 'b' ? { state: 'backoff' } : {}), ...extra[id] }));
  const cases: [Strategy, string[]][] = [
    ['one_for_one', ['stop b->backoff']],
    ['simple_one_for_one', ['stop b->backoff']],
    ['one_for_all', ['emit restart d?', 'stop d->backoff?', 'emit restart c?', 'stop c->backoff?', 'stop b->backoff', 'emit restart a?', 'stop a->backoff?']],
    ['rest_for_one', ['emit restart d?', 'stop d->backoff?', 'emit restart c?', 'stop c->backoff?', 'stop b->backoff']],
  ];
  for (const [strategy, stops] of cases) {
    test(`${strategy}: b fails; siblings taken down in reverse start order, each after the one after it`, () => {
      const steps = failed(sup(four(), { strategy }), 'b');
      assert.deepEqual(brief(steps), ['mark b', 'record', 'mark b', 'emit restart b', ...stops, 'wait +0']);
      const affected = { one_for_one: ['b'], simple_one_for_one: ['b'], one_for_all: ['a', 'b', 'c', 'd'], rest_for_one: ['b', 'c', 'd'] }[strategy];
      assert.deepEqual(restartEvent(steps)?.data?.['affected'], affected);
      for (const s of steps) if (s.kind === 'stop' && s.child !== 'b') assert.deepEqual(s.set, { countRestart: true, dueAt: NOW });
    });
  }
  test('siblings that are down, manually stopped or not wanted are left alone; a temporary one is stopped for good', () => {
    const children = four({ a: { restart: 'temporary' }, c: { manuallyStopped: true, state: 'stopped' }, d: { state: 'backoff', pendingFailure: true } });
    const steps = failed(sup(children, { strategy: 'one_for_all' }), 'b');
    assert.deepEqual(brief(steps), ['mark b', 'record', 'mark b', 'emit restart b', 'stop b->backoff', 'stop a->stopped?', 'wait +0']);
    const stopA = steps.find((s) => s.kind === 'stop' && s.child === 'a') as Extract<Step, { kind: 'stop' }>;
    assert.deepEqual(stopA.set, { desiredUp: false });
    assert.deepEqual(restartEvent(steps)?.data?.['affected'], ['b'], 'the temporary sibling is not restarted');
    assert.match(restartEvent(steps)!.reason, /restarting b \(one_for_all\)$/);
  });
  test('a sibling event carries the facts the technician words need', () => {
    const steps = failed(sup(four(), { strategy: 'rest_for_one' }), 'b');
    const c = steps.find((s) => s.kind === 'emit' && s.event.child === 'c') as Extract<Step, { kind: 'emit' }>;
    assert.deepEqual(c.event.data, { cause: 'sibling', sibling: 'b', strategy: 'rest_for_one', supervisor: 'box', delayMs: 0 });
    assert.equal(c.event.reason, 'rest_for_one: b failed');
  });
});

describe('decide: intensity and escalation', () => {
  test('restarts inside the period are counted; older ones fall out', () => {
    const s = sup([child('a', { state: 'backoff' })], { window: { restarts: [NOW - 20_000, NOW - 5_000] } });
    const rec = failed(s, 'a').find((x) => x.kind === 'record') as Extract<Step, { kind: 'record' }>;
    assert.deepEqual(rec.window.restarts, [NOW - 5_000, NOW]);
  });
  test('intensity 3: the 4th restart within the period escalates; the root gives up with an alarm', () => {
    const s = sup([child('a', { state: 'backoff' }), child('b')], { window: { restarts: [NOW - 3, NOW - 2, NOW - 1] } });
    const steps = failed(s, 'a');
    assert.deepEqual(brief(steps), ['mark a', 'record', 'emit escalation box', 'escalate root', 'emit alarm box']);
    const esc = steps[3] as Extract<Step, { kind: 'escalate' }>;
    assert.match(esc.reason, /^more than 3 restarts in 10000ms \(last: a: exited with code 1\)$/);
    assert.ok(!steps.some((x) => x.kind === 'stop'), 'the escalate step stops every child itself, in reverse order');
  });
  test('a root with on_give_up: stop_failed stops only the failing child and says so in the alarm', () => {
    const s = sup([child('a', { state: 'backoff' }), child('b')], { onGiveUp: 'stop_failed', intensity: 0 });
    const steps = failed(s, 'a');
    assert.deepEqual(brief(steps), ['mark a', 'record', 'emit escalation box', 'escalate root', 'emit alarm box']);
    assert.equal((steps[3] as Extract<Step, { kind: 'escalate' }>).only, 'a');
    assert.match((steps[4] as Extract<Step, { kind: 'emit' }>).event.reason, /a is stopped; the others keep running unsupervised/);
    assert.equal((failed(sup([child('a', { state: 'backoff' })], { intensity: 0 }), 'a')[3] as Extract<Step, { kind: 'escalate' }>).only, undefined, 'default: every child');
  });
  test('a nested supervisor fails to its parent with cause escalation, no alarm', () => {
    const s = sup([child('a', { state: 'backoff' })], { id: 'group', hasParent: true, intensity: 0 });
    const steps = failed(s, 'a');
    assert.deepEqual(brief(steps), ['mark a', 'record', 'emit escalation group', 'escalate parent']);
    const esc = steps[3] as Extract<Step, { kind: 'escalate' }>;
    assert.equal(esc.failure.cause, 'escalation');
    assert.equal(esc.failure.normal, false);
    assert.deepEqual(esc.failure.data, { intensity: 0, periodMs: 10_000, failedChild: 'a' });
  });
});

describe('decide: backoff', () => {
  const delayFor = (attempt: number, ranForMs = 0) => {
    const steps = failed(sup([child('a', { state: 'backoff', backoff: { attempt } })], { intensity: 100 }), 'a', { ranForMs });
    const mark = steps[2] as Extract<Step, { kind: 'mark' }>;
    const stop = steps.find((x) => x.kind === 'stop') as Extract<Step, { kind: 'stop' }>;
    const wait = steps.at(-1) as Extract<Step, { kind: 'wait' }>;
    assert.equal(stop.set?.dueAt, wait.at, 'the child is due when the next pass runs');
    return { delay: restartEvent(steps)?.data?.['delayMs'], next: mark.set.backoff?.attempt, waitFor: wait.at - NOW };
  };
  test('0 after a clean run, then initial, doubling, capped at max', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => delayFor(a).delay), [0, 100, 200, 400, 800, 1000]);
    assert.deepEqual([0, 1, 2].map((a) => delayFor(a).next), [1, 2, 3]);
    assert.equal(delayFor(3).waitFor, 400);
  });
  test('a run of reset_after or more starts over at attempt 0', () => {
    assert.deepEqual(delayFor(4, 5_000), { delay: 0, next: 1, waitFor: 0 });
    assert.equal(delayFor(4, 4_999).delay, 800);
  });
  test('the restart reason says when', () => {
    const steps = failed(sup([child('a', { state: 'backoff', backoff: { attempt: 2 } })]), 'a');
    assert.equal(restartEvent(steps)?.reason, 'exited with code 1; restarting a in 200ms (one_for_one)');
  });
});

describe('decide: ordered start (reconcile)', () => {
  const down = (extra: Partial<ChildView> = {}) => ({ state: 'stopped' as const, ...extra });
  test('starts the first child that should be up; the runtime asks again after each start', () => {
    const s = sup([child('a'), child('b', down()), child('c', down())]);
    assert.deepEqual(brief(reconcile(s)), ['start b']);
    assert.equal((reconcile(s)[0] as Extract<Step, { kind: 'start' }>).reason, 'start');
  });
  test('a child still starting holds the pass: watch it, the supervisor stays starting', () => {
    const s = sup([child('a', { state: 'starting' }), child('b', down())], { state: 'starting' });
    assert.deepEqual(brief(reconcile(s)), ['watch a']);
  });
  test('all up: a starting supervisor settles', () => {
    assert.deepEqual(reconcile(sup([child('a')], { state: 'starting' })), [{ kind: 'settle', reason: 'all children started' }]);
    assert.deepEqual(reconcile(sup([child('a')])), []);
  });
  for (const strategy of ['one_for_one', 'simple_one_for_one', 'rest_for_one', 'one_for_all'] as const) {
    const holds = strategy === 'rest_for_one' || strategy === 'one_for_all';
    test(`${strategy}: a child backing off ${holds ? 'holds the children after it' : 'does not hold its siblings'}; a pass is due when it is`, () => {
      const s = sup([child('a', { state: 'backoff', dueAt: NOW + 300 }), child('b', down())], { strategy, state: 'starting' });
      const steps = reconcile(s);
      assert.deepEqual(brief(steps), holds ? ['wait +300', 'settle'] : ['wait +300', 'start b']);
      if (holds) assert.equal((steps[1] as Extract<Step, { kind: 'settle' }>).reason, 'started; some children are not up yet');
    });
  }
  test('due, a backoff child restarts ("restart"); a decided reason (manual restart) wins', () => {
    assert.deepEqual(reconcile(sup([child('a', { state: 'backoff', dueAt: NOW })]))[0], { kind: 'start', child: 'a', reason: 'restart' });
    assert.deepEqual(reconcile(sup([child('a', { state: 'stopped', startReason: 'restarted by technician' })]))[0], { kind: 'start', child: 'a', reason: 'restarted by technician' });
  });
  test('never starts a child with a pending failure, one unhealthy or stopping, one not wanted, or one tried in this pass', () => {
    for (const extra of [{ pendingFailure: true, state: 'backoff' as const }, { state: 'unhealthy' as const }, { state: 'stopping' as const }, { state: 'failed' as const, desiredUp: false }, { manuallyStopped: true, state: 'stopped' as const }]) {
      assert.deepEqual(brief(reconcile(sup([child('a', extra)], { strategy: 'one_for_one' }))), [], JSON.stringify(extra));
    }
    assert.deepEqual(brief(reconcile(sup([child('a', down()), child('b', down())]), ['a'])), ['start b'], 'a start that did not take is not retried in the same pass');
    assert.deepEqual(brief(reconcile(sup([child('a', down()), child('b', down())], { strategy: 'rest_for_one' }), ['a'])), [], '... and under rest_for_one it holds the rest');
  });
  test('a supervisor that is not running or starting starts nothing', () => {
    for (const state of ['stopping', 'stopped', 'failed', 'gave_up'] as const) assert.deepEqual(reconcile(sup([child('a', down())], { state })), []);
  });
});

describe('decide: a manual restart plan', () => {
  const plan = { child: 'b', restarting: ['b', 'c'], stopping: ['t'] };
  const manual = (s: SupervisorView) => decide(s, { type: 'manual_restart', plan, by: 'technician' }, NOW);
  test('reverse order, siblings only if still up, the named child always; no intensity, no backoff', () => {
    const s = sup([child('a'), child('b'), child('c'), child('t', { restart: 'temporary' })], { strategy: 'rest_for_one' });
    const steps = manual(s);
    assert.deepEqual(brief(steps), ['stop t->stopped?', 'emit restart c?', 'stop c->stopped?', 'stop b->stopped', 'wait +0']);
    assert.ok(!steps.some((x) => x.kind === 'record'), 'not counted toward intensity');
    const stopC = steps[2] as Extract<Step, { kind: 'stop' }>;
    assert.deepEqual(stopC.set, { countRestart: true });
    assert.deepEqual(stopC.then, { pendingFailure: false, desiredUp: true, dueAt: 0, startReason: 'restarted after b (rest_for_one, by technician)' });
    const stopB = steps[3] as Extract<Step, { kind: 'stop' }>;
    assert.equal(stopB.set, undefined, 'the named child is counted when the request is accepted');
    assert.equal(stopB.then?.startReason, 'restarted by technician');
    assert.deepEqual((steps[0] as Extract<Step, { kind: 'stop' }>).set, { desiredUp: false });
    assert.deepEqual((steps[1] as Extract<Step, { kind: 'emit' }>).event.data, { cause: 'manual', sibling: 'b', strategy: 'rest_for_one', supervisor: 'box', delayMs: 0 });
  });
  test('a supervisor that is not running carries out nothing', () => {
    assert.deepEqual(manual(sup([child('b'), child('c')], { state: 'stopping' })), []);
  });
});
