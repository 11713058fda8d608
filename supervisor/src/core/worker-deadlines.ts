import type { WorkerLifecycleSpec } from '../spec/types.ts';

/**
 * A typed worker's own states and their deadlines, checked. Pure: functions of (track, the
 * declaration, now, the last heartbeat); the runtime (runtime/worker-state-watch.ts) only arms one
 * timer for `nextDeadlineAt` and feeds state reports in.
 *
 * Three kinds of deadline (see spec/worker-lifecycle.ts for how they are declared):
 * - `max_for`    the longest stay in a state ("stayed in connecting 12.0 s, limit 10 s");
 * - `heartbeat`  in a state, the longest gap between signs of life; entering the state counts as
 *                one ("no heartbeat in streaming for 2.1 s, limit 2 s");
 * - `transition` `a->b`: once the worker enters `a`, it must reach `b` within the limit, whatever
 *                states it passes through meanwhile; armed at the first entry into `a` (re-entering
 *                `a` does not re-arm it, so flapping cannot hide a transition that never completes),
 *                disarmed on entering `b` ("connecting -> streaming took 10.4 s, limit 10 s").
 * A limit is inclusive: exactly at the limit is in time, one millisecond past it is a violation.
 * A violation found at a state report (the timer ran late) counts the same as one found by the timer.
 */

/** Where a worker is in its own lifecycle during one run. */
export interface WorkerStateTrack {
  readonly state: string;
  /** When it entered `state` (unix ms). */
  readonly since: number;
  /** Per declared transition (same index as lifecycle.transitions): when its `from` was entered, or null when not under way. */
  readonly armed: readonly (number | null)[];
}

/** A broken deadline: which kind, in which state, how long it took against its limit. */
export type DeadlineViolation =
  | { kind: 'max_for'; state: string; elapsedMs: number; limitMs: number }
  | { kind: 'heartbeat'; state: string; elapsedMs: number; limitMs: number }
  /** `reached`: the worker got to `to`, too late; otherwise it is still on the way (in `state`). */
  | { kind: 'transition'; from: string; to: string; state: string; reached: boolean; elapsedMs: number; limitMs: number };

/** The armed transitions after entering `state` at `now` (a hot path: one small array). */
function enter(armed: readonly (number | null)[], lifecycle: WorkerLifecycleSpec, state: string, now: number): (number | null)[] {
  return lifecycle.transitions.map((t, i) => (t.to === state ? null : (armed[i] ?? (t.from === state ? now : null))));
}

/** A run begins in the declared initial state, with the transitions out of it armed. */
export function initialTrack(lifecycle: WorkerLifecycleSpec, now: number): WorkerStateTrack {
  return { state: lifecycle.initial, since: now, armed: enter([], lifecycle, lifecycle.initial, now) };
}

/**
 * The deadline that expires first: its time and which one it is (-1 max_for, -2 heartbeat, i >= 0
 * the transition lifecycle.transitions[i]), or null if none is armed. No allocation: it runs at
 * every state report.
 */
function earliest(track: WorkerStateTrack, lifecycle: WorkerLifecycleSpec, lastHeartbeat: number): { at: number; which: number } | null {
  let at = Infinity;
  let which = 0;
  const limits = lifecycle.perState[track.state];
  if (limits?.maxForMs !== undefined && track.since + limits.maxForMs < at) {
    at = track.since + limits.maxForMs;
    which = -1;
  }
  if (limits?.heartbeatMs !== undefined && Math.max(lastHeartbeat, track.since) + limits.heartbeatMs < at) {
    at = Math.max(lastHeartbeat, track.since) + limits.heartbeatMs;
    which = -2;
  }
  const ts = lifecycle.transitions;
  for (let i = 0; i < ts.length; i++) {
    const armedAt = track.armed[i];
    if (armedAt !== null && armedAt !== undefined && armedAt + ts[i]!.withinMs < at) {
      at = armedAt + ts[i]!.withinMs;
      which = i;
    }
  }
  return at === Infinity ? null : { at, which };
}

/**
 * The violated deadline at `now`, or null. When several are past, the one that expired first.
 * `reaching`: the state being entered right now (a report), so a transition completed late says "took".
 */
export function checkDeadlines(track: WorkerStateTrack, lifecycle: WorkerLifecycleSpec, now: number, lastHeartbeat: number, reaching?: string): DeadlineViolation | null {
  const first = earliest(track, lifecycle, lastHeartbeat);
  if (!first || now <= first.at) return null;
  const limits = lifecycle.perState[track.state];
  if (first.which === -1) return { kind: 'max_for', state: track.state, elapsedMs: now - track.since, limitMs: limits!.maxForMs! };
  if (first.which === -2) return { kind: 'heartbeat', state: track.state, elapsedMs: now - Math.max(lastHeartbeat, track.since), limitMs: limits!.heartbeatMs! };
  const t = lifecycle.transitions[first.which]!;
  const armedAt = track.armed[first.which]!;
  return { kind: 'transition', from: t.from, to: t.to, state: track.state, reached: reaching === t.to, elapsedMs: now - armedAt, limitMs: t.withinMs };
}

/** When the next deadline expires (the runtime checks again 1 ms after it), or null if none is armed. */
export function nextDeadlineAt(track: WorkerStateTrack, lifecycle: WorkerLifecycleSpec, lastHeartbeat: number): number | null {
  return earliest(track, lifecycle, lastHeartbeat)?.at ?? null;
}

/**
 * The worker reports `to`. Checks the deadlines up to now first (the stay in the state it leaves, a
 * transition it completes late), then enters `to`. Reporting the current state again changes nothing.
 * `to` must be declared: the caller checks (spec/worker-lifecycle.ts `assertDeclaredState`).
 */
export function enterState(
  track: WorkerStateTrack,
  lifecycle: WorkerLifecycleSpec,
  to: string,
  now: number,
  lastHeartbeat: number,
): { track: WorkerStateTrack; violation: DeadlineViolation | null; changed: boolean } {
  const violation = checkDeadlines(track, lifecycle, now, lastHeartbeat, to);
  if (to === track.state) return { track, violation, changed: false };
  return { track: { state: to, since: now, armed: enter(track.armed, lifecycle, to, now) }, violation, changed: true };
}

/** The violation as restart-event data (core/reason-words.ts turns it into words). */
export function violationFacts(v: DeadlineViolation): Record<string, string | number | boolean> {
  const base = { deadline: v.kind, workerState: v.state, elapsedMs: v.elapsedMs, limitMs: v.limitMs };
  return v.kind === 'transition' ? { ...base, fromState: v.from, toState: v.to, reached: v.reached } : base;
}
