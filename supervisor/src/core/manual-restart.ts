import type { RestartType, Strategy } from '../spec/types.ts';
import { affectedByFailure } from './strategy.ts';

/**
 * What a technician's restart of one child does, decided before anything runs. Pure.
 *
 * A manual restart takes down what the parent's strategy would take down if the child failed:
 * under rest_for_one the child and the siblings started after it (they depend on it: inference
 * holds a dead stream after the camera restarts), under one_for_all every sibling, under
 * one_for_one the child alone. `only` restarts the named child alone whatever the strategy (the
 * technician knows the dependents do not care). Siblings that are down, manually stopped or
 * `temporary` are not restarted: the first are left to their own restarts, the second stay
 * stopped, and a temporary sibling is stopped for good, as OTP does on a failure.
 * Unlike a failure, a manual restart counts toward no restart intensity and resets no backoff.
 */
export interface SiblingView {
  id: string;
  /** Up (starting, running, unhealthy, stopping) right now. */
  up: boolean;
  manuallyStopped: boolean;
  restart: RestartType;
}

/** What a manual restart does, in start order: who restarts, which temporary siblings are only stopped, and who is spared by `only`. */
export interface ManualRestartPlan {
  /** The child the technician named. */
  child: string;
  /** The parent's strategy (null for the root, which has no parent). */
  strategy: Strategy | null;
  /** True when the technician asked for this child only. */
  only: boolean;
  /** Restarted, in start order (stopped in the reverse order, started in this one). */
  restarting: string[];
  /** Temporary siblings that the strategy takes down and never starts again. */
  stopping: string[];
  /** Siblings the strategy would also have restarted without `only` (to say what was spared). */
  spared: string[];
}

export function planManualRestart(strategy: Strategy | null, siblings: readonly SiblingView[], child: string, only: boolean): ManualRestartPlan {
  const plan: ManualRestartPlan = { child, strategy, only, restarting: [child], stopping: [], spared: [] };
  if (strategy === null) return plan;
  const ids = siblings.map((s) => s.id);
  for (const id of affectedByFailure(strategy, ids, child)) {
    if (id === child) continue;
    const s = siblings.find((x) => x.id === id)!;
    if (!s.up || s.manuallyStopped) continue;
    if (only) plan.spared.push(id);
    else if (s.restart === 'temporary') plan.stopping.push(id);
    else plan.restarting.push(id);
  }
  // affectedByFailure lists children in start order, the named child included at its place.
  plan.restarting.sort((a, b) => ids.indexOf(a) - ids.indexOf(b));
  return plan;
}

/**
 * The plan in a technician's words, as the API answers it and the CLI prints it:
 * "restarting camera, then inference (rest_for_one)",
 * "restarting camera only (rest_for_one would also restart inference)".
 */
export function describeManualRestart(plan: ManualRestartPlan): string {
  const [first, ...rest] = plan.restarting;
  let text = `restarting ${first}${rest.length ? `, then ${rest.join(', then ')}` : ''}`;
  if (plan.only) {
    text += plan.spared.length ? ` only (${plan.strategy} would also restart ${plan.spared.join(', ')})` : ' only';
  } else if (plan.strategy) {
    text += ` (${plan.strategy})`;
  }
  if (plan.stopping.length) text += `; stopping ${plan.stopping.join(', ')} (restart: temporary)`;
  return text;
}
