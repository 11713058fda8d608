import type { RestartType, Strategy } from '../spec/types.ts';

/** Why a child went down, as far as the restart decision is concerned. */
/** `deadline`: a typed worker broke one of its own deadlines (core/worker-deadlines.ts). */
export type FailureCause = 'exit' | 'start_failed' | 'probe' | 'heartbeat' | 'deadline' | 'escalation';

/**
 * Does this restart type restart after this failure? Pure.
 * permanent: always; transient: only after an abnormal end (a probe, heartbeat or deadline verdict, a failed
 * start and an escalation are abnormal; an exit is abnormal unless it was clean); temporary: never.
 */
export function shouldRestart(restart: RestartType, cause: FailureCause, normalExit: boolean): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !(cause === 'exit' && normalExit);
    case 'temporary':
      return false;
  }
}

/**
 * Which children a strategy takes down with the failed one, in start order. Pure.
 * one_for_one: only it; one_for_all: all; rest_for_one: it and every child started after it.
 */
export function affectedByFailure(strategy: Strategy, childIds: readonly string[], failed: string): string[] {
  const i = childIds.indexOf(failed);
  if (i < 0) throw new Error(`affectedByFailure: ${failed} is not a child (${childIds.join(', ')})`);
  switch (strategy) {
    case 'one_for_one':
      return [failed];
    case 'one_for_all':
      return [...childIds];
    case 'rest_for_one':
      return childIds.slice(i);
  }
}
