import { IllegalStateError } from '../errors.ts';

/**
 * The lifecycle of every node of the tree (worker or supervisor), as one union plus one table.
 *
 * - `stopped`   not running and not scheduled: initial state, after a manual stop, or after a
 *               normal exit that its restart type does not restart (transient/temporary).
 * - `starting`  launched; waiting until every probe has passed once (its startup). A node without
 *               probes is `running` as soon as its backend reports it launched. Siblings later in
 *               the start order wait for this node to leave `starting`.
 * - `running`   launched and past its startup probes.
 * - `unhealthy` a probe crossed its failure threshold (or an in-process worker missed its
 *               heartbeat): alive but not doing its job. The supervisor restarts it like a crash.
 * - `stopping`  being stopped: SIGTERM / abort / `docker stop`, then a kill after the grace.
 * - `backoff`   down and waiting out its restart delay before `starting` again.
 * - `failed`    down and not going to be restarted: a temporary child that crashed, a start
 *               that cannot be retried, or a nested supervisor that escalated to its parent.
 * - `gave_up`   the root only: restart intensity was exceeded at the top; every child has been
 *               stopped, an alarm was raised, and the API keeps serving until a technician acts.
 */
export type ChildState =
  | 'stopped'
  | 'starting'
  | 'running'
  | 'unhealthy'
  | 'stopping'
  | 'backoff'
  | 'failed'
  | 'gave_up';

/** Every state, in a fixed order (for tables and metrics). */
export const childStates = ['stopped', 'starting', 'running', 'unhealthy', 'stopping', 'backoff', 'failed', 'gave_up'] as const satisfies readonly ChildState[];

/** Which state may follow which. Anything else is a bug in edgevisor and throws. */
export const transitions = {
  stopped: ['starting', 'backoff'],
  starting: ['running', 'unhealthy', 'stopping', 'backoff', 'failed', 'stopped'],
  running: ['unhealthy', 'stopping', 'backoff', 'failed', 'stopped'],
  unhealthy: ['stopping', 'backoff', 'failed', 'stopped'],
  stopping: ['stopped', 'backoff', 'failed', 'gave_up'],
  backoff: ['starting', 'stopped', 'failed'],
  failed: ['starting', 'stopped', 'backoff'],
  gave_up: ['starting', 'stopped'],
} as const satisfies Record<ChildState, readonly ChildState[]>;

/** Whether the lifecycle table allows `from -> to`. */
export function canTransition(from: ChildState, to: ChildState): boolean {
  return (transitions[from] as readonly ChildState[]).includes(to);
}

/** Throws IllegalStateError when `from -> to` is not in the table. */
export function assertTransition(child: string, from: ChildState, to: ChildState): void {
  if (!canTransition(from, to)) {
    throw new IllegalStateError(`illegal transition for ${child}: ${from} -> ${to} (allowed: ${transitions[from].join(', ') || 'none'})`);
  }
}

/** States in which the unit is (or may be) up and consuming resources. */
export function isUp(state: ChildState): boolean {
  return state === 'starting' || state === 'running' || state === 'unhealthy' || state === 'stopping';
}
