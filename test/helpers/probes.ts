import type { Unit } from '../../supervisor/src/backends/types.ts';
import type { ProbeTarget } from '../../supervisor/src/probes/types.ts';

/** A unit for probes that never touch it (http, tcp, scrapes): any call would be a bug. */
export const bareUnit: Unit = {
  start: () => Promise.reject(new Error('not used')),
  stop: () => Promise.resolve(),
  onExit: () => () => undefined,
  logs: () => [],
  info: () => ({}),
  close: () => Promise.resolve(),
};

/** A fresh probe target (own memory, real clock unless given). */
export const probeTarget = (unit: Unit = bareUnit, now: () => number = Date.now): ProbeTarget => ({ unit, memory: {}, now });
