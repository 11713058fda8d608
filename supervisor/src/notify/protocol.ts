/**
 * The sd_notify(3) message format, pure: newline-separated KEY=VALUE assignments in one datagram.
 * Read: READY, WATCHDOG, WATCHDOG_USEC, EXTEND_TIMEOUT_USEC, STATUS, MAINPID, STOPPING, RELOADING
 * (the last two are parsed and have no effect: edgevisor has no reload, and a stop is its own
 * decision). Other keys are ignored: ERRNO, BUSERROR, NOTIFYACCESS... and FDSTORE=1, which
 * systemd does know (it keeps the passed fds for the next run): edgevisor has no fd store, and the
 * native helper closes every fd a datagram carries as it arrives (supervisor/native/notify.c).
 */

/** What one datagram says. */
export interface NotifyMessage {
  /** READY=1: startup is over. */
  ready?: true;
  /** WATCHDOG=1 (a ping) or WATCHDOG=trigger (the child declares itself hung). */
  watchdog?: 'ping' | 'trigger';
  /** WATCHDOG_USEC=N: a new watchdog period for this run, in ms (rounded up). */
  watchdogMs?: number;
  /** EXTEND_TIMEOUT_USEC=N: startup may take until N µs from now (ms, rounded up; never shortens it). */
  extendTimeoutMs?: number;
  /** STATUS=...: free text for humans. */
  status?: string;
  /** MAINPID=N: the child's main process is now N (what `notify.access: main` accepts). */
  mainPid?: number;
  /** STOPPING=1: the child began its own shutdown (no effect). */
  stopping?: true;
  /** RELOADING=1 (no effect: edgevisor has no reload). */
  reloading?: true;
}

/** Longest STATUS= kept: it is shown in snapshots and events. */
export const STATUS_MAX = 200;

/** Parses one datagram's text (`READY=1\nSTATUS=...`); malformed values are ignored, never half-read. */
export function parseNotify(text: string): NotifyMessage {
  const m: NotifyMessage = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    switch (key) {
      case 'READY':
        if (value === '1') m.ready = true;
        break;
      case 'WATCHDOG':
        if (value === '1') m.watchdog = 'ping';
        else if (value === 'trigger') m.watchdog = 'trigger';
        break;
      case 'WATCHDOG_USEC': {
        const ms = usecToMs(value);
        if (ms !== undefined) m.watchdogMs = ms;
        break;
      }
      case 'EXTEND_TIMEOUT_USEC': {
        const ms = usecToMs(value);
        if (ms !== undefined) m.extendTimeoutMs = ms;
        break;
      }
      case 'STATUS':
        m.status = value.slice(0, STATUS_MAX);
        break;
      case 'MAINPID': {
        const pid = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
        if (pid > 0) m.mainPid = pid;
        break;
      }
      case 'STOPPING':
        if (value === '1') m.stopping = true;
        break;
      case 'RELOADING':
        if (value === '1') m.reloading = true;
        break;
      default:
        break;
    }
  }
  return m;
}

/** A positive whole number of µs as ms (rounded up); undefined when malformed. */
function usecToMs(value: string): number | undefined {
  const usec = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(usec) && usec > 0 ? Math.ceil(usec / 1000) : undefined;
}

/**
 * The variables a child gets: NOTIFY_SOCKET, and WATCHDOG_USEC when it has a watchdog. WATCHDOG_PID
 * (`notify.access: main`) is the child's own pid, known only at the spawn: the process backend
 * sets it (BackendContext.pidEnv).
 */
export function notifyEnv(socketPath: string, watchdogMs: number): Record<string, string> {
  const env: Record<string, string> = { NOTIFY_SOCKET: socketPath };
  if (watchdogMs > 0) env.WATCHDOG_USEC = String(watchdogMs * 1000);
  return env;
}
