/**
 * The probe entry point for the runtime: `runProbe` picks the module by `check.kind` and bounds
 * every run by its timeout, so a hung probe never holds up the next one (or another child's).
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeResult, ProbeTarget } from './types.ts';
import { codes } from '../errors.ts';
import { withDeadline } from './common.ts';
import { dockerHealthProbe } from './docker-health.ts';
import { execProbe } from './exec.ts';
import { httpProbe } from './http.ts';
import { stalenessProbe } from './staleness.ts';
import { tcpProbe } from './tcp.ts';
import { throughputProbe } from './throughput.ts';

export { dockerHealthProbe, execProbe, httpProbe, stalenessProbe, tcpProbe, throughputProbe };
export { findSamples, parsePrometheusText } from './prometheus-text.ts';
export type { ProbeResult, ProbeTarget } from './types.ts';

/**
 * Runs one probe. Never throws; resolves by `timeoutMs` (plus scheduling slack) even when the
 * probe's own I/O ignores its signal, and at once when `signal` aborts (child stopping).
 */
export function runProbe(check: ProbeCheck, target: ProbeTarget, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  // The outer deadline is the runtime's safety net; each probe module enforces the same one too.
  return withDeadline(timeoutMs, signal, (ctx) => dispatch(check, target, timeoutMs, ctx.signal)).then((o) => (o.settled ? o.value : o.result));
}

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
