import type { BackoffSpec } from '../spec/types.ts';

/**
 * Restart delay, per child. Pure.
 *
 * The first restart after a clean run is immediate (as in OTP: a one-off crash should cost only the
 * start time); each further consecutive failure waits `initial`, then doubles up to `max`.
 * A child that ran cleanly for `resetAfter` before failing starts over at attempt 0.
 */
export interface BackoffState {
  /** Consecutive failures so far without a clean run of `resetAfter`. */
  attempt: number;
}

export const initialBackoff: BackoffState = Object.freeze({ attempt: 0 });

/** Delay before restart number `attempt` (0-based). */
export function backoffDelay(spec: BackoffSpec, attempt: number): number {
  if (attempt <= 0) return 0;
  const exp = Math.min(attempt - 1, 40); // 2^40 overflows nothing and exceeds any sane max
  return Math.min(spec.maxMs, spec.initialMs * 2 ** exp);
}

/**
 * A failure happened after the child had been up for `ranForMs` (0 or less when it never came up).
 * Returns the delay to wait before restarting and the new state.
 */
export function onFailure(state: BackoffState, spec: BackoffSpec, ranForMs: number): { delayMs: number; state: BackoffState } {
  const attempt = ranForMs >= spec.resetAfterMs ? 0 : state.attempt;
  return { delayMs: backoffDelay(spec, attempt), state: { attempt: attempt + 1 } };
}
