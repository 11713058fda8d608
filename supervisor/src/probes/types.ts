import type { ProbeCheck } from '../spec/types.ts';
import type { Unit } from '../backends/types.ts';

/**
 * One probe run's outcome. Probes never throw: a failure is `ok: false` with an error message
 * (and a stable code) that the event log shows to a technician.
 */
export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  /** Why it failed, in words a technician can act on: "timeout after 500ms", "rate 0.00/s < 5/s". */
  error?: string;
  code?: 'EDGEVISOR_ERR_PROBE_TIMEOUT' | 'EDGEVISOR_ERR_PROBE_FAILED';
  /** Measured value when there is one (rate per second, age in ms, HTTP status...). */
  value?: number;
}

/**
 * Probe state carried between runs of the same probe (throughput needs the previous samples).
 * Each probe module owns the shape of its own memory.
 */
export type ProbeMemory = Record<string, unknown>;

export interface ProbeTarget {
  /** The unit being probed (for exec and docker_health). */
  unit: Unit;
  /** Stable memory for this probe of this child; reset when the child restarts. */
  memory: ProbeMemory;
  /** Clock in unix ms (injectable for tests of rate windows). */
  now: () => number;
}

/**
 * Every probe module exports one function of this shape. It must honour `signal` (aborted at the
 * probe's timeout) and resolve promptly after it fires.
 */
export type ProbeFn<C extends ProbeCheck = ProbeCheck> = (check: C, target: ProbeTarget, timeoutMs: number, signal: AbortSignal) => Promise<ProbeResult>;
