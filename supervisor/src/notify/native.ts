/**
 * The native helper for sd_notify's AF_UNIX datagram sockets (supervisor/native/notify.c): Node has
 * no unix datagram sockets of its own. Built at install: by scripts/build-native.mjs at a
 * checkout's `npm ci`, by supervisor/native/install.mjs (the package's postinstall) in a project
 * that installed edgevisor. Absent (no compiler at install), `notifyAddon()` throws START_FAILED
 * naming what to do.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
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
 * The helper's one place: under the package root, three levels above this module in each layout
 * it runs from: the sources (supervisor/src/notify/), the packed library (dist/lib/notify/, also
 * as node_modules/edgevisor/dist/lib/notify/), and the bundles (dist/*.mjs, whose import.meta.url
 * is rewritten to the source file's, scripts/build-dist.mjs). No search up the tree: a .node file
 * is code, and only the package's own is loaded.
 */
function notifyAddonPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..', RELATIVE);
}

/** The loaded helper; throws START_FAILED when it was not built. */
export function notifyAddon(): NotifyAddon {
  if (cached) return cached;
  const file = notifyAddonPath();
  if (!existsSync(file)) {
    throw new EdgevisorError(
      codes.START_FAILED,
      `sd_notify (notify:/watchdog:) needs the native helper ${RELATIVE}, which was not built: it is compiled when edgevisor is installed and needs a C compiler (cc or gcc) and node's headers. ` +
        "Install a compiler (Debian: apt-get install gcc; with Debian's own nodejs also libnode-dev), then run npm rebuild edgevisor (in an edgevisor checkout: node scripts/build-native.mjs)",
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
