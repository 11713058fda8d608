/**
 * Typed workers: `defineWorker` declares a worker's own states, the one each run begins in, and
 * its deadlines, checked once here (clear errors naming the field), then frozen into the
 * `WorkerLifecycleSpec` the runtime enforces (core/worker-deadlines.ts).
 *
 * ```ts
 * const camera = defineWorker({
 *   states: ['connecting', 'streaming', 'reconnecting'],
 *   initial: 'connecting',
 *   deadlines: {
 *     connecting: { maxFor: '10s' },              // the longest stay in a state
 *     streaming: { heartbeat: '2s' },             // the longest gap between ctx.heartbeat() calls there
 *     transitions: { 'reconnecting->streaming': '30s' }, // once reconnecting, streaming again within 30 s
 *   },
 *   async run(ctx) { ctx.setState('streaming'); },   // ctx.setState('streamin') does not compile
 * });
 * parseTreeObject({ name: 'cams', children: [{ id: 'dock', inproc: { run: camera } }] });
 * ```
 */
import { EdgevisorError, codes } from '../errors.ts';
import { describeValue, parseDuration } from './duration.ts';
import type { InprocContext, InprocWorker, WorkerLifecycleSpec } from './types.ts';

/** "10s", "500ms", or milliseconds. */
export type DurationInput = string | number;

/** The deadlines of one state: `{ maxFor: '10s' }`, `{ heartbeat: '2s' }`, or both. */
export interface StateDeadlines {
  /** The longest the worker may stay in this state. */
  maxFor?: DurationInput;
  /** In this state, the longest gap between heartbeats (entering the state counts as one). */
  heartbeat?: DurationInput;
}

/** Per-state deadlines by state name, plus `transitions: { 'from->to': limit }`. */
export type Deadlines<S extends string> = { [K in S]?: StateDeadlines } & {
  transitions?: { [K in `${S}->${S}`]?: DurationInput };
};

/** The run context of a typed worker: `setState` takes only its declared states. */
export interface WorkerContext<S extends string> extends Omit<InprocContext, 'setState'> {
  setState(state: S): void;
}

/** What defineWorker takes: the states, the one each run begins in, the deadlines, the run function. */
export interface WorkerDefinition<S extends string> {
  states: readonly S[];
  initial: NoInfer<S>;
  deadlines?: Deadlines<NoInfer<S>>;
  run(ctx: WorkerContext<NoInfer<S>>): Promise<void>;
}

/** An inproc worker function that carries its declaration (pass it as `inproc: { run }`). */
export type TypedWorker<S extends string> = InprocWorker & { readonly lifecycle: WorkerLifecycleSpec; readonly states: readonly S[] };

const STATE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
const ACCEPTED_NAME = 'a name like "streaming" (a letter, then letters, digits, _ or -; at most 40)';

function limit(v: unknown, field: string, issues: string[]): number | undefined {
  if (v === undefined) return undefined;
  try {
    const ms = parseDuration(v as string | number);
    if (ms >= 1) return ms;
    issues.push(`${field}: expected a duration of at least 1ms, got ${describeValue(v)}`);
  } catch (err) {
    issues.push(`${field}: ${(err as Error).message}`);
  }
  return undefined;
}

