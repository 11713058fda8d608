import type { ChildState } from './lifecycle.ts';
import { isUp } from './lifecycle.ts';
import { onFailure, type BackoffState } from './backoff.ts';
import { recordRestart, type IntensityWindow } from './intensity.ts';
import { affectedByFailure, orderIsDependency, shouldRestart, type FailureCause } from './strategy.ts';
import type { EventDraft } from './events.ts';
import type { BackoffSpec, RestartType, Strategy } from '../spec/types.ts';

/**
 * A supervisor's decisions as data. Pure: `decide(state, event, now)` reads a plain view of one
 * supervisor and its children and returns the steps to carry out, in order; it executes nothing.
 * The runtime (runtime/supervisor-node.ts) builds the view, calls it, and runs each step with the
 * executor of its kind (an executor table the compiler checks for completeness, as
 * balena-supervisor's composition steps are executed).
 *
 * Two events:
 * - `failed`: a child reported a failure (exit, failed start, probe or heartbeat verdict,
 *   escalation of a nested supervisor). Restart type, strategy, intensity, backoff and escalation.
 * - `reconcile`: start, in order, the next child that should be up (ordered start). The runtime
 *   executes the steps and asks again after each `start`, until a decision has none: one pass.
 */

/** What the decision reads of a child (the runtime passes its nodes as they are: read-only here). */
export interface ChildView {
  readonly id: string;
  readonly restart: RestartType;
  readonly state: ChildState;
  readonly manuallyStopped: boolean;
  /** False after an end its restart type does not restart. */
  readonly desiredUp: boolean;
  /** Reported a failure not handled yet: never started meanwhile. */
  readonly pendingFailure: boolean;
  readonly generation: number;
  readonly handledGeneration: number;
  readonly backoff: BackoffState;
  /** Unix ms before which a child in `backoff` must not start. */
  readonly dueAt: number;
  /** Why its next start happens when decided elsewhere (a manual restart), else null. */
  readonly startReason: string | null;
}

/** What the decision reads of the supervisor itself. */
export interface SupervisorView {
  id: string;
  state: ChildState;
  strategy: Strategy;
  intensity: number;
  periodMs: number;
  backoff: BackoffSpec;
  /** Restarts inside the intensity period. */
  window: IntensityWindow;
  /** False for the root: past its intensity it gives up (gave_up, alarm) instead of failing upwards. */
  hasParent: boolean;
  /** The root only: 'stop_failed' gives up by stopping only the failing child (default: every child). */
  onGiveUp?: 'stop_all' | 'stop_failed';
  /** Children in start order. */
  children: readonly ChildView[];
}

/** A child's failure as its node reported it (runtime/node.ts `Failure`). */
export interface FailureReport {
  cause: FailureCause;
  /** How long it had been running before failing: a run of `reset_after` resets its backoff. */
  ranForMs: number;
  generation: number;
  /** A clean exit (code 0): transient children are not restarted after one. */
  normal: boolean;
  reason: string;
  data?: Record<string, unknown>;
}

/** What core/manual-restart.ts planned for a technician's restart (its `ManualRestartPlan`). */
export interface ManualPlan {
  child: string;
  /** Restarted, in start order. */
  restarting: readonly string[];
  /** Temporary siblings stopped for good. */
  stopping: readonly string[];
}

/** What a decision is about: a child's failure, a reconcile pass (ordered start), a technician's restart. */
export type DecideEvent =
  | { type: 'failed'; child: string; failure: FailureReport }
  /** A technician's restart: `by` is the role, for the reasons. Counts toward no intensity, touches no backoff. */
  | { type: 'manual_restart'; plan: ManualPlan; by: string }
  /** `tried`: children already started in this pass (a start that did not take is not retried in the same pass). */
  | { type: 'reconcile'; tried: readonly string[] };

/** Bookkeeping on a child; only the fields present change. `countRestart` adds one to its restart count. */
export interface ChildMarks {
  handledGeneration?: number;
  pendingFailure?: boolean;
  desiredUp?: boolean;
  dueAt?: number;
  backoff?: BackoffState;
  startReason?: string | null;
  countRestart?: true;
}

/**
 * One step of a decision. `ifStillUp` (siblings taken down with a failed child): skipped when, by
 * the time the step runs, the child is no longer up, was stopped by a technician or is no longer
 * wanted up. An earlier step awaited a stop, and meanwhile it may have gone down on its own; its
 * own failure is then decided on its own.
 */
