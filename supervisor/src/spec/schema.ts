/**
 * The zod schema of a tree file as written (snake_case, durations as strings). It validates and
 * converts durations to ms; defaults, inheritance and path resolution happen in `load.ts`, which
 * turns this raw shape into the frozen `TreeSpec`.
 */
import { z } from 'zod';
import type { InprocWorker, RestartType, Shutdown, Strategy } from './types.ts';
import { DURATION_EXPECTED, DURATION_RE, describeValue, formatDuration, parseDuration } from './duration.ts';
import { expected, expectedType } from './yaml-config.ts';

/** Child ids and the tree name: technicians type them, so short, lowercase, shell-safe. */
export const ID_RE = /^[a-z0-9][a-z0-9_-]*$/;
const ID_EXPECTED = 'an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-")';

export const BACKEND_KEYS = ['process', 'inproc', 'thread', 'docker', 'custom', 'children', 'template'] as const;
export const CHECK_KINDS = ['http', 'tcp', 'exec', 'throughput', 'staleness', 'docker_health'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];
/** Keys that only make sense on a nested supervisor (a child with `children`). */
const SUPERVISOR_ONLY = ['strategy', 'intensity', 'period', 'backoff', 'max_children'] as const;

const id = z.string({ error: expected(ID_EXPECTED) }).regex(ID_RE, { error: expected(ID_EXPECTED) });
const text = z.string().min(1);

/**
 * The accepted range of every number and duration of the tree file (durations in ms). Stated
 * here once, enforced by the schema, quoted by its messages ("expected a duration from 10ms to
 * 1h, got ..."). Maxima are what a real tree needs with a wide margin, always below Node's timer
 * limit (2^31-1 ms): past it a timer fires at once, so `every: 1000h` would probe flat out.
 */
export const RANGES = {
  every: [10, 3_600_000],
  timeout: [1, 600_000],
  startup_grace: [0, 3_600_000],
  failures: [1, 1_000],
  shutdown: [0, 600_000],
  heartbeat_timeout: [0, 3_600_000],
  intensity: [0, 10_000],
  period: [1, 86_400_000],
  backoff_initial: [1, 3_600_000],
  backoff_max: [1, 86_400_000],
  backoff_reset_after: [0, 86_400_000],
  window: [1, 3_600_000],
  max_age: [1, 86_400_000],
  min_rate: [0, 1_000_000_000],
  log_lines: [1, 100_000],
  retain_events: [1, 10_000_000],
  docker_timeout: [1, 600_000],
  inner_tree_every: [100, 3_600_000],
  inner_tree_timeout: [10, 3_600_000],
  max_children: [1, 10_000],
  // A thread's V8 limits (MB): below 4 MB of old generation a thread cannot even load a module.
  max_old_generation_mb: [4, 65_536],
  max_young_generation_mb: [1, 4_096],
  code_range_mb: [1, 4_096],
  stack_mb: [1, 1_024],
  // sd_notify: under 20 ms the pings themselves would be the load.
  watchdog: [20, 3_600_000],
  notify_start_timeout: [100, 3_600_000],
  // A worker's own start (spawn, thread online, container started): under 100 ms even a spawn can miss it.
  start_timeout: [100, 3_600_000],
} as const satisfies Record<string, readonly [number, number]>;
type Range = readonly [number, number];

