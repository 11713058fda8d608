/**
 * The process edge of every app. `runMain` is the only place that installs SIGTERM/SIGINT.
 *
 * Shutdown is two-phase (as temporal's worker and undici's close/destroy do): the first signal
 * calls `stop()` to drain (stop accepting, finish in-flight work, stop workers); if that has not
 * finished within `graceMs`, or a second signal arrives, the process exits at once with code 1.
 */

import { redactingLog } from './redact.ts';

/** What `start` returns: something that can be drained. */
export interface Running {
  stop(): Promise<void>;
}

export interface RunMainOptions {
  /** How long the drain may take before a forced exit (default 10000 ms). */
  graceMs?: number;
  /** Where to log lifecycle lines (default console.error). */
  log?: (line: string) => void;
  /** For tests: replaces process.exit. */
  exit?: (code: number) => void;
}

export function runMain(start: () => Promise<Running>, opts: RunMainOptions = {}): void {
  const graceMs = opts.graceMs ?? 10_000;
  const log = redactingLog(opts.log);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let running: Running | undefined;
  let stopping = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: forcing exit`);
      exit(1);
      return;
    }
    stopping = true;
    log(`${signal}: draining (grace ${graceMs}ms)`);
    const force = setTimeout(() => {
      log(`drain did not finish within ${graceMs}ms: forcing exit`);
      exit(1);
    }, graceMs);
    force.unref();
    Promise.resolve(running?.stop())
      .then(() => {
        clearTimeout(force);
        exit(0);
      })
      .catch((err: unknown) => {
        clearTimeout(force);
        log(`drain failed: ${err instanceof Error ? err.message : String(err)}`);
        exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  start()
    .then((r) => {
      running = r;
      // A signal that arrived during start: drain what just started.
      if (stopping) void r.stop().finally(() => exit(0));
    })
    .catch((err: unknown) => {
      const e = err as { code?: string; message?: string; details?: readonly string[] };
      log(`start failed${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? String(err)}`);
      for (const d of e?.details ?? []) log(`  ${d}`);
      exit(1);
    });
}