export type Step =
  | { kind: 'mark'; child: string; set: ChildMarks }
  /** The supervisor's restart history after this decision. */
  | { kind: 'record'; window: IntensityWindow }
  /** Record an event; with `ifStillUp`, about `event.child`. */
  | { kind: 'emit'; event: EventDraft; ifStillUp?: true }
  /**
   * Take the child down (a supervisor's children in reverse order) and leave it in `next`; `set`
   * is applied just before (after the `ifStillUp` check), `then` just after, unless a technician
   * stopped the child meanwhile.
   */
  | { kind: 'stop'; child: string; reason: string; next: 'stopped' | 'backoff' | 'failed'; set?: ChildMarks; ifStillUp?: true; then?: ChildMarks }
  /** Launch it (does not wait for its startup probes). */
  | { kind: 'start'; child: string; reason: string }
  /** It is starting: run another pass when its startup ends, up or down. */
  | { kind: 'watch'; child: string }
  /** Run a reconcile pass at `at` (unix ms; now or earlier: at once). */
  | { kind: 'wait'; at: number }
  /** A supervisor still `starting` is past its first pass: `running` from now on. */
  | { kind: 'settle'; reason: string }
  /**
   * Past its intensity: the supervisor stops every child in reverse order (or only the child
   * `only`: a root with on_give_up: stop_failed), then fails to its parent (`toParent`) with
   * `failure`, or, at the root, ends in `gave_up`.
   */
  | { kind: 'escalate'; reason: string; toParent: boolean; failure: Omit<FailureReport, 'generation' | 'ranForMs'>; only?: string };

/** The kinds of step; the runtime has one executor for each. */
export type StepKind = Step['kind'];

const active = (s: SupervisorView) => s.state === 'running' || s.state === 'starting';

/** The decision for one event. Never throws for a child it does not know: it decides nothing. */
export function decide(state: SupervisorView, event: DecideEvent, now: number): Step[] {
  switch (event.type) {
    case 'failed':
      return decideFailure(state, event.child, event.failure, now);
    case 'reconcile':
      return decideReconcile(state, event.tried, now);
    case 'manual_restart':
      return decideManualRestart(state, event.plan, event.by, now);
  }
}

/**
 * A manual restart plan carried out: the affected children stop in reverse start order (siblings
 * only if still up by then), are marked to start again with their reason, and a pass starts them
 * in order, as after a failure but with no intensity, backoff or delay.
 */
function decideManualRestart(s: SupervisorView, plan: ManualPlan, by: string, now: number): Step[] {
  if (!active(s)) return [];
  const steps: Step[] = [];
  const inOrder = s.children.filter((c) => plan.restarting.includes(c.id) || plan.stopping.includes(c.id));
  for (const c of [...inOrder].reverse()) {
    const named = c.id === plan.child;
    const guard = named ? {} : { ifStillUp: true as const };
    const why = named ? `restart requested by ${by}` : `${s.strategy}: ${plan.child} restarted by ${by}`;
    if (plan.stopping.includes(c.id)) {
      // temporary: never started again, as on a failure
      steps.push({ kind: 'stop', child: c.id, reason: why, next: 'stopped', set: { desiredUp: false }, ...guard });
      continue;
    }
    if (!named) {
      steps.push({ kind: 'emit', ifStillUp: true, event: { type: 'restart', child: c.id, reason: why, data: { cause: 'manual', sibling: plan.child, strategy: s.strategy, supervisor: s.id, delayMs: 0 } } });
    }
    // The new run replaces any failure still reported for the old one (stale by generation then).
    const startReason = named ? `restarted by ${by}` : `restarted after ${plan.child} (${s.strategy}, by ${by})`;
    steps.push({
      kind: 'stop',
      child: c.id,
      reason: why,
      next: 'stopped',
      ...(named ? {} : { set: { countRestart: true } }),
      then: { pendingFailure: false, desiredUp: true, dueAt: 0, startReason },
      ...guard,
    });
  }
  steps.push({ kind: 'wait', at: now });
  return steps;
}

