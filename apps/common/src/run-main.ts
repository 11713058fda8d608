/**
 * The process edge of every app. `runMain` is the only place that installs SIGTERM/SIGINT.
 *
 * Shutdown is two-phase (as temporal's worker and undici's close/destroy do): the first signal
 * calls `stop()` to drain (stop accepting, finish in-flight work, stop workers); if that has not
 * finished within `graceMs`, or a second signal arrives, the process exits at once with code 1.
 *
 * It also sets up the process's logger (log.ts): JSON lines on stdout with `app`, at LOG_LEVEL.
 */

import { redactSecrets } from './redact.ts';
import { createAppLogger, parseLogLevel, processLogger, setProcessLogger, type Logger } from './log.ts';

/** What `start` returns: something that can be drained. */
export interface Running {
  stop(): Promise<void>;
}

export interface RunMainOptions {
  /** The app's name: the `app` field of every line the process logs. */
  app?: string;
  /** How long the drain may take before a forced exit (default 10000 ms). */
  graceMs?: number;
  /** Where lifecycle lines go (default: the process's logger). */
  logger?: Logger;
  /** For tests: replaces process.exit. */
  exit?: (code: number) => void;
}

export function runMain(start: () => Promise<Running>, opts: RunMainOptions = {}): void {
  const graceMs = opts.graceMs ?? 10_000;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let log: Logger;
  try {
    log = opts.logger ?? (opts.app ? setProcessLogger(createAppLogger({ app: opts.app, level: parseLogLevel(process.env['LOG_LEVEL']) })) : processLogger());
  } catch (err) {
    log = setProcessLogger(createAppLogger({ app: opts.app ?? 'app' }));
    process.stderr.write(`start failed: ${(err as Error).message}\n`);
    log.fatal({ code: 'APP_ERR_CONFIG' }, `start failed: ${(err as Error).message}`);
    exit(1);
    return;
  }
  let running: Running | undefined;
  let stopping = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, `${signal} again: forcing exit`);
      exit(1);
      return;
    }
    stopping = true;
    log.info({ signal, graceMs }, `${signal}: draining (grace ${graceMs}ms)`);
    const force = setTimeout(() => {
      log.error({ graceMs }, `drain did not finish within ${graceMs}ms: forcing exit`);
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
        log.error({ err }, `drain failed: ${err instanceof Error ? err.message : String(err)}`);
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
      // A start failure is read by the person who started the process (a bad PORT, a typo in
      // a site file): plain lines on stderr as before, and the JSON line for the log.
      const text = `start failed${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? String(err)}`;
      process.stderr.write(redactSecrets([text, ...(e?.details ?? []).map((d) => `  ${d}`)].join('\n')) + '\n');
      log.fatal({ ...(e?.code ? { code: e.code, details: e.details } : { err }) }, text);
      exit(1);
    });
}
