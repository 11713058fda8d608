import { constants } from 'node:os';

/**
 * Why a node was restarted, in words a field technician understands ("crashed: exit code 137,
 * killed by the OOM killer", "hung: probe live (http) timed out 3 times in 3 s"). Pure: a function
 * of the restart event's data (see core/events.ts), so the runtime, the store, the CLI and the
 * dashboard all say the same thing. The event's own `reason` stays the engineer's version.
 */

/** The facts a restart event (or a manual restart) carries. Every field is optional: old events lack some. */
export interface RestartFacts {
  /** exit | start_failed | probe | heartbeat | deadline | escalation | sibling | manual */
  cause?: string;
  exitCode?: number | null;
  signal?: string | null;
  oom?: boolean;
  error?: string;
  /** Probe verdicts: the probe's name, kind, the failures counted and its period. */
  probe?: string;
  probeKind?: string;
  failures?: number;
  everyMs?: number;
  /** EDGEVISOR_ERR_PROBE_TIMEOUT when the probe got no answer at all. */
  code?: string;
  ageMs?: number;
  heartbeatTimeoutMs?: number;
  /** sd_notify watchdog period (runtime/notify-watch.ts). */
  watchdogMs?: number;
  /** sd_notify: no READY=1 within notify.start_timeout, or within the last EXTEND_TIMEOUT_USEC (extendedMs); WATCHDOG=trigger. */
  startTimeoutMs?: number;
  extendedMs?: number;
  trigger?: boolean;
  /** Deadlines of a typed worker (core/worker-deadlines.ts): max_for | heartbeat | transition. */
  deadline?: string;
  /** The worker's own state when the deadline broke; a transition's from and to. */
  workerState?: string;
  fromState?: string;
  toState?: string;
  /** A transition: the worker got to toState, too late (else it never got there). */
  reached?: boolean;
  elapsedMs?: number;
  limitMs?: number;
  sibling?: string;
  strategy?: string;
  /** Escalation of a nested supervisor. */
  intensity?: number;
  periodMs?: number;
  failedChild?: string;
  /** Manual restarts. */
  role?: string;
  via?: string;
}

const PROBE_TIMEOUT = 'EDGEVISOR_ERR_PROBE_TIMEOUT';
/** Probe kinds whose failure means "alive but not producing": the child stalled. */
const STALL_KINDS = new Set(['throughput', 'staleness']);

/** "500 ms", "3 s", "1.5 s", "2 min", "1 h": as a technician says it. */
export function spokenDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) {
    const s = Math.round(ms / 100) / 10;
    return `${Number.isInteger(s) ? s.toFixed(0) : s.toFixed(1)} s`;
  }
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** The signal a shell-style exit code 128+n stands for (137 -> SIGKILL), if any. */
function signalOfCode(code: number): string | undefined {
  if (code <= 128 || code > 128 + 64) return undefined;
  const n = code - 128;
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
}

/**
 * An error as a technician reads it: its first line (an in-process worker's error text may carry
 * its stack), with absolute paths cut to their last part ("/opt/app/bin/cam" -> "cam"): the words
 * go to the dashboard, and server-side paths stay on the server.
 */
const firstLine = (s: string) =>
  s
    .split('\n', 1)[0]!
    .trim()
    .replace(/(^|[\s"'(=:])\/(?:[^\s"'/()]+\/)*([^\s"'/()]+)/g, '$1$2');

function exitWords(f: RestartFacts): string {
  if (f.oom) return `crashed: exit code ${f.exitCode ?? 137}, killed by the OOM killer`;
  if (f.signal) return `killed by signal ${f.signal}`;
  if (f.error) return `crashed: ${firstLine(f.error).replace(/^Error: /, '')}`;
  if (f.exitCode === 0) return 'exited on its own (exit code 0)';
  if (typeof f.exitCode === 'number') {
    const sig = signalOfCode(f.exitCode);
    return `crashed: exit code ${f.exitCode}${sig ? ` (${sig})` : ''}`;
  }
  return 'crashed: exited';
}

function probeWords(f: RestartFacts): string {
  const name = f.probe ?? 'probe';
  const what = `probe ${name}${f.probeKind ? ` (${f.probeKind})` : ''}`;
  const n = f.failures ?? 1;
  const times = n === 1 ? 'once' : `${n} times`;
  if (f.code === PROBE_TIMEOUT) {
    const span = f.everyMs !== undefined && n > 1 ? ` in ${spokenDuration(n * f.everyMs)}` : '';
    return `hung: ${what} timed out ${times}${span}`;
  }
  const head = f.probeKind && STALL_KINDS.has(f.probeKind) ? 'stalled' : 'unhealthy';
  return `${head}: ${what} failed ${times}${f.error ? `: ${firstLine(f.error)}` : ''}`;
}

/** Elapsed time against its limit, with the elapsed time rounded up so it never reads as the limit itself. */
function pastLimit(elapsedMs: number, limitMs: number): string {
  const elapsed = limitMs < 1000 ? `${Math.ceil(elapsedMs)} ms` : `${(Math.ceil(elapsedMs / 100) / 10).toFixed(1)} s`;
  return `${elapsed}, limit ${spokenDuration(limitMs)}`;
}

