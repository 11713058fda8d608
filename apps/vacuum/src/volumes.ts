/**
 * Free space, floors and the measured write rate of a data volume. statfs via node:fs (no native
 * add-on): `bavail` (what an unprivileged writer may still use), not `bfree`.
 */
import { statfs } from 'node:fs/promises';
import type { WatermarkConfig } from './config.ts';

export interface VolumeStat { sizeBytes: number; freeBytes: number }

export async function statVolume(path: string): Promise<VolumeStat> {
  const s = await statfs(path);
  return { sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

/** The floor: the largest of the limits the config gives (bytes, percent of size, hours at the rate). */
export function floorBytes(w: WatermarkConfig, sizeBytes: number, ratePerHour: number | null): number {
  return Math.max(
    w.minFreeBytes ?? 0,
    w.minFreePercent !== undefined ? Math.ceil((sizeBytes * w.minFreePercent) / 100) : 0,
    w.minFreeHours !== undefined && ratePerHour ? Math.ceil(w.minFreeHours * ratePerHour) : 0,
  );
}

/** Deleted beyond the floor; default 2 % of the volume so a run does not stop right at the edge. */
export function marginBytes(w: WatermarkConfig, sizeBytes: number): number {
  if (w.marginBytes !== undefined) return w.marginBytes;
  return Math.ceil((sizeBytes * (w.marginPercent ?? 2)) / 100);
}

/** One measurement of used bytes. */
export interface Sample { ts: number; usedBytes: number }

/** Samples older than this do not count for the rate. */
export const RATE_WINDOW_MS = 6 * 3_600_000;
/** Below this span the rate is unknown (a few ticks are noise). */
export const RATE_MIN_SPAN_MS = 5 * 60_000;

/**
 * Bytes written per hour: the sum of the increases of used space between consecutive samples over
 * the window, divided by its span. Decreases (the vacuum's own deletions, a technician's rm) are
 * left out: they are not writing, and netting them would hide the rate right after a clean-up.
 */
export function writeRate(samples: readonly Sample[], now: number, minSpanMs = RATE_MIN_SPAN_MS): number | null {
  const s = samples.filter((x) => x.ts > now - RATE_WINDOW_MS).sort((a, b) => a.ts - b.ts);
  if (s.length < 2) return null;
  const span = s[s.length - 1]!.ts - s[0]!.ts;
  if (span < minSpanMs) return null;
  let up = 0;
  for (let i = 1; i < s.length; i++) up += Math.max(0, s[i]!.usedBytes - s[i - 1]!.usedBytes);
  return (up / span) * 3_600_000;
}

/** Hours until full; null when unknown or nothing is being written. */
export function hoursLeft(freeBytes: number, ratePerHour: number | null): number | null {
  return ratePerHour && ratePerHour > 0 ? freeBytes / ratePerHour : null;
}
