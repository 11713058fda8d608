/**
 * The runtime side of a typed worker's own lifecycle, one per worker node: holds the run's state
 * track (core/worker-deadlines.ts), arms one timer for the next deadline, folds state changes into
 * `worker_state` events (core/worker-state-fold.ts), and calls `onViolation` once per run when a
 * deadline breaks. Decisions stay in the pure core; this file only keeps time.
 *
 * INVARIANTS:
 * - begin() starts a run (the declared initial state); halt() ends watching it (no timer left,
 *   held events flushed); reports between halt() and the next begin() are ignored.
 * - onViolation fires at most once per run, and never after halt().
 */
import { checkDeadlines, enterState, initialTrack, nextDeadlineAt, violationFacts, type DeadlineViolation, type WorkerStateTrack } from '../core/worker-deadlines.ts';
import { flushFold, foldChange, foldedReason, freshFold, type FoldedChange, type StateFold } from '../core/worker-state-fold.ts';
import { assertDeclaredState } from '../spec/worker-lifecycle.ts';
import type { WorkerLifecycleSpec } from '../spec/types.ts';
import type { NodeHost } from './node.ts';

export interface WorkerStateWatchDeps {
  id: string;
  lifecycle: WorkerLifecycleSpec;
  host: Pick<NodeHost, 'emit' | 'now' | 'onInternalError'>;
  /** Unix ms of the worker's last heartbeat (Unit.lastHeartbeat), 0 if it has none. */
  lastHeartbeat: () => number;
  onViolation: (violation: DeadlineViolation, facts: Record<string, string | number | boolean>) => void;
}

export class WorkerStateWatch {
  private track: WorkerStateTrack | null = null;
  private fold: StateFold | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The deadline `timer` is set for. */
  private timerAt = Infinity;
  private flushTimer: NodeJS.Timeout | null = null;
  private watching = false;

  constructor(private readonly deps: WorkerStateWatchDeps) {}

  /** The worker's own state and since when (kept after the run ends, until the next begin). */
  current(): { workerState: string; workerStateSince: number } | null {
    return this.track ? { workerState: this.track.state, workerStateSince: this.track.since } : null;
  }

  begin(): void {
    this.halt();
    const now = this.deps.host.now();
    this.track = initialTrack(this.deps.lifecycle, now);
    this.fold = freshFold(this.track.state);
    this.watching = true;
    this.arm();
  }

  /** A state report from the unit. Throws EDGEVISOR_ERR_UNDECLARED_STATE for an undeclared state. */
  report(state: string): void {
    assertDeclaredState(this.deps.lifecycle, state, this.deps.id);
    if (!this.watching || !this.track || !this.fold) return;
    const now = this.deps.host.now();
    const r = enterState(this.track, this.deps.lifecycle, state, now, this.deps.lastHeartbeat());
    this.track = r.track;
    if (r.changed) {
      const f = foldChange(this.fold, state, now);
      this.fold = f.fold;
      if (f.emit) this.emit(f.emit);
      if (f.flushAt !== null && !this.flushTimer) this.flushTimer = this.later(f.flushAt - now, () => this.flush());
    }
    if (r.violation) this.violated(r.violation);
    else this.arm();
  }

  halt(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.flush();
    this.watching = false;
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.fold) return;
    const f = flushFold(this.fold, this.deps.host.now());
    this.fold = f.fold;
    if (f.emit) this.emit(f.emit);
  }

  private emit(c: FoldedChange): void {
    this.deps.host.emit({ type: 'worker_state', child: this.deps.id, reason: foldedReason(c), data: { from: c.from, to: c.to, changes: c.changes } });
  }

  private violated(v: DeadlineViolation): void {
    this.halt();
    this.deps.onViolation(v, violationFacts(v));
  }

  /**
   * One timer, 1 ms past the next deadline (limits are inclusive). Lazy: a timer already set for an
   * earlier time is kept (it checks, finds nothing, and re-arms), so a worker reporting states many
   * times a second does not reset a timer each time.
   */
  private arm(): void {
    if (!this.watching || !this.track) return;
    const at = nextDeadlineAt(this.track, this.deps.lifecycle, this.deps.lastHeartbeat());
    if (at === null || (this.timer && this.timerAt <= at)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.later(at + 1 - this.deps.host.now(), () => {
      this.timer = null;
      this.timerAt = Infinity;
      if (!this.watching || !this.track) return;
      const v = checkDeadlines(this.track, this.deps.lifecycle, this.deps.host.now(), this.deps.lastHeartbeat());
      if (v) this.violated(v);
      else this.arm(); // a heartbeat came in meanwhile: the deadline moved
    });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      try {
        fn();
      } catch (err) {
        this.deps.host.onInternalError(err); // never out of a timer
      }
    }, Math.max(0, ms));
    t.unref?.();
    return t;
  }
}
