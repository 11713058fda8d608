/**
 * A size-limited tmpfs for disk-full tests (needs root, as on CI): `fill()` writes zeros until
 * the volume is full, `free()` deletes them. Unmounted by `remove()`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Fills the volume (dd until ENOSPC). */
  fill(): void;
  /** Removes the filler file. */
  free(): void;
  remove(): void;
}

export function mountTmpfs(size = '3m'): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      // dd exits 1 with "No space left on device": that is the point.
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore', timeout: 10_000 });
    },
    free() {
      rmSync(filler, { force: true });
    },
    remove() {
      spawnSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 10_000 });
      try {
        rmdirSync(dir);
      } catch {
        // still busy: left for the machine's tmp cleaner
      }
    },
  };
}
