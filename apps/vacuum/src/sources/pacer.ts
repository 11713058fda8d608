/**
 * Paces the vacuum's write transactions so the apps that write the same file keep their latency.
 *
 * Why: a writer that finds the lock taken does not queue, it sleeps in SQLite's busy handler
 * (1, 2, 5, 10, 15, 20 ... ms), so every collision costs it at least a millisecond, usually more
 * under load. What matters is the share of time the vacuum holds the lock: after each write the
 * pacer rests so that the vacuum holds it at most `maxLockShare` of the time (and at least
 * `pauseMs` between writes). Measured in test/bench/vacuum.bench.ts.
 */
export interface Pacer {
  /** Runs a synchronous write (a transaction, a pragma) and counts its time as lock time. */
  write<T>(fn: () => T): T;
  /**
   * Sleeps long enough for the lock share since the last rest (at least pauseMs). Called only
   * between batches, where rows, files and journal agree: so that is where a stop takes effect
   * (it throws VACUUM_ERR_STOPPED when `stopping()` says so).
   */
  rest(): Promise<void>;
}

export function createPacer(pauseMs: number, maxLockSharePercent: number, stopping: () => boolean = () => false): Pacer {
  let held = 0;
  const factor = 100 / Math.min(100, Math.max(1, maxLockSharePercent)) - 1;
  return {
    write(fn) {
      const t0 = performance.now();
      try { return fn(); } finally { held += performance.now() - t0; }
    },
    async rest() {
      const ms = Math.max(pauseMs, held * factor);
      held = 0;
      await new Promise<void>((r) => setTimeout(r, ms));
      if (stopping()) throw Object.assign(new Error('the run was stopped between two batches (the vacuum is shutting down); the next run goes on'), { code: 'VACUUM_ERR_STOPPED' });
    },
  };
}
