/**
 * The backends edgevisor ships without Docker. The Docker backend registers its own factory
 * (backends/docker/) on top of this registry, so importing this module never loads dockerode.
 */
import { createInprocUnit } from './inproc.ts';
import { createProcessUnit } from './process.ts';
import { createThreadUnit } from './thread.ts';
import type { BackendRegistry } from './types.ts';

export { createInprocUnit, type InprocExitInfo } from './inproc.ts';
export { createThreadUnit, type ThreadExitInfo } from './thread.ts';
export { createLogRing, MAX_LINE_BYTES, type LogRing, type LogStream } from './log-ring.ts';
export { createProcessUnit, isGroupAlive, isProcessAlive, killAllProcessUnits, type ProcessExitInfo } from './process.ts';
export { backendKey, BUILTIN_BACKENDS, registerBackend } from './registry.ts';
export type * from './types.ts';

/** A fresh registry with the `process`, `inproc` and `thread` factories (callers may add `docker` and their own). */
export function defaultBackends(): BackendRegistry {
  return { process: createProcessUnit, inproc: createInprocUnit, thread: createThreadUnit };
}