/**
 * A typed worker's broken deadline: "stayed in connecting 12.0 s, limit 10 s", "no heartbeat in
 * streaming for 2.1 s, limit 2 s", "connecting -> streaming took 10.4 s, limit 10 s" (or "not
 * reached after 10.1 s, limit 10 s (now reconnecting)" when it never got there).
 */
export function deadlineWords(f: RestartFacts): string {
  const e = f.elapsedMs ?? NaN;
  const l = f.limitMs ?? NaN;
  const state = f.workerState ?? '?';
  switch (f.deadline) {
    case 'max_for':
      return `stayed in ${state} ${pastLimit(e, l)}`;
    case 'heartbeat':
      return `no heartbeat in ${state} for ${pastLimit(e, l)}`;
    case 'transition': {
      const arrow = `${f.fromState ?? '?'} -> ${f.toState ?? '?'}`;
      if (f.reached) return `${arrow} took ${pastLimit(e, l)}`;
      return `${arrow} not reached after ${pastLimit(e, l)}${state !== f.fromState ? ` (now ${state})` : ''}`;
    }
    default:
      return 'missed a deadline of its own';
  }
}

/**
 * The words for one restart. `fallback` (the event's reason) is used for a cause this function
 * does not know, so a newer runtime's events still read sensibly.
 */
export function restartReasonWords(facts: RestartFacts, fallback = 'restarted'): string {
  switch (facts.cause) {
    case 'exit':
      return exitWords(facts);
    case 'start_failed':
      return `failed to start${facts.error ? `: ${firstLine(facts.error)}` : ''}`;
    case 'probe':
      return probeWords(facts);
    case 'heartbeat':
      if (facts.trigger) return 'watchdog: the child sent WATCHDOG=trigger';
      if (facts.extendedMs !== undefined) return `no READY=1 within ${spokenDuration(facts.extendedMs)} of its last EXTEND_TIMEOUT_USEC`;
      if (facts.startTimeoutMs !== undefined) return `no READY=1 within ${spokenDuration(facts.startTimeoutMs)} (start_timeout)`;
      if (facts.watchdogMs !== undefined && facts.ageMs !== undefined) return `watchdog: no WATCHDOG=1 for ${(facts.ageMs / 1000).toFixed(1)} s (watchdog ${facts.watchdogMs} ms)`;
      return facts.ageMs !== undefined ? `heartbeat stopped for ${(facts.ageMs / 1000).toFixed(1)} s` : 'heartbeat stopped';
    case 'deadline':
      return deadlineWords(facts);
    case 'sibling':
      return `restarted with its sibling ${facts.sibling ?? '?'}${facts.strategy ? ` (${facts.strategy})` : ''}`;
    case 'escalation': {
      const limit = facts.intensity !== undefined && facts.periodMs !== undefined ? ` after more than ${facts.intensity} restarts in ${spokenDuration(facts.periodMs)}` : '';
      return `its supervisor gave up${limit}${facts.failedChild ? ` (last: ${facts.failedChild})` : ''}`;
    }
    case 'manual':
      return `restarted by a ${facts.role ?? 'technician'}${facts.via ? ` (${facts.via})` : ''}`;
    default:
      return fallback;
  }
}

/** Reads RestartFacts out of an event's untyped `data`, keeping only fields of the right type. */
export function restartFacts(data: Record<string, unknown> | undefined): RestartFacts {
  const d = data ?? {};
  const str = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : undefined);
  const num = (k: string) => (typeof d[k] === 'number' && Number.isFinite(d[k]) ? (d[k] as number) : undefined);
  const f: RestartFacts = {};
  const set = <K extends keyof RestartFacts>(k: K, v: RestartFacts[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('cause', str('cause'));
  set('exitCode', num('exitCode') ?? num('code'));
  set('signal', str('signal'));
  if (d['oom'] === true) f.oom = true;
  set('error', str('error'));
  set('probe', str('probe'));
  set('probeKind', str('probeKind'));
  set('failures', num('failures'));
  set('everyMs', num('everyMs'));
  if (typeof d['code'] === 'string') f.code = d['code'];
  set('ageMs', num('ageMs'));
  set('heartbeatTimeoutMs', num('heartbeatTimeoutMs'));
  set('watchdogMs', num('watchdogMs'));
  set('startTimeoutMs', num('startTimeoutMs'));
  set('extendedMs', num('extendedMs'));
  if (d['trigger'] === true) f.trigger = true;
  set('deadline', str('deadline'));
  set('workerState', str('workerState'));
  set('fromState', str('fromState'));
  set('toState', str('toState'));
  if (typeof d['reached'] === 'boolean') f.reached = d['reached'];
  set('elapsedMs', num('elapsedMs'));
  set('limitMs', num('limitMs'));
  set('sibling', str('sibling'));
  set('strategy', str('strategy'));
  set('intensity', num('intensity'));
  set('periodMs', num('periodMs'));
  set('failedChild', str('failedChild'));
  set('role', str('role'));
  set('via', str('via'));
  return f;
}