/** A duration in ms within `range` (both ends included). */
function duration(range: Range) {
  const [min, max] = range;
  const accepted = `a duration from ${formatDuration(min)} to ${formatDuration(max)}`;
  return z.unknown().transform((v, ctx) => {
    if (typeof v === 'string' || typeof v === 'number') {
      let ms: number | undefined;
      try {
        ms = parseDuration(v);
      } catch {
        // Well-formed but beyond any timer: report the range, not the syntax.
        ms = DURATION_RE.test(String(v).trim()) || typeof v === 'number' ? Number.POSITIVE_INFINITY : undefined;
      }
      if (ms !== undefined && ms >= min && ms <= max) return ms;
      if (ms !== undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${accepted}, got ${describeValue(v)}` });
        return z.NEVER;
      }
    }
    ctx.addIssue({ code: 'custom', message: `${DURATION_EXPECTED}, got ${describeValue(v)}` });
    return z.NEVER;
  });
}

/** An integer (or any finite number) within `range`, with the range in the message. */
function numberIn(range: Range, opts: { int: boolean }) {
  const [min, max] = range;
  const accepted = `${opts.int ? 'an integer' : 'a number'} from ${min} to ${max}`;
  return z.unknown().transform((v, ctx) => {
    if (typeof v === 'number' && Number.isFinite(v) && (!opts.int || Number.isInteger(v)) && v >= min && v <= max) return v;
    ctx.addIssue({ code: 'custom', message: `expected ${accepted}, got ${describeValue(v)}` });
    return z.NEVER;
  });
}
const intIn = (range: Range) => numberIn(range, { int: true });

const shutdownGrace = duration(RANGES.shutdown);
const shutdown = z.unknown().transform((v, ctx): Shutdown => {
  if (v === 'brutal_kill') return { kind: 'brutal_kill' };
  let wellFormed = false;
  if (typeof v === 'string' || typeof v === 'number') {
    const r = shutdownGrace.safeParse(v);
    if (r.success) return { kind: 'grace', graceMs: r.data };
    wellFormed = typeof v === 'number' || DURATION_RE.test(v.trim());
  }
  const [min, max] = RANGES.shutdown;
  const message = wellFormed
    ? `expected "brutal_kill" or a duration from ${formatDuration(min)} to ${formatDuration(max)}, got ${describeValue(v)}`
    : `expected a duration like "5s" or "brutal_kill", got ${describeValue(v)}`;
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});

/** "host:port" (IPv6 in brackets); port 0 lets the OS choose, which tests use. */
export function parseHostPort(s: string, allowZero: boolean): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535 || (port === 0 && !allowZero)) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

const listen = z.unknown().transform((v, ctx) => {
  const hp = typeof v === 'string' ? parseHostPort(v, true) : undefined;
  if (hp) return hp;
  ctx.addIssue({ code: 'custom', message: `expected "host:port" like "127.0.0.1:7070", got ${describeValue(v)}` });
  return z.NEVER;
});

const httpUrl = z.string({ error: expected('an http:// or https:// URL') }).refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, { error: expected('an http:// or https:// URL') });

const metric = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { error: expected('a Prometheus metric name like "frames_total"') });
const labels = z.record(z.string(), z.string()).optional();
/** A metric probe whose series is not on the page: `fail` (the default: never exported, renamed, an exporter restarted empty) or `pass` (an app with nothing to count yet, e.g. a camera controller with no camera). */
const absent = z.enum(['fail', 'pass']).optional();
const port = z.int().min(1).max(65535);
const command = z.array(text, { error: expectedType('a command as a list like [node, server.js]') }).min(1);

/** `status: 200` or `status: [200, 204]`; absent means any 2xx or 3xx. */
const status = z.unknown().transform((v, ctx) => {
  const list = Array.isArray(v) ? v : [v];
  if (list.length > 0 && list.every((n) => Number.isInteger(n) && n >= 100 && n <= 599)) return list as number[];
  ctx.addIssue({ code: 'custom', message: `expected an HTTP status code (100-599) or a list of them, got ${Array.isArray(v) ? JSON.stringify(v) : describeValue(v)}` });
  return z.NEVER;
});

const tcp = z.preprocess(
  (v) => (typeof v === 'string' ? (parseHostPort(v, false) ?? v) : v),
  z.strictObject({ host: text, port }, {
    error: (iss) => (iss.code === 'invalid_type' ? expected('"host:port" or { host, port }')(iss) : undefined),
  }),
);

const checks = {
  http: z.strictObject({ url: httpUrl, status: status.optional(), body: z.string().optional(), headers: z.record(z.string(), z.string()).optional() }),
  tcp,
  exec: z.strictObject({ command }),
  throughput: z.strictObject({ url: httpUrl, metric, labels, min_rate: numberIn(RANGES.min_rate, { int: false }), window: duration(RANGES.window), absent }),
  staleness: z.strictObject({ url: httpUrl, metric, labels, max_age: duration(RANGES.max_age), absent }),
  // `docker_health:` with nothing after it is YAML null: the check has no options.
  docker_health: z.preprocess((v) => v ?? {}, z.strictObject({})),
} as const;

// These refinements run even when parts of the value failed (so that every problem is reported
// in one pass); they must therefore cope with any input, including non-objects.
const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The keys present (not undefined) among `keys`, in the order given. */
function present<K extends string>(v: unknown, keys: readonly K[]): K[] {
  if (v === null || typeof v !== 'object') return [];
  return keys.filter((k) => (v as Record<string, unknown>)[k] !== undefined);
}

const probe = z
  .strictObject({
    name: id.optional(),
    ...Object.fromEntries(CHECK_KINDS.map((k) => [k, checks[k].optional()])) as { [K in CheckKind]: z.ZodOptional<(typeof checks)[K]> },
    every: duration(RANGES.every).optional(),
    timeout: duration(RANGES.timeout).optional(),
    failures: intIn(RANGES.failures).optional(),
    startup_grace: duration(RANGES.startup_grace).optional(),
  })
  .superRefine((v, ctx) => {
    if (!isMapping(v)) return; // already reported as "expected a mapping"
    const kinds = present(v, CHECK_KINDS);
    if (kinds.length === 1) return;
    const accepted = 'expected exactly one check: http, tcp, exec, throughput, staleness or docker_health';
    ctx.addIssue({ code: 'custom', path: kinds.length ? [kinds[1]!] : [], message: `${accepted}, got ${kinds.length ? kinds.join(' and ') : 'none'}` });
  }, { when: () => true });

/** Output of the probe schema: durations already in ms, defaults not yet applied. */
export type RawProbe = z.output<typeof probe>;

// Numbers and booleans are stringified, as docker compose does: `PORT: 8080` is meant as "8080".
const envMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: expected('a string') }).transform(String));
const processBackend = z.strictObject({
  command,
  env: envMap.optional(),
  // Variables of the supervisor passed on as they are; nothing else of its environment is (child-env.ts).
  pass_env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: expected('an environment variable name like "TZ"') })).optional(),
  cwd: text.optional(),
  log_lines: intIn(RANGES.log_lines).optional(),
});

function inprocBackend(allowRun: boolean) {
  const base = { module: allowRun ? text.optional() : text, export: text.optional(), heartbeat_timeout: duration(RANGES.heartbeat_timeout).optional() };
  if (!allowRun) return z.strictObject(base);
  const run = z.custom<InprocWorker>((f) => typeof f === 'function', { error: expected('an async function') }).optional();
  return z.strictObject({ ...base, run }).superRefine((v, ctx) => {
    if (!isMapping(v)) return;
    const set = present(v, ['module', 'run'] as const);
    if (set.length !== 1) ctx.addIssue({ code: 'custom', path: set.length ? ['run'] : [], message: `expected exactly one of module or run, got ${set.length ? 'both' : 'none'}` });
  }, { when: () => true });
}

const threadBackend = z.strictObject({
  module: text,
  export: text.optional(),
  // The thread's own process.env (over the supervisor's) and process.argv (appended): a template's
  // children tell each other apart by them as process children do.
  env: envMap.optional(),
  args: z.array(z.string({ error: expected('a string') }), { error: expectedType('a list of strings') }).optional(),
  heartbeat_timeout: duration(RANGES.heartbeat_timeout).optional(),
  resource_limits: z
    .strictObject({
      max_old_generation_mb: intIn(RANGES.max_old_generation_mb).optional(),
      max_young_generation_mb: intIn(RANGES.max_young_generation_mb).optional(),
      code_range_mb: intIn(RANGES.code_range_mb).optional(),
      stack_mb: intIn(RANGES.stack_mb).optional(),
    })
    .optional(),
});

/** A user's backend (backends/registry.ts): `kind` names the registered factory, `options` go to it. */
const customBackend = z.strictObject({
  kind: z.string({ error: expected('a backend name matching [a-z0-9][a-z0-9_-]*, as given to registerBackend') }).regex(ID_RE, { error: expected('a backend name matching [a-z0-9][a-z0-9_-]*, as given to registerBackend') }),
  options: z.record(z.string(), z.unknown(), { error: expectedType('a mapping of options for the backend') }).optional(),
});

/** sd_notify (notify/): `ready` waits for READY=1, `watchdog` expects WATCHDOG=1 at least that often. */
const notify = z.strictObject({
  ready: z.boolean({ error: expected('true or false') }).optional(),
  watchdog: duration(RANGES.watchdog).optional(),
  start_timeout: duration(RANGES.notify_start_timeout).optional(),
  // systemd's NotifyAccess= (none and exec do not apply: a child without notify has no socket).
  access: z.enum(['main', 'all'], { error: expected('main (only the main process) or all (any process of the child)') }).optional(),
});

const dockerBackend = z.strictObject({
  service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, { error: expected('a compose service name') }),
});

/**
 * `inner_tree`: where a worker's app publishes its own supervision tree (inner/inner-tree.ts).
 * Ranges: polling faster than 100 ms buys nothing a technician sees; a timeout must end before
 * the next poll is due, so polls never pile up.
 */
const innerTree = z
  .strictObject({
    url: httpUrl.refine((s) => {
      try {
        const u = new URL(s);
        return !u.username && !u.password && !u.search && !u.hash;
      } catch {
        return true; // reported by httpUrl
      }
      // Not echoed: the value may hold a password.
    }, { error: 'expected a base URL like "http://127.0.0.1:8081" without credentials, query or fragment' }),
    every: duration(RANGES.inner_tree_every).optional(),
    timeout: duration(RANGES.inner_tree_timeout).optional(),
  })
  .superRefine((v, ctx) => {
    if (!isMapping(v)) return;
    const every = typeof v.every === 'number' ? v.every : undefined;
    const timeout = typeof v.timeout === 'number' ? v.timeout : undefined;
    if (timeout !== undefined && timeout > (every ?? 1000)) {
      ctx.addIssue({ code: 'custom', path: ['timeout'], message: `expected a timeout no longer than every (${every ?? 1000}ms), got ${timeout}ms` });
    }
  }, { when: () => true });

const strategy = z.enum(['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one']);
/** The root has static children: simple_one_for_one is refused there with what to do instead. */
const ROOT_STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
const rootStrategy = z.unknown().transform((v, ctx): Strategy => {
  if ((ROOT_STRATEGIES as readonly unknown[]).includes(v)) return v as Strategy;
  const message = v === 'simple_one_for_one'
    ? 'the root cannot be simple_one_for_one: put a nested supervisor with strategy: simple_one_for_one and a template under it'
    : `expected one of ${ROOT_STRATEGIES.map((x) => `"${x}"`).join(', ')}, got ${describeValue(v)}`;
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
});
const backoff = z.strictObject({
  initial: duration(RANGES.backoff_initial).optional(),
  max: duration(RANGES.backoff_max).optional(),
  reset_after: duration(RANGES.backoff_reset_after).optional(),
});
const supervision = {
  strategy: strategy.optional(),
  intensity: intIn(RANGES.intensity).optional(),
  period: duration(RANGES.period).optional(),
  backoff: backoff.optional(),
};

/** A child as validated: worker and supervisor keys side by side; `load.ts` tells them apart. */
export interface RawChild {
  id: string;
  restart?: RestartType;
  shutdown?: Shutdown;
  hung_shutdown?: Shutdown;
  start_timeout?: number;
  process?: z.output<typeof processBackend>;
  inproc?: { module?: string; export?: string; heartbeat_timeout?: number; run?: InprocWorker };
  thread?: z.output<typeof threadBackend>;
  docker?: z.output<typeof dockerBackend>;
  custom?: z.output<typeof customBackend>;
  notify?: z.output<typeof notify>;
  watchdog?: number;
  probes?: RawProbe[];
  inner_tree?: { url: string; every?: number; timeout?: number };
  strategy?: Strategy;
  intensity?: number;
  period?: number;
  backoff?: z.output<typeof backoff>;
  children?: RawChild[];
  template?: RawTemplate;
  max_children?: number;
}

/** A simple_one_for_one supervisor's `template`: a worker without id. */
export type RawTemplate = Omit<RawChild, 'id' | 'children' | 'template' | 'strategy' | 'intensity' | 'period' | 'backoff' | 'max_children' | 'inner_tree'>;

/** The worker backends: a template is exactly one of them. */
const WORKER_KEYS = ['process', 'inproc', 'thread', 'docker', 'custom'] as const;

/** The fields of a worker: a child's (with its id and the supervisor keys) and a template's. */
const workerFields = (allowRun: boolean) => ({
  restart: z.enum(['permanent', 'transient', 'temporary']).optional(),
  shutdown: shutdown.optional(),
  hung_shutdown: shutdown.optional(),
  start_timeout: duration(RANGES.start_timeout).optional(),
  process: processBackend.optional(),
  inproc: inprocBackend(allowRun).optional(),
  thread: threadBackend.optional(),
  docker: dockerBackend.optional(),
  custom: customBackend.optional(),
  notify: notify.optional(),
  watchdog: duration(RANGES.watchdog).optional(),
  probes: z.array(probe).optional(),
});

/**
 * The worker a simple_one_for_one supervisor makes its children from: a child spec without id,
 * any worker backend, checked as a worker child is (notify on process and docker only, docker_health on
 * docker only, probe names distinct).
 */
function templateSchema(allowRun: boolean): z.ZodType<RawTemplate> {
  return z
    .strictObject(workerFields(allowRun))
    .superRefine((v, ctx) => {
      if (!isMapping(v)) return;
      const kinds = present(v, WORKER_KEYS);
      if (kinds.length === 1) {
        checkWorkerShape(kinds[0]!, v as Record<string, unknown>, ctx);
        return;
      }
      const accepted = 'expected exactly one of process, inproc, thread, docker or custom (a template is a worker, without id)';
      ctx.addIssue({ code: 'custom', path: kinds.length ? [kinds[1]!] : [], message: `${accepted}, got ${kinds.length ? kinds.join(' and ') : 'none'}` });
    }, { when: () => true });
}

function childSchema(allowRun: boolean): z.ZodType<RawChild> {
  const child: z.ZodType<RawChild> = z
    .strictObject({
      id,
      ...workerFields(allowRun),
      inner_tree: innerTree.optional(),
      ...supervision,
      children: z.lazy(() => z.array(child)).optional(),
      template: templateSchema(allowRun).optional(),
      max_children: intIn(RANGES.max_children).optional(),
    })
    .superRefine((v, ctx) => checkChildShape(v, ctx), { when: () => true });
  return child;
}

/** What kind of node a child is, and the keys that do not belong to that kind. */
function checkChildShape(v: unknown, ctx: z.RefinementCtx): void {
  if (!isMapping(v)) return; // already reported as "expected a mapping"
  const kinds = present(v, BACKEND_KEYS);
  if (kinds.length !== 1) {
    const accepted = 'expected exactly one of process, inproc, thread, docker, custom (a worker), children (a nested supervisor) or template (a simple_one_for_one supervisor)';
    ctx.addIssue({ code: 'custom', path: kinds.length ? [kinds[1]!] : [], message: `${accepted}, got ${kinds.length ? kinds.join(' and ') : 'none'}` });
    return;
  }
  const c = v as Record<string, unknown>;
  if (kinds[0] === 'template' && c.strategy !== 'simple_one_for_one') {
    ctx.addIssue({ code: 'custom', path: ['template'], message: `a template is for a simple_one_for_one supervisor: add strategy: simple_one_for_one, or list children instead${c.strategy !== undefined ? ` (strategy is ${JSON.stringify(c.strategy)})` : ''}` });
  }
  if (kinds[0] === 'children' && c.strategy === 'simple_one_for_one') {
    ctx.addIssue({ code: 'custom', path: ['strategy'], message: 'simple_one_for_one takes a template (one worker spec without id), not children; its children are added at run time' });
  }
  if (kinds[0] === 'template' && isMapping(c.template) && c.template.docker !== undefined && typeof c.max_children === 'number' && c.max_children > 1) {
    // A docker child is its compose service's one container: two children would fight over it.
    ctx.addIssue({ code: 'custom', path: ['max_children'], message: `expected 1 (the default) for a docker template: its children would all be the one container of its compose service, got ${c.max_children}; declare one service per child instead` });
  }
  if (kinds[0] === 'children' && c.max_children !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['max_children'], message: 'only a simple_one_for_one supervisor (a child with template) takes max_children' });
  }
  if (kinds[0] === 'children' || kinds[0] === 'template') {
    if (c.probes !== undefined) ctx.addIssue({ code: 'custom', path: ['probes'], message: 'a nested supervisor takes no probes; put them on its workers' });
    if (c.hung_shutdown !== undefined) ctx.addIssue({ code: 'custom', path: ['hung_shutdown'], message: 'a nested supervisor takes no hung_shutdown; put it on its workers' });
    if (c.start_timeout !== undefined) ctx.addIssue({ code: 'custom', path: ['start_timeout'], message: 'a nested supervisor takes no start_timeout; put it on its workers' });
    if (c.inner_tree !== undefined) ctx.addIssue({ code: 'custom', path: ['inner_tree'], message: 'a nested supervisor takes no inner_tree; put it on the worker whose app serves /v1/tree' });
  }
  if (kinds[0] === 'children' || kinds[0] === 'template') {
    for (const k of present(v, ['notify', 'watchdog'] as const)) {
      ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" (sd_notify) applies to a process or docker child only; this child is a nested supervisor` });
    }
    return;
  }
  for (const k of present(v, SUPERVISOR_ONLY)) {
    ctx.addIssue({ code: 'custom', path: [k], message: `only a nested supervisor (a child with children) takes "${k}"; this child is a ${kinds[0]} worker` });
  }
  checkWorkerShape(kinds[0]!, c, ctx);
}

