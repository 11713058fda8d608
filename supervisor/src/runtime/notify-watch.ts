/**
 * A worker's sd_notify side (systemd's Type=notify and WatchdogSec): its NOTIFY_SOCKET, READY=1
 * ending startup, WATCHDOG=1 pings. The worker node owns one and calls begin/arm/end at the
 * run's edges; the decisions (a missed ping is a hung child, killed with hung_shutdown) are the
 * node's, through `onHung`.
 *
 * The watchdog is armed, as systemd's is, when startup is over (the child is `running`), or at
 * its first ping if that comes sooner; from then on a gap of `watchdogMs` without WATCHDOG=1 is a
 * hang. One timer per run, set for the deadline of the last ping: a ping costs no timer work.
 *
 * A container's socket is at a stable path in a directory compose mounts into it (`socket`); a
 * container adopted from an earlier supervisor said READY=1 to that one, so it counts as ready.
 *
 * INVARIANTS:
 * - Datagrams count only between begin() and end(), and only from the run's own processes
 *   (hooks.accept): a leftover of an older run cannot feed the new one's watchdog.
 * - onHung fires at most once per run.
 */
import type { NotifySpec } from '../spec/types.ts';
import { notifyEnv, openNotifyChannel, processGroupOf, type NotifyChannel, type NotifyMessage } from '../notify/index.ts';

/** The process backend's rule: the sender is the run's group leader or in its process group. */
export function inProcessGroup(pid: number, group: number | undefined): boolean {
  return pid > 0 && group !== undefined && (pid === group || processGroupOf(pid) === group);
}

/** What a snapshot shows of a notify child. */
export interface NotifyStatus {
  /** READY=1 received in this run. */
  ready: boolean;
  /** Watchdog period in ms for this run (WATCHDOG_USEC may change it); 0 = none. */
  watchdogMs: number;
  /** Unix ms of the last WATCHDOG=1 in this run. */
  lastPingAt: number | null;
  /** The child's last STATUS= text. */
  status: string | null;
  /** Datagrams dropped because they did not come from the child's processes. */
  rejected: number;
}

export interface NotifyWatchHooks {
  now(): number;
  /** Whether a datagram the kernel stamped with `pid` (0: a sender outside our pid namespace) comes from the current run; null: no run to judge it by (dropped, not counted). */
  accept(pid: number): boolean | null;
  /** READY=1 arrived in the current run. */
  onReady(): void;
  /** No ping within the watchdog period, WATCHDOG=trigger, or no READY=1 within start_timeout. */
  onHung(reason: string, data: Record<string, unknown>): void;
}

export class NotifyWatch {
  private readonly channel: NotifyChannel;
  private active = false;
  private hungReported = false;
  private isReady = false;
  private lastPing: number | null = null;
  private armedAt: number | null = null;
  private limitMs: number;
  private statusText: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private startTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly spec: NotifySpec,
    private readonly hooks: NotifyWatchHooks,
    socket?: { path: string; label: string },
  ) {
    this.limitMs = spec.watchdogMs;
    this.channel = openNotifyChannel({ accept: (pid) => hooks.accept(pid), onMessage: (m) => this.message(m), ...socket });
  }

  /** NOTIFY_SOCKET (and WATCHDOG_USEC) for the child's environment. */
  env(): Record<string, string> {
    return notifyEnv(this.channel.path, this.spec.watchdogMs);
  }

  /** True once READY=1 came in this run, or always when the spec does not wait for it. */
  get ready(): boolean {
    return !this.spec.ready || this.isReady;
  }

  /** A run started: forget the previous one; with `ready`, start counting start_timeout (not for an adopted run: it was ready for the supervisor before us). */
  begin(opts: { adopted?: boolean } = {}): void {
    this.end();
    this.active = true;
    this.hungReported = false;
    this.isReady = opts.adopted === true;
    this.lastPing = null;
    this.armedAt = null;
    this.limitMs = this.spec.watchdogMs;
    this.statusText = null;
    if (this.spec.ready && !this.isReady) {
      const limit = this.spec.startTimeoutMs;
      this.startTimer = setTimeout(() => {
        this.startTimer = null;
        if (this.active && !this.isReady) this.hung(`no READY=1 within ${limit}ms (notify.start_timeout)`, { startTimeoutMs: limit });
      }, limit);
      this.startTimer.unref?.();
    }
  }

  /** Startup is over: the watchdog runs from now (unless a ping armed it already). */
  arm(): void {
    if (!this.active || this.limitMs <= 0 || this.armedAt !== null) return;
    this.armedAt = this.hooks.now();
    this.schedule();
  }

  /** The run is being stopped or is gone: no more timers, datagrams ignored until begin(). */
  end(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.startTimer) clearTimeout(this.startTimer);
    this.timer = null;
    this.startTimer = null;
  }

  status(): NotifyStatus {
    return { ready: this.isReady, watchdogMs: this.limitMs, lastPingAt: this.lastPing, status: this.statusText, rejected: this.channel.rejected() };
  }

  close(): void {
    this.end();
    this.channel.close();
  }

  private message(m: NotifyMessage): void {
    if (!this.active) return;
    if (m.status !== undefined) this.statusText = m.status;
    if (m.watchdogMs !== undefined) {
      // sd_notify("WATCHDOG_USEC=...") changes the period for this run, as under systemd.
      this.limitMs = m.watchdogMs;
      if (this.armedAt !== null) this.schedule();
    }
    if (m.watchdog === 'trigger') {
      this.hung('the child sent WATCHDOG=trigger', { watchdogMs: this.limitMs, trigger: true });
      return;
    }
    if (m.watchdog === 'ping') {
      this.lastPing = this.hooks.now();
      if (this.armedAt === null && this.limitMs > 0) {
        this.armedAt = this.lastPing;
        this.schedule();
      }
    }
    if (m.ready && !this.isReady) {
      this.isReady = true;
      if (this.startTimer) clearTimeout(this.startTimer);
      this.startTimer = null;
      this.hooks.onReady();
    }
  }

  /** One timer, at the deadline of the last ping; when it fires early (a ping came), it moves on. */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const last = this.lastPing ?? this.armedAt!;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.active) return;
      const age = this.hooks.now() - (this.lastPing ?? this.armedAt!);
      if (age >= this.limitMs) {
        const since = this.lastPing === null ? 'since startup ended' : 'since the last one';
        this.hung(`no WATCHDOG=1 for ${age}ms ${since} (watchdog ${this.limitMs}ms)`, { ageMs: age, watchdogMs: this.limitMs });
      } else this.schedule();
    }, Math.max(1, last + this.limitMs - this.hooks.now()));
    this.timer.unref?.();
  }

  private hung(reason: string, data: Record<string, unknown>): void {
    if (this.hungReported) return;
    this.hungReported = true;
    this.end();
    this.hooks.onHung(reason, { ...data, watchdog: true });
  }
}
