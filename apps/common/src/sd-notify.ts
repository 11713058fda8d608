/**
 * The app side of sd_notify (systemd's protocol; the supervisor's side is supervisor/src/notify/):
 * when the supervisor (or systemd) sets NOTIFY_SOCKET, the app server says READY=1 once it
 * listens, and, when WATCHDOG_USEC is set, WATCHDOG=1 every half period from an event-loop timer:
 * a blocked event loop sends no ping, so the supervisor sees the hang within one watchdog period
 * (sd_watchdog_enabled(3) recommends pinging at half the period).
 *
 * This is the one place that reads NOTIFY_SOCKET / WATCHDOG_USEC: they are the protocol's own
 * variables, set by whoever supervises the app, not app configuration.
 */
import { hasNotifyAddon, sendNotify } from 'edgevisor';

export interface SdNotify {
  /** True when NOTIFY_SOCKET is set and datagrams can be sent. */
  readonly enabled: boolean;
  /** The watchdog period asked for (ms), 0 without one. */
  readonly watchdogMs: number;
  /** READY=1, and the watchdog pings from now on (startup may block the loop; systemd arms the watchdog after it). */
  ready(): void;
  status(text: string): void;
  /** Stops the pings and says STOPPING=1. */
  stop(): void;
}

export interface SdNotifyOptions {
  /** Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where a failure to send is reported (once per kind of failure). */
  log?: (line: string) => void;
}

export function createSdNotify(opts: SdNotifyOptions = {}): SdNotify {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const socket = env.NOTIFY_SOCKET ?? '';
  const usec = Number(env.WATCHDOG_USEC ?? '');
  const watchdogMs = Number.isFinite(usec) && usec > 0 ? Math.ceil(usec / 1000) : 0;
  // WATCHDOG_PID, when set, names the process the watchdog is for (sd_watchdog_enabled(3)):
  // edgevisor sets it with notify.access main, where only that process's pings count.
  const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
  const canSend = socket !== '' && hasNotifyAddon();
  if (socket !== '' && !canSend) {
    log(`sd_notify: NOTIFY_SOCKET is set but the native helper supervisor/native/build/notify.node is not built: no READY=1 or WATCHDOG=1 will be sent`);
  }
  const reported = new Set<string>();
  const send = (message: string) => {
    if (!canSend) return;
    try {
      sendNotify(socket, message);
    } catch (err) {
      const text = (err as Error).message;
      if (!reported.has(text)) log(`sd_notify: cannot send ${message.split('=')[0]}: ${text}`);
      reported.add(text);
    }
  };
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  return {
    enabled: canSend,
    watchdogMs: forUs ? watchdogMs : 0,
    ready() {
      if (stopped) return;
      send(`READY=1\nMAINPID=${process.pid}`);
      if (canSend && watchdogMs > 0 && forUs && !timer) {
        send('WATCHDOG=1');
        // The event-loop heartbeat: a blocked loop runs no timer, so it sends no ping.
        timer = setInterval(() => send('WATCHDOG=1'), Math.max(1, Math.floor(watchdogMs / 2)));
        timer.unref();
      }
    },
    status: (text) => send(`STATUS=${text.replace(/\n/g, ' ').slice(0, 200)}`),
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      send('STOPPING=1');
    },
  };
}