function decideFailure(s: SupervisorView, id: string, f: FailureReport, now: number): Step[] {
  const child = s.children.find((c) => c.id === id);
  // A report about a run that no longer exists (restarted or stopped since), or handled already.
  if (!child || child.generation !== f.generation || child.handledGeneration === f.generation) return [];
  const steps: Step[] = [{ kind: 'mark', child: id, set: { handledGeneration: f.generation, pendingFailure: false } }];
  if (!active(s) || child.manuallyStopped) return steps;

  if (!shouldRestart(child.restart, f.cause, f.normal)) {
    steps.push({ kind: 'mark', child: id, set: { desiredUp: false } });
    if (isUp(child.state)) steps.push({ kind: 'stop', child: id, reason: `${f.reason} (restart: ${child.restart}, not restarted)`, next: 'failed' });
    steps.push({ kind: 'wait', at: now }); // children held behind it in the start order may go on
    return steps;
  }

  const intensity = recordRestart(s.window, now, s.intensity, s.periodMs);
  steps.push({ kind: 'record', window: intensity.window });
  if (intensity.exceeded) {
    const reason = `more than ${s.intensity} restarts in ${s.periodMs}ms (last: ${id}: ${f.reason})`;
    const facts = { intensity: s.intensity, periodMs: s.periodMs, failedChild: id };
    steps.push({ kind: 'emit', event: { type: 'escalation', child: s.id, reason, data: facts } });
    const onlyFailed = !s.hasParent && s.onGiveUp === 'stop_failed';
    steps.push({
      kind: 'escalate',
      reason,
      toParent: s.hasParent,
      failure: { cause: 'escalation', normal: false, reason: `supervisor ${s.id} gave up: ${reason}`, data: facts },
      ...(onlyFailed ? { only: id } : {}),
    });
    if (!s.hasParent) {
      const stopped = onlyFailed ? `${id} is stopped; the others keep running unsupervised` : 'Every child is stopped';
      steps.push({
        kind: 'emit',
        event: { type: 'alarm', child: s.id, reason: `the tree gave up: ${reason}. ${stopped}; the API keeps serving. Start ${s.id} again once the cause is fixed.` },
      });
    }
    return steps;
  }

  const { delayMs, state: backoff } = onFailure(child.backoff, s.backoff, f.ranForMs);
  const ids = s.children.map((c) => c.id);
  const affected = affectedByFailure(s.strategy, ids, id).map((x) => s.children.find((c) => c.id === x)!);
  const taken = (c: ChildView) => isUp(c.state) && !c.manuallyStopped && c.desiredUp;
  const restarted = affected.filter((c) => c === child || (isUp(c.state) && !c.manuallyStopped && c.restart !== 'temporary'));
  const dueAt = now + delayMs;
  steps.push({ kind: 'mark', child: id, set: { backoff, countRestart: true } });
  steps.push({
    kind: 'emit',
    event: {
      type: 'restart',
      child: id,
      reason: `${f.reason}; restarting ${restarted.map((c) => c.id).join(', ')}${delayMs > 0 ? ` in ${delayMs}ms` : ''} (${s.strategy})`,
      data: { ...f.data, cause: f.cause, strategy: s.strategy, supervisor: s.id, affected: restarted.map((c) => c.id), delayMs },
    },
  });
  // Take the affected siblings down in reverse start order, the failed child with them.
  for (const c of [...affected].reverse()) {
    if (c === child) {
      steps.push({ kind: 'stop', child: id, reason: f.reason, next: 'backoff', set: { dueAt } });
      continue;
    }
    if (!taken(c)) continue;
    const why = `${s.strategy}: ${id} failed`;
    if (c.restart === 'temporary') {
      // OTP: a temporary sibling is terminated, never restarted.
      steps.push({ kind: 'stop', child: c.id, reason: why, next: 'stopped', set: { desiredUp: false }, ifStillUp: true });
      continue;
    }
    steps.push({
      kind: 'emit',
      ifStillUp: true,
      event: { type: 'restart', child: c.id, reason: why, data: { cause: 'sibling', sibling: id, strategy: s.strategy, supervisor: s.id, delayMs } },
    });
    steps.push({ kind: 'stop', child: c.id, reason: why, next: 'backoff', set: { countRestart: true, dueAt }, ifStillUp: true });
  }
  steps.push({ kind: 'wait', at: dueAt });
  return steps;
}

/**
 * Ordered start: the next step of a reconcile pass. Under rest_for_one and one_for_all the order
 * is a dependency (a child down or backing off holds every child after it); under one_for_one and
 * simple_one_for_one siblings are independent (a child that cannot come up is left to its own restarts).
 */
function decideReconcile(s: SupervisorView, tried: readonly string[], now: number): Step[] {
  const dependent = orderIsDependency(s.strategy);
  const steps: Step[] = [];
  let outcome: 'complete' | 'blocked' = 'complete';
  const end = (o: 'complete' | 'blocked' | 'waiting'): Step[] => {
    if (s.state === 'starting' && o !== 'waiting') {
      steps.push({ kind: 'settle', reason: o === 'complete' ? 'all children started' : 'started; some children are not up yet' });
    }
    return steps;
  };
  if (!active(s)) return steps;
  for (const c of s.children) {
    if (!c.desiredUp || c.manuallyStopped) continue;
    if (c.state === 'running') continue;
    if (c.state === 'starting') {
      steps.push({ kind: 'watch', child: c.id });
      return end('waiting');
    }
    const backingOff = c.state === 'backoff' && c.dueAt > now;
    const down = c.pendingFailure || c.state === 'unhealthy' || c.state === 'stopping' || backingOff || tried.includes(c.id);
    if (down) {
      if (backingOff && !c.pendingFailure) steps.push({ kind: 'wait', at: c.dueAt });
      if (dependent) return end('blocked');
      outcome = 'blocked';
      continue;
    }
    steps.push({ kind: 'start', child: c.id, reason: c.startReason ?? (c.state === 'backoff' ? 'restart' : 'start') });
    return steps; // the runtime starts it and asks again
  }
  return end(outcome);
}
