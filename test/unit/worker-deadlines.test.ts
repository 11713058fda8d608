// The pure deadline checker of typed workers (core/worker-deadlines.ts), its words
// (core/reason-words.ts), the event fold (core/worker-state-fold.ts) and the declaration's checks
// (spec/worker-lifecycle.ts), on a fake clock: every kind of deadline, both sides of each limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDeadlines, enterState, initialTrack, nextDeadlineAt, violationFacts, type WorkerStateTrack } from '../../supervisor/src/core/worker-deadlines.ts';
import { flushFold, foldChange, foldedReason, freshFold } from '../../supervisor/src/core/worker-state-fold.ts';
import { restartFacts, restartReasonWords } from '../../supervisor/src/core/reason-words.ts';
import { assertDeclaredState, defineWorker, resolveLifecycle } from '../../supervisor/src/spec/worker-lifecycle.ts';
import { EdgevisorError } from '../../supervisor/src/errors.ts';

const camera = resolveLifecycle({
  states: ['connecting', 'streaming', 'reconnecting'],
  initial: 'connecting',
  deadlines: {
    connecting: { maxFor: '10s' },
    streaming: { heartbeat: '2s' },
    transitions: { 'reconnecting->streaming': '30s' },
  },
});
const T0 = 1_000_000;
const words = (t: WorkerStateTrack, now: number, hb = 0) => {
  const v = checkDeadlines(t, camera, now, hb);
  return v && restartReasonWords({ cause: 'deadline', ...violationFacts(v) });
};
/** Walks a run through states at the given times (no heartbeats). */
function walk(steps: [string, number][]): WorkerStateTrack {
  let t = initialTrack(camera, T0);
  for (const [s, at] of steps) {
    const r = enterState(t, camera, s, at, 0);
    assert.equal(r.violation, null, `no violation entering ${s} at +${at - T0}`);
    t = r.track;
  }
  return t;
}

test('max_for: exactly at the limit is in time, 1 ms past it is a violation named with the state and both times', () => {
  const t = initialTrack(camera, T0);
  assert.equal(t.state, 'connecting');
  assert.equal(checkDeadlines(t, camera, T0 + 10_000, 0), null);
  assert.equal(words(t, T0 + 10_001), 'stayed in connecting 10.1 s, limit 10 s');
  assert.equal(words(t, T0 + 12_000), 'stayed in connecting 12.0 s, limit 10 s');
  assert.equal(nextDeadlineAt(t, camera, 0), T0 + 10_000);
  // Leaving in time clears it; leaving late is a violation found at the report.
  assert.equal(enterState(t, camera, 'streaming', T0 + 9_999, 0).violation, null);
  const late = enterState(t, camera, 'streaming', T0 + 10_500, 0);
  assert.deepEqual(late.violation, { kind: 'max_for', state: 'connecting', elapsedMs: 10_500, limitMs: 10_000 });
  assert.equal(late.track.state, 'streaming', 'the reported state is entered all the same');
});

test('heartbeat per state: the gap since the last heartbeat (or the entry into the state), both sides', () => {
  const t = walk([['streaming', T0 + 1000]]);
  assert.equal(checkDeadlines(t, camera, T0 + 3000, 0), null, 'entering streaming counts as a heartbeat');
  assert.equal(words(t, T0 + 3100), 'no heartbeat in streaming for 2.1 s, limit 2 s');
  // A heartbeat moves the deadline.
  assert.equal(checkDeadlines(t, camera, T0 + 4500, T0 + 2500), null);
  assert.equal(checkDeadlines(t, camera, T0 + 4501, T0 + 2500)?.kind, 'heartbeat');
  assert.equal(nextDeadlineAt(t, camera, T0 + 2500), T0 + 4500);
  // A heartbeat older than the entry does not count against the state.
  assert.equal(nextDeadlineAt(t, camera, T0 + 10), T0 + 3000);
  // No heartbeat deadline in a state that declares none.
  const r = walk([['streaming', T0 + 1000], ['reconnecting', T0 + 1500]]);
  assert.equal(checkDeadlines(r, camera, T0 + 20_000, 0), null);
});

