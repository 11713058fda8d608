import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { affectedByFailure, shouldRestart } from '../../supervisor/src/core/strategy.ts';
import { emptyWindow, recordRestart, type IntensityWindow } from '../../supervisor/src/core/intensity.ts';
import { backoffDelay, initialBackoff, onFailure, type BackoffState } from '../../supervisor/src/core/backoff.ts';
import { countProbe, freshCounter, type ProbeCounter } from '../../supervisor/src/core/probe-verdict.ts';

const ids = ['web', 'camera', 'inference', 'vacuum'];

describe('strategies', () => {
  test('one_for_one takes only the failed child', () => {
    assert.deepEqual(affectedByFailure('one_for_one', ids, 'camera'), ['camera']);
  });
  test('one_for_all takes every child, in start order', () => {
    assert.deepEqual(affectedByFailure('one_for_all', ids, 'inference'), ids);
  });
  test('rest_for_one takes the failed child and every child started after it', () => {
    assert.deepEqual(affectedByFailure('rest_for_one', ids, 'camera'), ['camera', 'inference', 'vacuum']);
    assert.deepEqual(affectedByFailure('rest_for_one', ids, 'vacuum'), ['vacuum']);
    assert.deepEqual(affectedByFailure('rest_for_one', ids, 'web'), ids);
  });
  test('an unknown child is a bug', () => {
    assert.throws(() => affectedByFailure('one_for_one', ids, 'nope'));
  });
});

describe('restart types', () => {
  test('permanent always, temporary never', () => {
    for (const cause of ['exit', 'probe', 'heartbeat', 'start_failed', 'escalation'] as const) {
      assert.equal(shouldRestart('permanent', cause, true), true);
      assert.equal(shouldRestart('temporary', cause, false), false);
    }
  });
  test('transient only after an abnormal end', () => {
    assert.equal(shouldRestart('transient', 'exit', true), false);
    assert.equal(shouldRestart('transient', 'exit', false), true);
    assert.equal(shouldRestart('transient', 'probe', false), true, 'a stalled child is abnormal');
    assert.equal(shouldRestart('transient', 'heartbeat', false), true);
  });
});

describe('restart intensity (fake clock)', () => {
  test('more than `intensity` restarts within `period` is exceeded', () => {
    let w: IntensityWindow = emptyWindow;
    let exceeded = false;
    for (const t of [0, 1000, 2000]) ({ window: w, exceeded } = recordRestart(w, t, 3, 10_000));
    assert.equal(exceeded, false, '3 restarts with intensity 3 is allowed');
    ({ window: w, exceeded } = recordRestart(w, 3000, 3, 10_000));
    assert.equal(exceeded, true, 'the 4th within 10 s escalates');
  });
  test('restarts older than the period fall out of the window', () => {
    let w: IntensityWindow = emptyWindow;
    let exceeded = false;
    const seen: boolean[] = [];
    for (const t of [0, 5000, 10_000, 15_000, 20_000]) {
      ({ window: w, exceeded } = recordRestart(w, t, 2, 10_000));
      seen.push(exceeded);
    }
    assert.deepEqual(seen, [false, false, false, false, false], 'one restart every 5 s never has more than 2 in a 10 s window');
    assert.deepEqual(w.restarts, [15_000, 20_000]);
    assert.equal(recordRestart(w, 21_000, 2, 10_000).exceeded, true, 'a third one inside the window escalates');
  });
  test('a burst after a quiet time is judged on its own', () => {
    let w: IntensityWindow = { restarts: [0, 100] };
    let exceeded: boolean;
    ({ window: w, exceeded } = recordRestart(w, 60_000, 1, 5_000));
    assert.equal(exceeded, false);
    assert.deepEqual(w.restarts, [60_000]);
    ({ exceeded } = recordRestart(w, 61_000, 1, 5_000));
    assert.equal(exceeded, true, 'OTP default 1 in 5 s: the second restart within 5 s escalates');
  });
  test('intensity 0 escalates on the first restart', () => {
    assert.equal(recordRestart(emptyWindow, 0, 0, 5000).exceeded, true);
  });
});