/** What a worker (a child, or a simple_one_for_one template) of backend `kind` may not carry. */
function checkWorkerShape(kind: string, c: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const k of present(c, ['notify', 'watchdog'] as const)) {
    // A container's socket is in a directory compose mounts (docker.notify_dir); threads heartbeat over their port.
    if (kind !== 'process' && kind !== 'docker') ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" (sd_notify) applies to a process or docker child only; this child is a ${kind} worker` });
  }
  if (kind === 'docker' && isMapping(c.notify) && c.notify.access === 'main') {
    // A supervisor in its own container gets every container sender as pid 0 (backends/docker/notify.ts).
    ctx.addIssue({ code: 'custom', path: ['notify', 'access'], message: "access main applies to process children only: a container's senders cannot be told apart by pid (a supervisor in a container sees them all as pid 0); use all (the default)" });
  }
  if (isMapping(c.notify) && c.notify.watchdog !== undefined && c.watchdog !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['watchdog'], message: 'expected either watchdog or notify.watchdog, got both' });
  }
  const probes = Array.isArray(c.probes) ? (c.probes as unknown[]) : [];
  const seen = new Map<string, number>();
  probes.forEach((p, i) => {
    const pk = present(p, CHECK_KINDS);
    if (pk.includes('docker_health') && kind !== 'docker') {
      ctx.addIssue({ code: 'custom', path: ['probes', i, 'docker_health'], message: 'docker_health only applies to a docker child' });
    }
    const named = typeof (p as { name?: unknown })?.name === 'string';
    const name = named ? (p as { name: string }).name : pk.length === 1 ? pk[0]! : undefined;
    if (name === undefined) return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else ctx.addIssue({ code: 'custom', path: named ? ['probes', i, 'name'] : ['probes', i], message: `duplicate probe name "${name}" (also probes[${first}]); give each probe of a child a distinct name` });
  });
}

