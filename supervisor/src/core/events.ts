import type { ChildState } from './lifecycle.ts';

/**
 * Every observable thing the tree does is one event. `seq` increases strictly across supervisor
 * restarts (it continues from the persisted log); `ts` is unix milliseconds.
 *
 * - `transition`  a lifecycle change: `from`, `to`, `reason`.
 * - `probe`       a probe's verdict changed (pass -> fail or back): data {probe, ok, error, latencyMs}.
 * - `restart`     the supervisor decided to restart a node: data {cause, exitCode, signal, probe, error, strategy, affected, delayMs,
 *                 words}; `words` is why, as a technician reads it (core/reason-words.ts); a manual restart's event carries it too.
 * - `exit`        a unit exited: data {code, signal, oom}.
 * - `escalation`  a supervisor exceeded its intensity and fails to its parent.
 * - `alarm`       the root gave up; a human must act.
 * - `manual`      a technician's action via API/CLI/dashboard: data {action, role, via}.
 * - `worker_state` a typed worker's own state changed (runtime/worker-state-watch.ts): data {from, to,
 *                 changes}; changes within a second of the last such event are folded into one.
 *
 * Events of an app's inner tree (inner/inner-tree.ts) are recorded with child `<child>/<innerId>`
 * and `data.inner: true`.
 */
export type EventType = 'transition' | 'probe' | 'restart' | 'exit' | 'escalation' | 'alarm' | 'manual' | 'worker_state';

/** One numbered event of a tree (see EventType above for the kinds and their data). */
export interface TreeEvent {
  seq: number;
  ts: number;
  type: EventType;
  /** Child (or supervisor) id; the root's id is the tree name. */
  child: string;
  from?: ChildState;
  to?: ChildState;
  reason: string;
  data?: Record<string, unknown>;
}

/** An event before the sink numbers it. */
export type EventDraft = Omit<TreeEvent, 'seq' | 'ts'> & { ts?: number };
