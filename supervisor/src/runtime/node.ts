import { assertTransition, type ChildState } from '../core/lifecycle.ts';
import { initialBackoff, type BackoffState } from '../core/backoff.ts';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import type { FailureCause } from '../core/strategy.ts';
import type { BackendRegistry } from '../backends/types.ts';
import type { ProbeCheck, ChildSpec, RestartType } from '../spec/types.ts';
import type { ProbeResult, ProbeTarget } from '../probes/types.ts';
import type { ChildSnapshot } from './types.ts';
import type { Clock } from './clock.ts';

/** What every node needs from the tree it lives in. */
export interface NodeHost {
  emit(draft: EventDraft): TreeEvent;
  /** `clock.now()`. */
  now(): number;
  /** Every timer of the runtime is armed on it (runtime/clock.ts): tests pass a fake one. */
  clock: Clock;
  backends: BackendRegistry;
  baseDir: string;
  runProbe(check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult>;
  /** A bug (illegal transition, unexpected throw) surfaced from a background task. */
  onInternalError(err: unknown): void;
}

/** A node's report to its supervisor that it went down or turned unhealthy. */
export interface Failure {
  cause: FailureCause;
  /** How long it had been `running` before this failure (0 if it never got there): backoff reset. */
  ranForMs: number;
  /** The node's generation when it failed: a stale report (the node was restarted since) is ignored. */
  generation: number;
  /** True for a clean exit (code 0): transient children are not restarted after one. */
  normal: boolean;
  reason: string;
  data?: Record<string, unknown>;
}

/** The part of a supervisor a child talks to. */
export interface ParentLink {
  readonly id: string;
  childFailed(child: TreeNode, failure: Failure): void;
}

export type StartResult = 'running' | 'down';

/**
 * State shared by workers and supervisors: the lifecycle, its single setter, and bookkeeping the
 * parent's restart logic reads.
 *
 * INVARIANTS:
 * - `state` changes only through setState(), which checks the transition table and emits exactly
 *   one `transition` event per change.
 * - `generation` increases on every start() and stop(); background work (probe loops, start waits,
 *   failure reports) captured with an older generation does nothing.
 */
export abstract class TreeNode {
  state: ChildState = 'stopped';
  since: number;
  /** When the current run began (launch), null while down. */
  startedAt: number | null = null;
  /** When it last reached `running` (for backoff reset), null while not running. */
  upSince: number | null = null;
  restarts = 0;
  lastReason: string | null = null;
  /** Why it was last restarted, in a technician's words (core/reason-words.ts); set by the tree when a restart is decided. */
  lastRestartReason: string | null = null;
  lastRestartAt: number | null = null;
  /** A technician stopped it: nothing but a manual start brings it back. */
  manuallyStopped = false;
  /** False after an end its restart type does not restart (transient clean exit, temporary crash). */
  desiredUp = true;
  generation = 0;
  backoff: BackoffState = initialBackoff;
  /** Unix ms before which a node in `backoff` must not be started. */
  dueAt = 0;
  /** Reported a failure its supervisor has not handled yet: reconcile must not start it meanwhile. */
  pendingFailure = false;
  /** The last generation whose failure the supervisor handled: one run is handled once. */
  handledGeneration = -1;
  /** The generation a parent is already watching for the end of its startup. */
  watchedGeneration = -1;
  /** Why the next start happens, when it was decided outside reconcile (a manual restart). */
  startReason: string | null = null;
  private waiters = new Set<() => void>();

  constructor(
    readonly spec: ChildSpec,
    readonly parent: ParentLink | null,
    protected readonly host: NodeHost,
  ) {
    this.since = host.now();
  }

  get id(): string {
    return this.spec.id;
  }

  /** Its restart type (so a node reads as a core/decide.ts `ChildView` as it is). */
  get restart(): RestartType {
    return this.spec.restart;
  }

  /** The only way a state changes. Throws IllegalStateError for a change not in the table. */
  setState(to: ChildState, reason: string, data?: Record<string, unknown>): void {
    const from = this.state;
    assertTransition(this.id, from, to);
    this.state = to;
    this.since = this.host.now();
    this.lastReason = reason;
    if (to === 'running') this.upSince = this.since;
    else if (to !== 'unhealthy') this.upSince = null;
    this.host.emit({ type: 'transition', child: this.id, from, to, reason, ...(data ? { data } : {}) });
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * The state as of now. Use it after an await: TypeScript narrows `this.state` from checks made
   * before the await, but other tasks may have changed it meanwhile.
   */
  current(): ChildState {
    return this.state;
  }

  /** Resolves once `done()` holds (checked now and after every state change). */
  waitUntil(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /**
   * Begin a run: leaves the node `starting` (or already down if the launch failed). Resolves with
   * the run's generation once the launch itself is done, without waiting for startup probes.
   */
  abstract launch(reason: string): Promise<number>;

  /** Launch and wait until running (past startup probes) or down again. */
  async start(reason: string): Promise<StartResult> {
    const gen = await this.launch(reason);
    await this.waitUntil(() => gen !== this.generation || this.state !== 'starting');
    return gen === this.generation && this.current() === 'running' ? 'running' : 'down';
  }

  /** How long the current run has been `running`, for the backoff reset. */
  ranFor(): number {
    return this.upSince === null ? 0 : this.host.now() - this.upSince;
  }
  /** Take it down (reverse order for supervisors) and leave it in `next`. Idempotent. */
  abstract stop(reason: string, next: 'stopped' | 'backoff' | 'failed'): Promise<void>;
  abstract snapshot(): ChildSnapshot;
  /** Release resources at tree shutdown. */
  abstract close(): Promise<void>;

  protected baseSnapshot(): Omit<ChildSnapshot, 'type' | 'probes'> {
    return {
      id: this.id,
      parent: this.parent?.id ?? null,
      state: this.state,
      since: this.since,
      startedAt: this.startedAt,
      restarts: this.restarts,
      lastReason: this.lastReason,
      lastRestartReason: this.lastRestartReason,
      lastRestartAt: this.lastRestartAt,
      manuallyStopped: this.manuallyStopped,
    };
  }
}