/**
 * The whole tree file. `allowRun` (trees built in code) lets an `inproc` child carry `run: fn`
 * instead of `module`; YAML cannot express a function, so files never get that option.
 */
export function createTreeSchema(opts: { allowRun: boolean }) {
  return z.strictObject({
    version: z.literal(1).optional(),
    name: id,
    ...supervision,
    strategy: rootStrategy.optional(),
    api: z.strictObject({ listen: listen.optional() }).optional(),
    store: z.strictObject({ path: text.optional(), retain_events: intIn(RANGES.retain_events).optional() }).optional(),
    docker: z
      .strictObject({
        project: z.string().regex(ID_RE, { error: expected('a compose project name like "edgevisor"') }).optional(),
        socket: text.optional(),
        timeout: duration(RANGES.docker_timeout).optional(),
        on_exit: z.enum(['leave', 'stop'], { error: expected('leave (containers keep running and are adopted by the next supervisor) or stop') }).optional(),
        // sd_notify for containers: <notify_dir>/<service>/notify.sock, the directory compose mounts into that service.
        notify_dir: text.optional(),
      })
      .optional(),
    on_give_up: z.enum(['stop_all', 'stop_failed'], { error: expected('stop_all (as OTP: every child is stopped) or stop_failed (only the child past its intensity; the others keep serving)') }).optional(),
    children: z.array(childSchema(opts.allowRun)),
  });
}

/** Output of the tree schema, before defaults (see `load.ts`). */
export type RawTree = z.output<ReturnType<typeof createTreeSchema>>;

/** Schemas are built once: YAML files (no `run`) and trees built in code (with `run`). */
export const fileTreeSchema = createTreeSchema({ allowRun: false });
export const codeTreeSchema = createTreeSchema({ allowRun: true });
/** One child alone, as added to a running tree (api: no `run`; code: `run` allowed). */
export const fileChildSchema = childSchema(false);
export const codeChildSchema = childSchema(true);
