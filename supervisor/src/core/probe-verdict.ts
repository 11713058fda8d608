import type { ProbeSpec } from '../spec/types.ts';

/**
 * Counting probe results into a verdict, per probe of a child run. Pure.
 *
 * A failure counts only once the probe has passed once or `startupGrace` has elapsed since the
 * child started (slow starters are not killed while booting). `failures` consecutive counted
 * failures make the probe `unhealthy`; one pass resets the count.
 */
export interface ProbeCounter {
  passedOnce: boolean;
  consecutiveFailures: number;
  /** Last result, null before the first run. */
  ok: boolean | null;
}

export const freshCounter: ProbeCounter = Object.freeze({ passedOnce: false, consecutiveFailures: 0, ok: null });

export type Verdict = 'pass' | 'failing' | 'unhealthy';

export function countProbe(
  counter: ProbeCounter,
  ok: boolean,
  now: number,
  startedAt: number,
  spec: Pick<ProbeSpec, 'failures' | 'startupGraceMs'>,
): { counter: ProbeCounter; verdict: Verdict; changed: boolean } {
  const changed = counter.ok !== ok;
  if (ok) {
    return { counter: { passedOnce: true, consecutiveFailures: 0, ok: true }, verdict: 'pass', changed };
  }
  const counts = counter.passedOnce || now - startedAt >= spec.startupGraceMs;
  const consecutiveFailures = counts ? counter.consecutiveFailures + 1 : 0;
  const verdict: Verdict = consecutiveFailures >= Math.max(1, spec.failures) ? 'unhealthy' : 'failing';
  return { counter: { passedOnce: counter.passedOnce, consecutiveFailures, ok: false }, verdict, changed };
}