/** Checks a declaration; throws EDGEVISOR_ERR_SPEC_INVALID listing every problem, each with its field. */
export function resolveLifecycle(def: { states?: unknown; initial?: unknown; deadlines?: unknown }, who = 'defineWorker'): WorkerLifecycleSpec {
  const issues: string[] = [];
  const states = Array.isArray(def.states) ? (def.states as unknown[]) : [];
  if (!Array.isArray(def.states) || states.length === 0) issues.push(`states: expected a list of at least one state name, got ${describeValue(def.states)}`);
  const seen = new Set<string>();
  states.forEach((s, i) => {
    if (typeof s !== 'string' || !STATE_NAME.test(s)) issues.push(`states[${i}]: expected ${ACCEPTED_NAME}, got ${describeValue(s)}`);
    else if (s === 'transitions') issues.push(`states[${i}]: "transitions" is reserved (deadlines.transitions holds the transition limits)`);
    else if (seen.has(s)) issues.push(`states[${i}]: "${s}" is declared twice`);
    else seen.add(s);
  });
  const declared = [...seen];
  const known = `declared: ${declared.join(', ') || 'none'}`;
  if (typeof def.initial !== 'string' || !seen.has(def.initial)) issues.push(`initial: expected one of the declared states (${known}), got ${describeValue(def.initial)}`);

  const perState: Record<string, { maxForMs?: number; heartbeatMs?: number }> = {};
  const transitions: { from: string; to: string; withinMs: number }[] = [];
  const d = def.deadlines;
  if (d !== undefined && (d === null || typeof d !== 'object' || Array.isArray(d))) issues.push(`deadlines: expected a mapping of state names (and transitions), got ${describeValue(d)}`);
  else if (d) {
    for (const [key, value] of Object.entries(d as Record<string, unknown>)) {
      if (key === 'transitions') {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          issues.push(`deadlines.transitions: expected a mapping like { "connecting->streaming": "10s" }, got ${describeValue(value)}`);
          continue;
        }
        for (const [pair, within] of Object.entries(value as Record<string, unknown>)) {
          const field = `deadlines.transitions["${pair}"]`;
          const [from, to, ...rest] = pair.split('->').map((s) => s.trim());
          if (rest.length || !from || !to) issues.push(`${field}: expected "from->to" with two declared states (${known})`);
          else if (!seen.has(from) || !seen.has(to)) issues.push(`${field}: "${!seen.has(from) ? from : to}" is not a declared state (${known})`);
          else if (from === to) issues.push(`${field}: a transition needs two different states (use deadlines.${from}.maxFor for the longest stay)`);
          else {
            const ms = limit(within, field, issues);
            if (ms !== undefined) transitions.push({ from, to, withinMs: ms });
          }
        }
        continue;
      }
      if (!seen.has(key)) {
        issues.push(`deadlines.${key}: "${key}" is not a declared state (${known}; or transitions)`);
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        issues.push(`deadlines.${key}: expected { maxFor?, heartbeat? }, got ${describeValue(value)}`);
        continue;
      }
      const entry: { maxForMs?: number; heartbeatMs?: number } = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (k === 'maxFor') entry.maxForMs = limit(v, `deadlines.${key}.maxFor`, issues);
        else if (k === 'heartbeat') entry.heartbeatMs = limit(v, `deadlines.${key}.heartbeat`, issues);
        else issues.push(`deadlines.${key}.${k}: unknown deadline (accepted: maxFor, heartbeat)`);
      }
      perState[key] = Object.freeze(entry);
    }
  }
  if (issues.length) {
    const details = issues.map((i) => `${who}: ${i}`);
    throw new EdgevisorError(codes.SPEC_INVALID, details.join('; '), { details });
  }
  return Object.freeze({
    states: Object.freeze(declared),
    initial: def.initial as string,
    perState: Object.freeze(perState),
    transitions: Object.freeze(transitions.map((t) => Object.freeze(t))),
  });
}

/** Throws EDGEVISOR_ERR_UNDECLARED_STATE unless `state` is one of the worker's declared states. */
export function assertDeclaredState(lifecycle: WorkerLifecycleSpec | undefined, state: unknown, workerId: string): asserts state is string {
  if (!lifecycle) {
    throw new EdgevisorError(codes.UNDECLARED_STATE, `worker "${workerId}": setState(${describeValue(state)}): this worker declares no states (make it with defineWorker({ states: [...], initial, run }))`);
  }
  if (typeof state !== 'string' || !lifecycle.states.includes(state)) {
    throw new EdgevisorError(codes.UNDECLARED_STATE, `worker "${workerId}": setState(${describeValue(state)}): not a declared state (declared: ${lifecycle.states.join(', ')})`);
  }
}

/**
 * Declares a typed worker: its states (`as const` is not needed), the initial one, its deadlines
 * and its run function. Throws EDGEVISOR_ERR_SPEC_INVALID for a bad declaration, at the definition.
 */
export function defineWorker<const S extends string>(def: WorkerDefinition<S>): TypedWorker<S> {
  const lifecycle = resolveLifecycle(def);
  const run = def.run;
  const worker = ((ctx: InprocContext) => run.call(def, ctx as WorkerContext<S>)) as InprocWorker;
  return Object.assign(worker, { lifecycle, states: lifecycle.states as readonly S[] });
}
