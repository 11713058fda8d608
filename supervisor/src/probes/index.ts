/**
 * The probe entry point for the runtime: `runProbe` picks the module by `check.kind` and bounds
 * every run by its timeout, so a hung probe never holds up the next one (or another child's).
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeResult, ProbeTarget } from './types.ts';
import { codes } from '../errors.ts';
import { dockerHealthProbe } from './docker-health.ts';
import { execProbe } from './exec.ts';
import { httpProbe } from './http.ts';
import { stalenessProbe } from './staleness.ts';
import { tcpProbe } from './tcp.ts';
import { throughputProbe } from './throughput.ts';

export { dockerHealthProbe, execProbe, httpProbe, stalenessProbe, tcpProbe, throughputProbe };
export { findSamples, parsePrometheusText } from './prometheus-text.ts';
import { dropConnection, type ConnectionSlot } from './http-get.ts';
import type { ProbeMemory } from './types.ts';
export type { ProbeResult, ProbeTarget } from './types.ts';

/**
 * Runs one probe. Never throws; resolves by `timeoutMs` (plus scheduling slack) even when the
 * probe's own I/O ignores its signal, and at once when `signal` aborts (child stopping).
 */
export function runProbe(check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  // Every probe module runs its body under `guardProbe` (one deadline, one never-throw wrapper):
  // a second deadline here would double the timers and controllers of every run, every second.
  return dispatch(check, target, timeoutMs, signal ?? neverAborted).catch((err: unknown) => ({
    ok: false,
    latencyMs: 0,
    error: `probe threw: ${err instanceof Error ? err.message : String(err)}`,
    code: codes.PROBE_FAILED,
  }));
}

const neverAborted = new AbortController().signal;

function dispatch(check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  switch (check.kind) {
    case 'http':
      return httpProbe(check, target, timeoutMs, signal);
    case 'tcp':
      return tcpProbe(check, target, timeoutMs, signal);
    case 'exec':
      return execProbe(check, target, timeoutMs, signal);
    case 'throughput':
      return throughputProbe(check, target, timeoutMs, signal);
    case 'staleness':
      return stalenessProbe(check, target, timeoutMs, signal);
    case 'docker_health':
      return dockerHealthProbe(check, target, timeoutMs, signal);
    default: {
      const unknown: never = check;
      return Promise.resolve({ ok: false, latencyMs: 0, error: `unknown probe kind "${(unknown as { kind: string }).kind}"`, code: codes.PROBE_FAILED });
    }
  }
}

/**
 * Frees what a probe kept between runs (its HTTP connection). The runtime calls it when a probe
 * stops for good (its child is stopping or restarting).
 */
export function releaseProbeMemory(memory: ProbeMemory): void {
  dropConnection(memory as ConnectionSlot);
}