describe('backoff (fake clock)', () => {
  const spec = { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 };
  test('first restart immediate, then initial doubling up to max', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 8, 20].map((a) => backoffDelay(spec, a)), [0, 200, 400, 800, 1600, 3200, 25_600, 30_000]);
  });
  test('consecutive quick failures grow the delay; a clean run of reset_after resets it', () => {
    let s: BackoffState = initialBackoff;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = onFailure(s, spec, 500);
      delays.push(r.delayMs);
      s = r.state;
    }
    assert.deepEqual(delays, [0, 200, 400, 800, 1600]);
    const afterCleanRun = onFailure(s, spec, 60_000);
    assert.equal(afterCleanRun.delayMs, 0);
    assert.equal(onFailure(afterCleanRun.state, spec, 10).delayMs, 200);
  });
  test('a run just short of reset_after does not reset', () => {
    const s: BackoffState = { attempt: 3 };
    assert.equal(onFailure(s, spec, 59_999).delayMs, 800);
  });
});

describe('probe failure counting and startup grace (fake clock)', () => {
  const spec = { failures: 3, startupGraceMs: 5000 };
  const feed = (results: [boolean, number][], startedAt = 0) => {
    let c: ProbeCounter = freshCounter;
    const verdicts: string[] = [];
    for (const [ok, now] of results) {
      const r = countProbe(c, ok, now, startedAt, spec);
      c = r.counter;
      verdicts.push(r.verdict);
    }
    return { verdicts, counter: c };
  };
  test('failures inside the startup grace do not count before a first pass', () => {
    const { verdicts, counter } = feed([[false, 1000], [false, 2000], [false, 3000], [false, 4000]]);
    assert.deepEqual(verdicts, ['failing', 'failing', 'failing', 'failing']);
    assert.equal(counter.consecutiveFailures, 0);
  });
  test('after the grace, N consecutive failures make the probe unhealthy', () => {
    const { verdicts } = feed([[false, 5000], [false, 6000], [false, 7000]]);
    assert.deepEqual(verdicts, ['failing', 'failing', 'unhealthy']);
  });
  test('once passed, failures count even inside the grace', () => {
    const { verdicts } = feed([[true, 100], [false, 200], [false, 300], [false, 400]]);
    assert.deepEqual(verdicts, ['pass', 'failing', 'failing', 'unhealthy']);
  });
  test('a pass resets the count', () => {
    const { verdicts } = feed([[true, 100], [false, 200], [false, 300], [true, 400], [false, 500], [false, 600]]);
    assert.ok(!verdicts.includes('unhealthy'));
  });
  test('changed reports verdict flips only', () => {
    let c: ProbeCounter = freshCounter;
    const flips: boolean[] = [];
    for (const ok of [true, true, false, false, true]) {
      const r = countProbe(c, ok, 10_000, 0, spec);
      c = r.counter;
      flips.push(r.changed);
    }
    assert.deepEqual(flips, [true, false, true, false, true]);
  });
});

describe('probe schedule: fixed rate, coalesced (fake clock)', async () => {
  const { nextProbeDue } = await import('../../supervisor/src/runtime/worker-node.ts');
  test('the first steady-state run waits for its slot: the next multiple of the period (capped at 1 s)', () => {
    assert.equal(nextProbeDue(0, 10_250, 10_260, 1000), 12_000, 'began 10.25 s -> due 11.25 s -> slot 12 s');
    assert.equal(nextProbeDue(0, 10_000, 10_010, 1000), 11_000, 'already aligned');
    assert.equal(nextProbeDue(0, 10_120, 10_130, 500), 11_000, 'a 500 ms probe uses 500 ms slots');
    assert.equal(nextProbeDue(0, 10_300, 10_310, 5000), 16_000, 'periods over 1 s use 1 s slots');
  });
  test('fixed rate: a run that timed out at the end of its period does not skip the next slot', () => {
    // Due at 11 s, took its whole 1 s timeout (ended 12.004 s): the next is due at 12 s, at once.
    assert.equal(nextProbeDue(11_000, 11_000, 12_004, 1000), 12_000);
    const dues: number[] = [];
    let due = 11_000;
    for (let i = 0; i < 3; i++) dues.push((due = nextProbeDue(due, due, due + 1003, 1000)));
    assert.deepEqual(dues, [12_000, 13_000, 14_000], 'three timeouts in a row: three consecutive slots');
  });
  test('a run that overran by a whole period resumes at the next slot, no burst', () => {
    assert.equal(nextProbeDue(11_000, 11_000, 13_500, 1000), 14_000);
  });
  test('children probed at the same period share a wake-up', () => {
    assert.deepEqual([10_013, 10_377, 10_901].map((b) => nextProbeDue(0, b, b + 2, 1000)), [12_000, 12_000, 12_000]);
  });
});
