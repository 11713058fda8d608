/**
 * The optional native helper that memory-maps frame ring files (apps/camera/native/shm.c, built by
 * scripts/build-native.mjs at `npm ci`). Absent (no compiler at install, another CPU, or
 * EDGEVISOR_RING_MMAP=0): null, and rings are read with pread.
 */
import { createRequire } from 'node:module';

export interface ShmAddon {
  /** Maps `length` bytes of the file at `path` (shared); throws if the file is shorter. */
  map(path: string, length: number, writable: boolean): ArrayBuffer;
}

let cached: ShmAddon | null | undefined;

export function shmAddon(): ShmAddon | null {
  if (cached !== undefined) return cached;
  // x64 only: see RingIo in frame-ring.ts (the reader needs loads kept in order).
  if (process.env.EDGEVISOR_RING_MMAP === '0' || process.arch !== 'x64' || process.platform !== 'linux') return (cached = null);
  try {
    cached = createRequire(import.meta.url)('../native/build/shm.node') as ShmAddon;
  } catch {
    cached = null;
  }
  return cached;
}
