/**
 * Time and timers, passed in. The runtime (supervisor restarts, backoff waits, probe scheduling,
 * heartbeat checks, the sd_notify watchdog and start timeout) and the in-process backend read the time and arm timers only through a
 * `Clock`, so a test can drive time itself (test/helpers/fake-clock.ts) instead of sleeping real
 * seconds. Production uses `systemClock`: Date.now and Node's timers.
 */

/** What a timer call returns: opaque; `unref` when the clock's timers have it (Node's do). */
export interface TimerHandle {
  unref?(): unknown;
}

/** The time and the timers the runtime uses; a test passes a fake one (test/helpers/fake-clock.ts). */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | null | undefined): void;
}

/** Date.now and Node's timers: what every tree uses unless given another clock. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: TimerHandle | null | undefined) => clearTimeout(h as NodeJS.Timeout | undefined),
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (h: TimerHandle | null | undefined) => clearInterval(h as NodeJS.Timeout | undefined),
});
