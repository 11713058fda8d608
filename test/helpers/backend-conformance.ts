/**
 * The backend conformance suite: one list of cases that every Unit backend passes (process,
 * inproc, thread, docker, and a user's own registered with registerBackend). It checks the
 * INVARIANTS of the Unit interface (supervisor/src/backends/types.ts) on real units: start, stop
 * with grace, kill, exit reported exactly once, older runs never reporting into newer ones,
 * adoption where the backend supports it, a failed start, an abandoned run ending late (backends
 * that abandon), a start that never completes (backends that can express one). A custom backend runs it with its own
 * fixture: `describeConformance('mine', fixture)` inside a node:test file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExitInfo, Unit } from '../../supervisor/src/backends/types.ts';
import { codes } from '../../supervisor/src/errors.ts';
import { sleep, waitFor } from './net.ts';

/** What a run does: ends when asked (clean), ignores the ask (stubborn), or fails by itself (crash). */
export type Behaviour = 'clean' | 'stubborn' | 'crash';

export interface ConformanceFixture {
  /** A new unit (not started) whose runs behave so. */
  make(behaviour: Behaviour): Promise<Unit> | Unit;
  /** Resolves once the unit's current run is up and has installed its behaviour (signal handlers...). */
  ready(unit: Unit): Promise<void>;
  /** A unit whose start() fails (missing command, module, image...). */
  broken(): Promise<Unit> | Unit;
  /** False for units that can only be abandoned, not killed (inproc): a kill is then not a clean end. */
  killable: boolean;
  /**
   * Backends that abandon runs (inproc): ends the stubborn runs abandoned so far and resolves once
   * their unit has seen them end, so the case can check that a late end reports nothing.
   */
  release?(unit: Unit): Promise<void>;
  /** A unit whose start never completes by itself (a module whose import hangs), when the backend can express one. */
  hanging?(): Promise<Unit> | Unit;
  /** A second unit for the same thing, as a new supervisor would build it: adoption is checked when given. */
  adopter?(unit: Unit): Promise<Unit> | Unit;
  /** The grace used for stubborn runs (default 400 ms). */
  graceMs?: number;
  /** Bound on any single wait (default 20 s; Docker on a loaded box needs more). */
  timeoutMs?: number;
  skip?: string | false;
}

