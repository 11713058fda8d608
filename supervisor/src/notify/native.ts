/**
 * The native helper for sd_notify's AF_UNIX datagram sockets (supervisor/native/notify.c, built
 * by scripts/build-native.mjs at `npm ci`): Node has no unix datagram sockets of its own.
 * Absent (no compiler at install), `notifyAddon()` throws a clear error naming what to do.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codes, EdgevisorError } from '../errors.ts';

export interface NotifyAddon {
  bind(path: string, onMessage: (message: Buffer, pid: number) => void): unknown;
  close(handle: unknown): void;
  send(path: string, message: string): void;
}

const RELATIVE = 'supervisor/native/build/notify.node';
let cached: NotifyAddon | undefined;

/**
 * Where the helper may be: next to these sources, or, when the supervisor runs as a bundle in
 * node_modules/.cache (bin/edgevisor.mjs), under the checkout of the script that started it.
 */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const list = [resolve(here, '../../native/build/notify.node')];
  if (process.argv[1]) list.push(join(dirname(resolve(process.argv[1])), '..', RELATIVE));
  for (let d = here, i = 0; i < 8; i++, d = dirname(d)) list.push(join(d, RELATIVE));
  return list;
}

/** The loaded helper; throws START_FAILED when it was not built. */
export function notifyAddon(): NotifyAddon {
  if (cached) return cached;
  const file = candidates().find((f) => existsSync(f));
  if (!file) {
    throw new EdgevisorError(
      codes.START_FAILED,
      `sd_notify needs the native helper ${RELATIVE}, which is not built (it is compiled at npm ci and needs a C compiler: run node scripts/build-native.mjs)`,
    );
  }
  cached = createRequire(import.meta.url)(file) as NotifyAddon;
  return cached;
}

/** True when the helper can be loaded (tests and apps that only send when they can). */
export function hasNotifyAddon(): boolean {
  try {
    notifyAddon();
    return true;
  } catch {
    return false;
  }
}
