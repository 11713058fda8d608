// A fake clock (supervisor/src/runtime/clock.ts) for runtime tests: time moves only when the test
// moves it, so backoffs, heartbeat timeouts and probe periods of seconds take milliseconds, and a
// test waits on conditions, never on time. Timers run in due order (ties in the order they were
// armed); between two timers the real event loop turns a few times so that the promise chains a
// timer starts (a stop, a launch, a reconcile pass on a supervisor's queue) settle first.
import type { Clock, TimerHandle } from '../../supervisor/src/runtime/clock.ts';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
  /** Set for intervals: re-armed this far after each run. */
  every?: number;
}

export interface FakeClock extends Clock {
  /** Timers armed and not yet run or cleared. */
  pending(): number;
  /** Moves time forward by `ms`, running every timer that falls due on the way, in order. */
  advance(ms: number): Promise<void>;
  /**
   * Runs timers one by one, in due order, until `cond()` holds (checked after the real event loop
   * settled, before each timer). Fails, naming `label`, when it still does not hold after `maxMs`
   * of fake time (default 60 s).
   */
  until(label: string, cond: () => boolean, maxMs?: number): Promise<void>;
}

/** Lets promise chains and setImmediate callbacks run (real event-loop turns, no real delay). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

export function createFakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, Timer>();
  const handleOf = (t: Timer): TimerHandle & { id: number } => ({ id: t.id, unref: () => undefined });
  const arm = (fn: () => void, ms: number, every?: number) => {
    const t: Timer = { id: nextId++, due: now + Math.max(0, ms), fn, ...(every !== undefined ? { every: Math.max(1, every) } : {}) };
    timers.set(t.id, t);
    return handleOf(t);
  };
  const clear = (h: TimerHandle | null | undefined) => {
    if (h && typeof (h as { id?: unknown }).id === 'number') timers.delete((h as { id: number }).id);
  };
  const earliest = (): Timer | undefined => {
    let best: Timer | undefined;
    for (const t of timers.values()) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  };
  const fire = (t: Timer) => {
    now = Math.max(now, t.due);
    if (t.every !== undefined) t.due = now + t.every;
    else timers.delete(t.id);
    t.fn();
  };
  return {
    now: () => now,
    setTimeout: (fn, ms) => arm(fn, ms),
    clearTimeout: clear,
    setInterval: (fn, ms) => arm(fn, ms, ms),
    clearInterval: clear,
    pending: () => timers.size,
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await settle();
        const t = earliest();
        if (!t || t.due > target) break;
        fire(t);
      }
      now = target;
      await settle();
    },
    async until(label, cond, maxMs = 60_000) {
      const deadline = now + maxMs;
      for (;;) {
        await settle();
        if (cond()) return;
        const t = earliest();
        if (!t || t.due > deadline) throw new Error(`still waiting for ${label} after ${maxMs}ms of fake time (${timers.size} timers pending)`);
        fire(t);
      }
    },
  };
}