/** `p`, or a failure naming `label` after `ms`: a hang fails the case instead of stalling the suite. */
async function within<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const over = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${label}: still pending after ${ms}ms`)), ms)));
  try {
    return await Promise.race([p, over]);
  } finally {
    clearTimeout(timer);
  }
}

/** A unit's exits, with when each was reported. */
function record(unit: Unit): Array<ExitInfo & { at: number }> {
  const seen: Array<ExitInfo & { at: number }> = [];
  unit.onExit((e) => seen.push({ ...e, at: Date.now() }));
  return seen;
}

export function describeConformance(name: string, f: ConformanceFixture): void {
  const grace = f.graceMs ?? 400;
  const bound = f.timeoutMs ?? 20_000;
  describe(`backend conformance: ${name}`, { skip: f.skip ?? false, timeout: bound * 10 }, () => {
    test('stop with grace: a run that ends when asked reports one normal exit, and stop() resolves after it', async () => {
      const unit = await f.make('clean');
      const exits = record(unit);
      await unit.start();
      await f.ready(unit);
      assert.equal(exits.length, 0, 'no exit while it runs');
      await unit.stop({ kind: 'grace', graceMs: 10_000 });
      assert.equal(exits.length, 1, 'stop() resolves after the exit was reported');
      assert.equal(exits[0]!.normal, true, `a stop honoured within the grace is normal: ${JSON.stringify(exits[0])}`);
      await sleep(200);
      assert.equal(exits.length, 1, 'reported exactly once');
      await unit.close();
    });

    test('a run that ignores the stop is killed when the grace runs out: one abnormal exit, not before the grace', async () => {
      const unit = await f.make('stubborn');
      const exits = record(unit);
      await unit.start();
      await f.ready(unit);
      const t0 = Date.now();
      await unit.stop({ kind: 'grace', graceMs: grace });
      const took = Date.now() - t0;
      assert.ok(took >= grace - 20, `waited the grace (${took}ms of ${grace}ms)`);
      assert.equal(exits.length, 1);
      assert.equal(exits[0]!.normal, false, 'killed after ignoring the grace is not a clean end');
      await sleep(200);
      assert.equal(exits.length, 1, 'reported exactly once');
      await unit.close();
    });

    test('brutal_kill ends even a stubborn run at once, reported once', async () => {
      const unit = await f.make('stubborn');
      const exits = record(unit);
      await unit.start();
      await f.ready(unit);
      const t0 = Date.now();
      await unit.stop({ kind: 'brutal_kill' });
      assert.ok(Date.now() - t0 < Math.min(grace * 10, bound), `killed in ${Date.now() - t0}ms`);
      assert.equal(exits.length, 1);
      // An asked-for kill is a clean end; a unit that can only be abandoned says it was not.
      assert.equal(exits[0]!.normal, f.killable, JSON.stringify(exits[0]));
      await sleep(200);
      assert.equal(exits.length, 1, 'reported exactly once');
      await unit.close();
    });

    test('a crash is reported once, abnormal, with no stop asked', async () => {
      const unit = await f.make('crash');
      const exits = record(unit);
      await unit.start();
      await waitFor('the crash reported', () => exits.length > 0, bound, 10);
      assert.equal(exits[0]!.normal, false, JSON.stringify(exits[0]));
      await unit.stop({ kind: 'grace', graceMs: grace }); // nothing up: resolves, reports nothing
      await sleep(200);
      assert.equal(exits.length, 1, 'reported exactly once');
      await unit.close();
    });

    test('stop() is idempotent: concurrent calls share one stop; stop() with nothing up resolves at once', async () => {
      const unit = await f.make('clean');
      const exits = record(unit);
      await unit.stop({ kind: 'grace', graceMs: grace });
      await unit.start();
      await f.ready(unit);
      await Promise.all([unit.stop({ kind: 'grace', graceMs: 10_000 }), unit.stop({ kind: 'grace', graceMs: 10_000 }), unit.stop({ kind: 'brutal_kill' })]);
      assert.equal(exits.length, 1);
      const t0 = Date.now();
      await unit.stop({ kind: 'grace', graceMs: 10_000 });
      assert.ok(Date.now() - t0 < 1000, 'a stop of a stopped unit does not wait');
      assert.equal(exits.length, 1);
      await unit.close();
    });

    test('older runs stay out of newer ones: one exit per run, none after the next start', async () => {
      const unit = await f.make('stubborn');
      const exits = record(unit);
      await unit.start();
      await f.ready(unit);
      await unit.stop({ kind: 'brutal_kill' }); // run 1: killed (or abandoned, still running its code)
      assert.equal(exits.length, 1);
      await unit.start(); // run 2
      await f.ready(unit);
      await sleep(Math.max(300, grace));
      assert.equal(exits.length, 1, 'nothing of run 1 reported into run 2');
      assert.equal(unit.info()['running'] ?? true, true, 'run 2 is up');
      if (unit.lastHeartbeat) {
        const beat = unit.lastHeartbeat();
        assert.ok(Date.now() - beat < 5_000, 'heartbeats are those of run 2');
      }
      await unit.stop({ kind: 'brutal_kill' });
      assert.equal(exits.length, 2, 'run 2 reported its own exit');
      await unit.close();
    });

    test('a failed start rejects with START_FAILED and reports no exit', async () => {
      const unit = await f.broken();
      const exits = record(unit);
      await assert.rejects(unit.start(), (err: { code?: string }) => err.code === codes.START_FAILED);
      await unit.stop({ kind: 'grace', graceMs: grace });
      await sleep(100);
      assert.equal(exits.length, 0);
      await unit.close();
    });

    // Only for backends that abandon runs (the others kill them: nothing can end late).
    if (f.release) test('an abandoned run that ends later reports no second exit, and its heartbeats stop counting', async () => {
      const unit = await f.make('stubborn');
      const exits = record(unit);
      await unit.start();
      await f.ready(unit);
      await unit.stop({ kind: 'brutal_kill' }); // abandoned: its code goes on, heartbeating every 20 ms
      assert.equal(exits.length, 1);
      const beat = unit.lastHeartbeat?.();
      await sleep(200);
      assert.equal(unit.lastHeartbeat?.(), beat, 'a heartbeat of the abandoned run does not move lastHeartbeat');
      await f.release!(unit); // now the abandoned run returns
      await sleep(100);
      assert.equal(exits.length, 1, 'the late end of an abandoned run is not a second exit');
      assert.equal(unit.lastHeartbeat?.(), beat);
      assert.equal(unit.info()['running'] ?? false, false, 'nothing is up');
      await unit.close();
    });

    // Only for backends that can express a start that never completes (a module whose import hangs).
    if (f.hanging) test('a start that never completes is bounded: stop() ends it, the start rejects START_FAILED, no exit', async () => {
      const unit = await f.hanging!();
      const exits = record(unit);
      for (const attempt of [1, 2]) {
        let settled = false;
        const start = unit.start();
        start.then(() => (settled = true), () => (settled = true));
        await sleep(300);
        assert.equal(settled, false, `attempt ${attempt}: the start is still in flight`);
        await within(unit.stop({ kind: 'brutal_kill' }), Math.min(grace * 10, bound), `attempt ${attempt}: stop() during the start`);
        await within(
          assert.rejects(start, (err: { code?: string }) => err.code === codes.START_FAILED),
          Math.min(grace * 10, bound),
          `attempt ${attempt}: the start after stop()`,
        );
      }
      await sleep(100);
      assert.equal(exits.length, 0, 'a start that never completed reports no exit');
      await unit.close();
    });

    test(f.adopter ? 'adoption: a new supervisor attaches to the running unit without restarting it' : 'adoption: not supported (no adopt())', async () => {
      const unit = await f.make('clean');
      if (!f.adopter) {
        assert.equal(unit.adopt, undefined, 'a backend without adoption has no adopt()');
        await unit.close();
        return;
      }
      await unit.start();
      await f.ready(unit);
      const startedAt = unit.info().startedAt;
      await unit.close(); // the old supervisor lets go (it stays running)
      const second = await f.adopter(unit);
      const exits = record(second);
      assert.equal(await second.adopt!(), 'running');
      assert.equal(second.info().startedAt ?? startedAt, startedAt, 'the same run, not a restart');
      await second.stop({ kind: 'grace', graceMs: 10_000 });
      assert.equal(exits.length, 1, 'the adopter reports the exit, once');
      assert.equal(exits[0]!.normal, true);
      await second.close();
    });
  });
}
