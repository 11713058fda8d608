/**
 * Restart intensity, per supervisor. Pure.
 *
 * OTP semantics: if more than `intensity` restarts happen within `periodMs`, the supervisor gives up:
 * it stops all its children and fails to its parent. `intensity: 0` means any restart escalates.
 */
export interface IntensityWindow {
  /** Unix ms of recent restarts, oldest first, only those still inside the period. */
  restarts: readonly number[];
}

export const emptyWindow: IntensityWindow = Object.freeze({ restarts: Object.freeze([]) as readonly number[] });

export function recordRestart(
  window: IntensityWindow,
  now: number,
  intensity: number,
  periodMs: number,
): { window: IntensityWindow; exceeded: boolean } {
  const kept = window.restarts.filter((t) => now - t < periodMs);
  kept.push(now);
  return { window: { restarts: kept }, exceeded: kept.length > intensity };
}
