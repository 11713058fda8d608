/**
 * A worker's sd_notify side (systemd's Type=notify and WatchdogSec): its NOTIFY_SOCKET, READY=1
 * ending startup, WATCHDOG=1 pings. The worker node owns one and calls begin/arm/end at the
 * run's edges; the decisions (a missed ping is a hung child, killed with hung_shutdown) are the
 * node's, through `onHung`.
 *
 * The watchdog is armed, as systemd's is, when startup is over (the child is `running`), or at
 * its first ping if that comes sooner; from then on a gap of `watchdogMs` without WATCHDOG=1 is a
 * hang. One timer per run, set for the deadline of the last ping: a ping costs no timer work.
 * Timers and time are the tree's clock (runtime/clock.ts), so a fake clock drives them.
 *
 * Who counts (`notify.access`, systemd's NotifyAccess=): `all`, any sender the unit says is the
 * run's (hooks.accept: its process group, or its container); `main`, of those only the main pid:
 * the spawned pid until an accepted sender names another of the run's processes with MAINPID=.
 * EXTEND_TIMEOUT_USEC= while waiting for READY=1 moves the start deadline to now + its value
 * (never earlier, as systemd); systemd also extends its runtime and stop timeouts, which
 * edgevisor does not have for notify children.
 *
 * A container's socket is at a stable path in a directory compose mounts into it (`socket`); a
 * container adopted from an earlier supervisor said READY=1 to that one, so it counts as ready.
 *
 * INVARIANTS:
 * - Datagrams count only between begin() and end(), and only from the run's own processes
 *   (hooks.accept, then access): a leftover of an older run cannot feed the new one's watchdog.
 * - onHung fires at most once per run.
 * - At most one watchdog timer and one start timer are armed, only while the run is active.
 */
import type { NotifySpec } from '../spec/types.ts';
import type { Clock, TimerHandle } from './clock.ts';
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
  /** Datagrams dropped because their sender was not the child's (or, with access main, not its main process). */
  rejected: number;
  /** The main pid named with MAINPID= in this run (accepted), null when none was. */
  mainPid: number | null;
}

export interface NotifyWatchHooks {
  /** The tree's clock: the time and every timer. */
  clock: Clock;
  /** Whether a datagram the kernel stamped with `pid` (0: a sender outside our pid namespace) comes from the current run; null: no run to judge it by (dropped, not counted). */
  accept(pid: number): boolean | null;
  /** The run's main pid before any MAINPID= (the spawned process), undefined when unknown. */
  mainPid(): number | undefined;
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
  /** Set by an accepted MAINPID= for this run. */
  private namedMainPid: number | null = null;
  /** When the start timer fires (unix ms), and whether EXTEND_TIMEOUT_USEC moved it. */
  private startDeadline = 0;
  private startExtended = false;
  private timer: TimerHandle | null = null;
  private startTimer: TimerHandle | null = null;

  constructor(
    private readonly spec: NotifySpec,
    private readonly hooks: NotifyWatchHooks,
    socket?: { path: string; label: string },
  ) {
    this.limitMs = spec.watchdogMs;
    this.channel = openNotifyChannel({ accept: (pid) => this.admit(pid), onMessage: (m) => this.message(m), ...socket });
  }

  /** NOTIFY_SOCKET (and WATCHDOG_USEC) for the child's environment. */
  env(): Record<string, string> {
    return notifyEnv(this.channel.path, this.spec.watchdogMs);
  }

  /** The variable the unit sets to the child's own pid at the spawn: WATCHDOG_PID with access main and a watchdog (as systemd). */
  pidEnv(): string | undefined {
    return this.spec.access === 'main' && this.spec.watchdogMs > 0 ? 'WATCHDOG_PID' : undefined;
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
    this.namedMainPid = null;
    this.startExtended = false;
    if (this.spec.ready && !this.isReady) this.armStart(this.clock.now() + this.spec.startTimeoutMs);
  }

