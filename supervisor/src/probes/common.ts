/**
 * What every probe shares: the deadline (own timer + the runtime's signal), the never-throw
 * wrapper that turns whatever happened into a ProbeResult, and the wording of common errors.
 */
import { codes } from '../errors.ts';
import type { ProbeResult } from './types.ts';

/** Thrown inside a probe to fail with a message a technician can act on. */
export class ProbeFailure extends Error {
  readonly value: number | undefined;
  constructor(message: string, value?: number) {
    super(message);
    this.name = 'ProbeFailure';
    this.value = value;
  }
}

/** What a probe body returns when it passes. */
export interface ProbePass {
  value?: number;
}

/** Context handed to a probe body by `guardProbe`. */
export interface ProbeContext {
  /** Aborted at the deadline (own timer or the runtime's signal, whichever comes first). */
  signal: AbortSignal;
  timeoutMs: number;
}

const timeoutMessage = (timeoutMs: number) => `timeout after ${timeoutMs}ms`;

/** How a body run under a deadline ended: its value, or the failed ProbeResult to report. */
export type DeadlineOutcome<T> = { settled: true; value: T; latencyMs: number } | { settled: false; result: ProbeResult };

/**
 * Runs `body` under a deadline of `timeoutMs` and the caller's `signal`, and always resolves:
 * - body resolves: its value (latency measured here);
 * - body throws ProbeFailure or any error: PROBE_FAILED with the error's words;
 * - deadline or signal first: PROBE_TIMEOUT, "timeout after 500ms", even if the body ignores its
 *   signal (the race below does not wait for it).
 *
 * INVARIANTS: the timer and the abort listener are removed once settled, so a probe run every
 * 500ms does not pile listeners onto a long-lived runtime signal; the body's signal is aborted
 * once it failed, so whatever I/O it left running is torn down.
 */
export async function withDeadline<T>(timeoutMs: number, outer: AbortSignal | undefined, body: (ctx: ProbeContext) => Promise<T>): Promise<DeadlineOutcome<T>> {
  const started = performance.now();
  const latency = () => Math.round((performance.now() - started) * 10) / 10;
  const controller = new AbortController();
  let timedOut = false;
  let succeeded = false;
  let abortNow!: () => void;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    abortNow = () => resolve(ABORTED);
  });
  const onOuterAbort = () => {
    controller.abort(outer?.reason);
    abortNow();
  };
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(timeoutMessage(timeoutMs), 'TimeoutError'));
    abortNow();
  }, Math.max(0, timeoutMs));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const work = Promise.resolve().then(() => body({ signal: controller.signal, timeoutMs }));
    // A body that settles after the deadline must not surface as an unhandled rejection.
    work.catch(() => undefined);
    const outcome = await Promise.race([work, aborted]);
    if (outcome === ABORTED) return { settled: false, result: abortedResult(timedOut, outer, timeoutMs, latency()) };
    succeeded = true;
    return { settled: true, value: outcome as T, latencyMs: latency() };
  } catch (err) {
    if (controller.signal.aborted) return { settled: false, result: abortedResult(timedOut, outer, timeoutMs, latency()) };
    const value = err instanceof ProbeFailure ? err.value : undefined;
    return { settled: false, result: { ok: false, latencyMs: latency(), error: describeError(err), code: codes.PROBE_FAILED, ...(value === undefined ? {} : { value }) } };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    // A body that passed has finished its I/O; one that failed may have left some running. Not
    // aborting on every pass matters: an abort builds an exception, every second, per probe.
    if (!succeeded && !controller.signal.aborted) controller.abort(new DOMException('probe finished', 'AbortError'));
  }
}

const ABORTED = Symbol('aborted');

/** `withDeadline` for a probe body: a pass becomes `{ok: true, latencyMs, value}`. */
export async function guardProbe(timeoutMs: number, outer: AbortSignal | undefined, body: (ctx: ProbeContext) => Promise<ProbePass>): Promise<ProbeResult> {
  const outcome = await withDeadline(timeoutMs, outer, body);
  if (!outcome.settled) return outcome.result;
  const value = outcome.value.value;
  return { ok: true, latencyMs: outcome.latencyMs, ...(value === undefined ? {} : { value }) };
}

function abortedResult(timedOut: boolean, outer: AbortSignal | undefined, timeoutMs: number, latencyMs: number): ProbeResult {
  const reason: unknown = outer?.reason;
  // The runtime aborts at the probe's timeout, so its abort is a timeout when it says so or when
  // it comes (about) at the deadline; an early abort is the runtime calling the run off.
  const outerIsTimeout = (reason instanceof Error && reason.name === 'TimeoutError') || latencyMs >= timeoutMs * 0.9;
  if (timedOut || outerIsTimeout) return { ok: false, latencyMs, error: timeoutMessage(timeoutMs), code: codes.PROBE_TIMEOUT };
  return { ok: false, latencyMs, error: `aborted after ${Math.round(latencyMs)}ms: ${describeError(reason)}`, code: codes.PROBE_FAILED };
}

/**
 * Network and spawn errors as Node words them ("connect ECONNREFUSED 127.0.0.1:18080"). Node 20
 * may report a failed dual-stack connect as an AggregateError with an empty message: use its parts.
 */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map((e) => describeError(e)))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err.message) return err.message;
    return code ?? err.name;
  }
  return String(err);
}

/** `500ms`, `3s`, `3.2s`, `2m5s`: durations in error messages, as a technician writes them in the tree. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) < 1000) return `${Math.round(ms)}ms`;
  if (Math.abs(ms) < 120_000) {
    const s = Math.round(ms / 100) / 10;
    return `${Number.isInteger(s) ? s.toFixed(0) : s.toFixed(1)}s`;
  }
  const totalS = Math.round(ms / 1000);
  return `${Math.floor(totalS / 60)}m${totalS % 60 ? `${totalS % 60}s` : ''}`;
}

/** Numbers in messages: `5`, `0.5`, `2.25`: no trailing zeros, at most 2 decimals. */
export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}