test('transition: armed on entering from, kept through other states, met on reaching to; both sides', () => {
  const t = walk([['streaming', T0 + 1000], ['reconnecting', T0 + 2000]]);
  assert.equal(nextDeadlineAt(t, camera, 0), T0 + 32_000);
  // In time, even through connecting.
  const via = enterState(t, camera, 'connecting', T0 + 25_000, 0).track;
  assert.equal(enterState(via, camera, 'streaming', T0 + 32_000, 0).violation, null, 'exactly at the limit');
  assert.equal(checkDeadlines(enterState(via, camera, 'streaming', T0 + 30_000, 0).track, camera, T0 + 60_000, T0 + 59_000), null, 'reaching streaming disarms it');
  // Late, reached: "took".
  const late = enterState(via, camera, 'streaming', T0 + 32_400, 0);
  assert.equal(late.violation?.kind, 'transition');
  assert.equal(restartReasonWords({ cause: 'deadline', ...violationFacts(late.violation!) }), 'reconnecting -> streaming took 30.4 s, limit 30 s');
  // Late, never reached (the timer's case): says where it is now.
  assert.equal(words(t, T0 + 32_001), 'reconnecting -> streaming not reached after 30.1 s, limit 30 s');
});

test('transition: flapping back into from does not re-arm it, so a reconnect loop cannot hide', () => {
  let t = walk([['streaming', T0], ['reconnecting', T0 + 1000]]);
  for (let i = 1; i <= 10; i++) {
    t = enterState(t, camera, 'connecting', T0 + 1000 + i * 2000, 0).track;
    t = enterState(t, camera, 'reconnecting', T0 + 2000 + i * 2000, 0).track;
  }
  assert.deepEqual(t.armed, [T0 + 1000], 'reconnecting->streaming, armed at the first entry into reconnecting');
  assert.equal(words(t, T0 + 31_001), 'reconnecting -> streaming not reached after 30.1 s, limit 30 s');
  const inConnecting = enterState(t, camera, 'connecting', T0 + 30_000, 0).track;
  assert.equal(words(inConnecting, T0 + 31_001), 'reconnecting -> streaming not reached after 30.1 s, limit 30 s (now connecting)');
});

test('several deadlines past: the one that expired first is the verdict; none armed: no timer', () => {
  const both = resolveLifecycle({ states: ['a', 'b'], initial: 'a', deadlines: { a: { maxFor: '5s', heartbeat: '1s' }, transitions: { 'a->b': '3s' } } });
  const t = initialTrack(both, T0);
  assert.equal(nextDeadlineAt(t, both, 0), T0 + 1000);
  assert.equal(checkDeadlines(t, both, T0 + 6000, 0)?.kind, 'heartbeat');
  assert.equal(checkDeadlines(t, both, T0 + 6000, T0 + 5500)?.kind, 'transition');
  assert.equal(checkDeadlines(t, both, T0 + 6000, T0 + 5500)?.kind, 'transition');
  const none = resolveLifecycle({ states: ['only'], initial: 'only' });
  assert.equal(nextDeadlineAt(initialTrack(none, T0), none, 0), null);
  // Sub-second limits read in ms.
  const quick = resolveLifecycle({ states: ['x'], initial: 'x', deadlines: { x: { maxFor: 500 } } });
  const v = checkDeadlines(initialTrack(quick, T0), quick, T0 + 612, 0)!;
  assert.equal(restartReasonWords({ cause: 'deadline', ...violationFacts(v) }), 'stayed in x 612 ms, limit 500 ms');
});

test('reporting the current state again changes nothing but still checks the deadlines', () => {
  const t = initialTrack(camera, T0);
  const same = enterState(t, camera, 'connecting', T0 + 5000, 0);
  assert.equal(same.changed, false);
  assert.equal(same.track.since, T0);
  assert.equal(enterState(t, camera, 'connecting', T0 + 10_001, 0).violation?.kind, 'max_for');
});

test('the fold: the first change is an event at once; changes within the window become one event at its end', () => {
  let f = freshFold('connecting');
  const a = foldChange(f, 'streaming', 5000);
  assert.deepEqual(a.emit, { from: 'connecting', to: 'streaming', changes: 1 });
  assert.equal(foldedReason(a.emit!), 'connecting -> streaming');
  f = a.fold;
  let flushAt: number | null = null;
  for (const [s, at] of [['reconnecting', 5100], ['connecting', 5200], ['reconnecting', 5300]] as const) {
    const r = foldChange(f, s, at);
    assert.equal(r.emit, null);
    flushAt = r.flushAt;
    f = r.fold;
  }
  assert.equal(flushAt, 6000);
  const out = flushFold(f, 6000);
  assert.deepEqual(out.emit, { from: 'streaming', to: 'reconnecting', changes: 3 });
  assert.equal(foldedReason(out.emit!), 'streaming -> reconnecting (3 changes in 1.0 s)');
  assert.equal(foldedReason({ from: 'streaming', to: 'streaming', changes: 2 }), 'streaming again (2 changes in 1.0 s)');
  assert.equal(flushFold(out.fold, 6100).emit, null, 'nothing held: nothing to flush');
  assert.ok(foldChange(out.fold, 'streaming', 7000).emit, 'a quiet window: at once again');
});