  /** Startup is over: the watchdog runs from now (unless a ping armed it already). */
  arm(): void {
    if (!this.active || this.limitMs <= 0 || this.armedAt !== null) return;
    this.armedAt = this.clock.now();
    this.schedule();
  }

  /** The run is being stopped or is gone: no more timers, datagrams ignored until begin(). */
  end(): void {
    this.active = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.startTimer) this.clock.clearTimeout(this.startTimer);
    this.timer = null;
    this.startTimer = null;
  }

  status(): NotifyStatus {
    return { ready: this.isReady, watchdogMs: this.limitMs, lastPingAt: this.lastPing, status: this.statusText, rejected: this.channel.rejected(), mainPid: this.namedMainPid };
  }

  close(): void {
    this.end();
    this.channel.close();
  }

  private get clock(): Clock {
    return this.hooks.clock;
  }

  /** The unit's rule (the run's processes), then access: with `main`, only the main pid. */
  private admit(pid: number): boolean | null {
    const ours = this.hooks.accept(pid);
    if (ours !== true || this.spec.access === 'all') return ours;
    return pid === (this.namedMainPid ?? this.hooks.mainPid());
  }

  private message(m: NotifyMessage): void {
    if (!this.active) return;
    // As systemd: the new main pid must be one of the run's own processes (else it is ignored).
    if (m.mainPid !== undefined && this.hooks.accept(m.mainPid) === true) this.namedMainPid = m.mainPid;
    if (m.status !== undefined) this.statusText = m.status;
    if (m.extendTimeoutMs !== undefined && this.startTimer && !this.isReady) {
      const deadline = this.clock.now() + m.extendTimeoutMs;
      if (deadline > this.startDeadline) {
        this.startExtended = true;
        this.armStart(deadline);
      }
    }
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
      this.lastPing = this.clock.now();
      if (this.armedAt === null && this.limitMs > 0) {
        this.armedAt = this.lastPing;
        this.schedule();
      }
    }
    if (m.ready && !this.isReady) {
      this.isReady = true;
      if (this.startTimer) this.clock.clearTimeout(this.startTimer);
      this.startTimer = null;
      this.hooks.onReady();
    }
  }

  /** The start timer, at `deadline`: no READY=1 by then is a hang. */
  private armStart(deadline: number): void {
    if (this.startTimer) this.clock.clearTimeout(this.startTimer);
    this.startDeadline = deadline;
    const began = this.clock.now();
    this.startTimer = this.clock.setTimeout(() => {
      this.startTimer = null;
      if (!this.active || this.isReady) return;
      const limit = this.spec.startTimeoutMs;
      const reason = this.startExtended
        ? `no READY=1 within ${deadline - began}ms of its last EXTEND_TIMEOUT_USEC (notify.start_timeout ${limit}ms, extended)`
        : `no READY=1 within ${limit}ms (notify.start_timeout)`;
      this.hung(reason, { startTimeoutMs: limit, ...(this.startExtended ? { extendedMs: deadline - began } : {}) });
    }, Math.max(0, deadline - began));
    this.startTimer.unref?.();
  }

  /** One timer, at the deadline of the last ping; when it fires early (a ping came), it moves on. */
  private schedule(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    const last = this.lastPing ?? this.armedAt!;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (!this.active) return;
      const age = this.clock.now() - (this.lastPing ?? this.armedAt!);
      if (age >= this.limitMs) {
        const since = this.lastPing === null ? 'since startup ended' : 'since the last one';
        this.hung(`no WATCHDOG=1 for ${age}ms ${since} (watchdog ${this.limitMs}ms)`, { ageMs: age, watchdogMs: this.limitMs });
      } else this.schedule();
    }, Math.max(1, last + this.limitMs - this.clock.now()));
    this.timer.unref?.();
  }

  private hung(reason: string, data: Record<string, unknown>): void {
    if (this.hungReported) return;
    this.hungReported = true;
    this.end();
    this.hooks.onHung(reason, { ...data, watchdog: true });
  }
}
