/**
 * The frames directory's housekeeping. A per-run directory (default: /dev/shm/edgevisor-frames-<pid>)
 * lives in RAM, so one left behind by a controller that was killed holds memory until reboot:
 * siblings whose pid is no longer alive are removed when the next controller starts.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FRAMES_DIR_PREFIX } from './config.ts';

/** Creates the frames directory; for a per-run one, also removes stale per-run siblings. */
export function prepareFramesDir(dir: string, perRun: boolean): void {
  mkdirSync(dir, { recursive: true });
  if (!perRun) return;
  const parent = dirname(dir);
  for (const name of safeReaddir(parent)) {
    if (!name.startsWith(FRAMES_DIR_PREFIX) || name === basename(dir)) continue;
    const pid = Number(name.slice(FRAMES_DIR_PREFIX.length));
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Removes a per-run frames directory (at stop). Never throws. */
export function removeFramesDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Best effort: the next controller's start removes it (its pid is gone by then).
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else: alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