test('declarations: every problem named with its field and what is accepted', () => {
  const problems = (def: Parameters<typeof resolveLifecycle>[0]) => {
    try {
      resolveLifecycle(def);
    } catch (err) {
      assert.ok(err instanceof EdgevisorError);
      assert.equal(err.code, 'EDGEVISOR_ERR_SPEC_INVALID');
      return err.details;
    }
    assert.fail('accepted');
  };
  assert.deepEqual(problems({ states: ['a', 'a', '9x'], initial: 'b' }), [
    'defineWorker: states[1]: "a" is declared twice',
    'defineWorker: states[2]: expected a name like "streaming" (a letter, then letters, digits, _ or -; at most 40), got "9x"',
    'defineWorker: initial: expected one of the declared states (declared: a), got "b"',
  ]);
  assert.deepEqual(problems({ states: ['a', 'b'], initial: 'a', deadlines: { c: { maxFor: '1s' }, a: { maxFor: 'soon', within: '1s' }, b: { heartbeat: 0 }, transitions: { 'a->c': '1s', 'a->a': '1s', ab: '1s' } } }), [
    'defineWorker: deadlines.c: "c" is not a declared state (declared: a, b; or transitions)',
    'defineWorker: deadlines.a.maxFor: expected a duration like "500ms" or "2s", got "soon"',
    'defineWorker: deadlines.a.within: unknown deadline (accepted: maxFor, heartbeat)',
    'defineWorker: deadlines.b.heartbeat: expected a duration of at least 1ms, got 0',
    'defineWorker: deadlines.transitions["a->c"]: "c" is not a declared state (declared: a, b)',
    'defineWorker: deadlines.transitions["a->a"]: a transition needs two different states (use deadlines.a.maxFor for the longest stay)',
    'defineWorker: deadlines.transitions["ab"]: expected "from->to" with two declared states (declared: a, b)',
  ]);
  assert.deepEqual(problems({ states: [], initial: 'a' })[0], 'defineWorker: states: expected a list of at least one state name, got a list');
  assert.throws(() => defineWorker({ states: ['x'], initial: 'x', deadlines: { x: { maxFor: '-1s' } }, run: async () => {} }), /deadlines\.x\.maxFor/);
});

test('setState checks: an undeclared state, or a worker that declares none, is a clear error with a stable code', () => {
  assert.throws(() => assertDeclaredState(camera, 'streamin', 'dock'), { code: 'EDGEVISOR_ERR_UNDECLARED_STATE', message: 'worker "dock": setState("streamin"): not a declared state (declared: connecting, streaming, reconnecting)' });
  assert.throws(() => assertDeclaredState(undefined, 'up', 'job'), { code: 'EDGEVISOR_ERR_UNDECLARED_STATE', message: /worker "job": setState\("up"\): this worker declares no states/ });
  assert.doesNotThrow(() => assertDeclaredState(camera, 'streaming', 'dock'));
  // Type level: only declared states compile (checked by tsc over this file).
  const w = defineWorker({
    states: ['idle', 'busy'],
    initial: 'idle',
    deadlines: { busy: { maxFor: '1s' }, transitions: { 'idle->busy': '2s' } },
    async run(ctx) {
      ctx.setState('busy');
      // @ts-expect-error 'bussy' is not a declared state
      ctx.setState('bussy');
    },
  });
  assert.deepEqual(w.states, ['idle', 'busy']);
  assert.ok(Object.isFrozen(w.lifecycle));
  // @ts-expect-error the initial state must be declared
  assert.throws(() => defineWorker({ states: ['a'], initial: 'b', run: async () => {} }), /initial/);
});

test('the words come back from a stored event\'s data alone (the store, the inner tree and the dashboard read only that)', () => {
  const t = walk([['streaming', T0 + 1000], ['reconnecting', T0 + 2000]]);
  const cases: [WorkerStateTrack, number, string][] = [
    [initialTrack(camera, T0), T0 + 12_000, 'stayed in connecting 12.0 s, limit 10 s'],
    [walk([['streaming', T0]]), T0 + 2100, 'no heartbeat in streaming for 2.1 s, limit 2 s'],
    [enterState(t, camera, 'connecting', T0 + 25_000, 0).track, T0 + 32_001, 'reconnecting -> streaming not reached after 30.1 s, limit 30 s (now connecting)'],
  ];
  for (const [track, now, want] of cases) {
    const data = JSON.parse(JSON.stringify({ cause: 'deadline', ...violationFacts(checkDeadlines(track, camera, now, 0)!) }));
    assert.equal(restartReasonWords(restartFacts(data)), want);
  }
  assert.equal(restartReasonWords({ cause: 'deadline' }), 'missed a deadline of its own');
});
