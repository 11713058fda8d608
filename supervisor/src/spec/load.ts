/**
 * Tree files in, frozen `TreeSpec` out. Validation happens once, here: every problem in the file
 * is reported at once (`file:line path: message`), then defaults and inheritance are applied,
 * relative paths resolved against the tree file's directory, and the result deep-frozen.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ZodType } from 'zod';
import type {
  BackendSpec, BackoffSpec, ChildSpec, ProbeCheck, ProbeSpec, SupervisorSpec, ThreadResourceLimits, TreeSpec, WorkerSpec, WorkerTemplate,
} from './types.ts';
import { CHECK_KINDS, ID_RE, codeChildSchema, codeTreeSchema, fileChildSchema, fileTreeSchema, type RawChild, type RawProbe, type RawTree } from './schema.ts';
import { checkWithSchema, formatIssues, formatPath, parseYamlSource, readYamlSource, specInvalid, type SpecIssue, type YamlSource } from './yaml-config.ts';
import { formatDuration } from './duration.ts';
import { EdgevisorError, codes } from '../errors.ts';

/** Every default of the tree format in one place (durations in ms). */
export const TREE_DEFAULTS = Object.freeze({
  strategy: 'one_for_one',
  intensity: 3,
  periodMs: 30_000,
  backoff: Object.freeze({ initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 }),
  workerShutdownMs: 5_000,
  /** A nested supervisor stops its children one by one, so it gets longer. */
  supervisorShutdownMs: 30_000,
  probe: Object.freeze({ everyMs: 1_000, timeoutMs: 1_000, failures: 3, startupGraceMs: 0 }),
  api: Object.freeze({ host: '127.0.0.1', port: 7070 }),
  storePath: './var/edgevisor.db',
  retainEvents: 100_000,
  dockerTimeoutMs: 10_000,
  logLines: 1_000,
  inprocExport: 'default',
  innerTree: Object.freeze({ everyMs: 1_000, timeoutMs: 500 }),
  /** simple_one_for_one: children added at run time, at most. */
  maxChildren: 1_000,
  /** sd_notify: how long a `ready` child may take to send READY=1. */
  notifyStartTimeoutMs: 60_000,
  /** How long a worker's own start (spawn, thread online, module imported, container started) may take. */
  startTimeoutMs: 60_000,
} as const);

type Path = readonly PropertyKey[];

/** Reads and validates a tree file. Throws `SPEC_INVALID` with one detail message per problem. */
export function loadTreeFile(path: string): TreeSpec {
  return build(readYamlSource(path), fileTreeSchema);
}

/** Validates YAML text as if read from `file` (used for messages and relative paths). */
export function parseTree(text: string, file: string): TreeSpec {
  return build(parseYamlSource(text, file), fileTreeSchema);
}

/**
 * Validates a tree built in code (same shape as the YAML). An `inproc` child may carry
 * `run: async ({ signal, heartbeat, id }) => ...` instead of `module`. Relative paths resolve
 * against `opts.file`'s directory, or the working directory when no file is given.
 */
export function parseTreeObject(obj: unknown, opts: { file?: string } = {}): TreeSpec {
  return build({ file: opts.file ?? '', data: obj, lineOf: () => undefined }, codeTreeSchema);
}

function build(src: YamlSource, schema: ZodType<RawTree>): TreeSpec {
  const file = src.file ? resolve(src.file) : undefined;
  const r = checkWithSchema(src.data, schema);
  const issues: SpecIssue[] = r.ok ? [] : [...r.issues];
  // Ids are checked on the raw data so a duplicate shows up alongside every other problem.
  issues.push(...duplicateIds(src.data, src.lineOf));
  let tree: TreeSpec | undefined;
  if (r.ok && issues.length === 0) tree = resolveTree(r.value, file, issues);
  if (issues.length > 0 || !tree) {
    throw specInvalid(src.file || undefined, formatIssues(issues, src.file ? src : undefined));
  }
  return deepFreeze(tree);
}

/** Ids are unique across the whole tree, the root's name included: technicians type them. */
function duplicateIds(data: unknown, lineOf: YamlSource['lineOf']): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (data === null || typeof data !== 'object') return issues;
  const seen = new Map<string, Path>();
  const root = data as { name?: unknown; children?: unknown };
  if (typeof root.name === 'string') seen.set(root.name, ['name']);
  const walk = (children: unknown, base: Path): void => {
    if (!Array.isArray(children)) return;
    children.forEach((c: unknown, i) => {
      if (c === null || typeof c !== 'object') return;
      const { id, children: nested } = c as { id?: unknown; children?: unknown };
      if (typeof id === 'string') {
        const path = [...base, i, 'id'];
        const first = seen.get(id);
        if (first === undefined) seen.set(id, path);
        else if (first.length === 1) issues.push({ path, message: `duplicate id "${id}": it is the tree's name; ids must be unique across the whole tree` });
        else {
          const line = lineOf(first);
          issues.push({ path, message: `duplicate id "${id}" (also at ${formatPath(first)}${line ? `, line ${line}` : ''}); ids must be unique across the whole tree` });
        }
      }
      walk(nested, [...base, i, 'children']);
    });
  };
  walk(root.children, ['children']);
  return issues;
}

function resolveTree(raw: RawTree, file: string | undefined, issues: SpecIssue[]): TreeSpec {
  const baseDir = file ? dirname(file) : process.cwd();
  const backoff = resolveBackoff(raw.backoff, TREE_DEFAULTS.backoff, [], issues);
  const root: SupervisorSpec = {
    type: 'supervisor',
    id: raw.name,
    restart: 'permanent',
    shutdown: { kind: 'grace', graceMs: TREE_DEFAULTS.supervisorShutdownMs },
    strategy: raw.strategy ?? TREE_DEFAULTS.strategy,
    intensity: raw.intensity ?? TREE_DEFAULTS.intensity,
    periodMs: raw.period ?? TREE_DEFAULTS.periodMs,
    backoff,
    children: raw.children.map((c, i) => resolveChild(c, ['children', i], backoff, baseDir, issues)),
    ...(raw.on_give_up ? { onGiveUp: raw.on_give_up } : {}),
  };
  const docker: NonNullable<TreeSpec['docker']> = { timeoutMs: raw.docker?.timeout ?? TREE_DEFAULTS.dockerTimeoutMs, onExit: raw.docker?.on_exit ?? 'leave' };
  if (raw.docker?.project !== undefined) docker.project = raw.docker.project;
  if (raw.docker?.socket !== undefined) docker.socketPath = resolve(baseDir, raw.docker.socket);
  if (raw.docker?.notify_dir !== undefined) docker.notifyDir = resolve(baseDir, raw.docker.notify_dir);
  else issues.push(...dockerNotifyWithoutDir(raw.children, ['children']));
  const tree: TreeSpec = {
    version: 1,
    name: raw.name,
    api: raw.api?.listen ?? { ...TREE_DEFAULTS.api },
    store: {
      path: resolve(baseDir, raw.store?.path ?? TREE_DEFAULTS.storePath),
      retainEvents: raw.store?.retain_events ?? TREE_DEFAULTS.retainEvents,
    },
    docker,
    root,
  };
  if (file) tree.file = file;
  return tree;
}

/** Missing fields come from the parent's resolved backoff (the root's from the defaults). */
function resolveBackoff(raw: RawChild['backoff'], parent: BackoffSpec, path: Path, issues: SpecIssue[]): BackoffSpec {
  const b = {
    initialMs: raw?.initial ?? parent.initialMs,
    maxMs: raw?.max ?? parent.maxMs,
    resetAfterMs: raw?.reset_after ?? parent.resetAfterMs,
  };
  if (b.maxMs < b.initialMs) {
    const field = raw?.max !== undefined ? 'max' : 'initial';
    issues.push({ path: [...path, 'backoff', field], message: `expected backoff max (${formatDuration(b.maxMs)}) to be at least initial (${formatDuration(b.initialMs)})` });
  }
  return b;
}

function resolveChild(raw: RawChild, path: Path, parentBackoff: BackoffSpec, baseDir: string, issues: SpecIssue[]): ChildSpec {
  const restart = raw.restart ?? 'permanent';
  if (raw.template) {
    const backoff = resolveBackoff(raw.backoff, parentBackoff, path, issues);
    const { id: _id, ...template } = resolveChild({ ...raw.template, id: raw.id }, [...path, 'template'], backoff, baseDir, issues) as WorkerSpec;
    return {
      type: 'supervisor',
      id: raw.id,
      restart,
      shutdown: raw.shutdown ?? { kind: 'grace', graceMs: TREE_DEFAULTS.supervisorShutdownMs },
      strategy: 'simple_one_for_one',
      intensity: raw.intensity ?? TREE_DEFAULTS.intensity,
      periodMs: raw.period ?? TREE_DEFAULTS.periodMs,
      backoff,
      children: [],
      template,
      // A docker template is one compose service, so one container: one child (schema.ts).
      maxChildren: raw.max_children ?? (template.backend.kind === 'docker' ? 1 : TREE_DEFAULTS.maxChildren),
    };
  }
  if (raw.children) {
    const backoff = resolveBackoff(raw.backoff, parentBackoff, path, issues);
    return {
      type: 'supervisor',
      id: raw.id,
      restart,
      shutdown: raw.shutdown ?? { kind: 'grace', graceMs: TREE_DEFAULTS.supervisorShutdownMs },
      strategy: raw.strategy ?? TREE_DEFAULTS.strategy,
      intensity: raw.intensity ?? TREE_DEFAULTS.intensity,
      periodMs: raw.period ?? TREE_DEFAULTS.periodMs,
      backoff,
      children: raw.children.map((c, i) => resolveChild(c, [...path, 'children', i], backoff, baseDir, issues)),
    };
  }
  const worker: WorkerSpec = {
    type: 'worker',
    id: raw.id,
    restart,
    shutdown: raw.shutdown ?? { kind: 'grace', graceMs: TREE_DEFAULTS.workerShutdownMs },
    hungShutdown: raw.hung_shutdown ?? { kind: 'brutal_kill' },
    startTimeoutMs: raw.start_timeout ?? TREE_DEFAULTS.startTimeoutMs,
    backend: resolveBackend(raw, baseDir),
    probes: (raw.probes ?? []).map(resolveProbe),
  };
  // A typed worker (defineWorker) carries its own states and deadlines, already checked.
  if (raw.inproc?.run?.lifecycle) worker.lifecycle = raw.inproc.run.lifecycle;
  if (raw.inner_tree) {
    worker.innerTree = {
      url: raw.inner_tree.url.replace(/\/+$/, ''),
      everyMs: raw.inner_tree.every ?? TREE_DEFAULTS.innerTree.everyMs,
      timeoutMs: raw.inner_tree.timeout ?? Math.min(TREE_DEFAULTS.innerTree.timeoutMs, raw.inner_tree.every ?? Infinity),
    };
  }
  const notify = resolveNotify(raw);
  if (notify) worker.notify = notify;
  return worker;
}

/**
 * One child added to a running tree (`tree.addChild`, `POST /v1/children`): the same schema as a
 * child of the tree file, the same defaults, the parent's backoff inherited. `field` prefixes
 * every message (`child.process.command: ...`). Throws SPEC_INVALID with one detail per problem.
 * A tree file's duplicate-id and nesting checks are the caller's (it knows the running tree).
 */
export function parseChildObject(obj: unknown, opts: { parentBackoff: BackoffSpec; baseDir: string; allowRun: boolean; field?: string }): ChildSpec {
  const field = opts.field ?? 'child';
  const schema = opts.allowRun ? codeChildSchema : fileChildSchema;
  const r = checkWithSchema(obj, schema);
  const issues: SpecIssue[] = r.ok ? [] : r.issues.map((i) => ({ ...i, path: [field, ...i.path] }));
  let child: ChildSpec | undefined;
  if (r.ok) {
    const inner: SpecIssue[] = [];
    child = resolveChild(r.value, [field], opts.parentBackoff, opts.baseDir, inner);
    issues.push(...inner);
  }
  if (issues.length > 0 || !child) throw childInvalid(formatIssues(issues));
  return deepFreeze(child);
}

/** SPEC_INVALID for a child added at run time: every problem in the message, one per detail. */
export function childInvalid(messages: readonly string[]): EdgevisorError {
  return new EdgevisorError(codes.SPEC_INVALID, `invalid child: ${messages.join('; ')}`, { details: messages });
}

/**
 * Per-child overrides of a simple_one_for_one template (`tree.addChild` on such a supervisor,
 * `POST /v1/children`). Which apply depends on the template's backend (`TEMPLATE_OVERRIDES`).
 */
export interface TemplateOverrides {
  /** Default: `<supervisor>-<n>`. */
  id?: string;
  /** process: merged over its `env`; thread: over its `env`, the thread's own `process.env`. */
  env?: Readonly<Record<string, string>>;
  /** process: appended to its `command`; thread: to its `args`, the thread's `process.argv`. */
  args?: readonly string[];
  /** custom: merged (shallow) over its `options`, which its registered factory gets. */
  options?: Readonly<Record<string, unknown>>;
}

/**
 * The overrides each template backend takes, besides `id`. An inproc worker tells its children
 * apart by `ctx.id` (they share the supervisor's process.env, so an env of their own would be a
 * lie); a docker template names one compose service, whose container cannot take per-child env.
 */
export const TEMPLATE_OVERRIDES = {
  process: ['env', 'args'],
  thread: ['env', 'args'],
  custom: ['options'],
  inproc: [],
  docker: [],
} as const satisfies Record<BackendSpec['kind'], readonly (keyof TemplateOverrides)[]>;

/** Every override field a template can take, whatever its backend. */
export const OVERRIDE_FIELDS = ['id', 'env', 'args', 'options'] as const;

/** "id, env, args": what a child of this template may be given. */
export function templateOverridesText(kind: BackendSpec['kind']): string {
  return ['id', ...TEMPLATE_OVERRIDES[kind]].join(', ');
}

const WHY_NOT: Record<BackendSpec['kind'], string> = {
  process: '',
  thread: '',
  custom: 'its factory gets only options: put env in them if the backend takes it',
  inproc: 'an inproc worker shares the supervisor\'s process and tells its children apart by ctx.id',
  docker: 'a docker template runs its compose service\'s container as it is declared',
};

/**
 * A child made from a template: the template with its id and the overrides its backend takes
 * (`TEMPLATE_OVERRIDES`): `env` merged, `args` appended (process, thread), `options` merged
 * (custom). Throws SPEC_INVALID naming each field and what this template accepts.
 */
export function specFromTemplate(template: WorkerTemplate, o: TemplateOverrides, id: string): WorkerSpec {
  const issues: SpecIssue[] = [];
  if (!ID_RE.test(id)) issues.push({ path: ['id'], message: `expected an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-"), got ${JSON.stringify(String(id).slice(0, 80))}` });
  const b = template.backend;
  const takes = TEMPLATE_OVERRIDES[b.kind] as readonly string[];
  const refuse = (field: keyof TemplateOverrides) => {
    if (takes.includes(field)) return false;
    const users = Object.entries(TEMPLATE_OVERRIDES).filter(([, f]) => (f as readonly string[]).includes(field)).map(([k]) => k);
    const why = WHY_NOT[b.kind];
    issues.push({ path: [field], message: `only a ${users.join(' or ')} template takes ${field}; this template is ${b.kind}, whose children take ${templateOverridesText(b.kind)}${why ? ` (${why})` : ''}` });
    return true;
  };
  if (o.env !== undefined && !refuse('env')) {
    if (o.env === null || typeof o.env !== 'object' || Array.isArray(o.env)) issues.push({ path: ['env'], message: 'expected a mapping of variable names to strings' });
    else {
      for (const [k, v] of Object.entries(o.env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) issues.push({ path: ['env', k], message: 'expected an environment variable name like "CAMERA_ID"' });
        else if (typeof v !== 'string') issues.push({ path: ['env', k], message: `expected a string, got ${typeof v}` });
      }
    }
  }
  if (o.args !== undefined && !refuse('args')) {
    if (!Array.isArray(o.args) || !o.args.every((a) => typeof a === 'string')) issues.push({ path: ['args'], message: 'expected a list of strings' });
  }
  if (o.options !== undefined && !refuse('options')) {
    if (o.options === null || typeof o.options !== 'object' || Array.isArray(o.options)) issues.push({ path: ['options'], message: 'expected a mapping of options for the backend' });
  }
  if (issues.length) throw childInvalid(formatIssues(issues));
  let backend: BackendSpec = b;
  if (b.kind === 'process') backend = { ...b, env: { ...b.env, ...o.env }, command: [...b.command, ...(o.args ?? [])] };
  else if (b.kind === 'thread' && (o.env !== undefined || o.args !== undefined)) {
    backend = { ...b, env: { ...b.env, ...o.env }, args: [...(b.args ?? []), ...(o.args ?? [])] };
  } else if (b.kind === 'custom' && o.options !== undefined) backend = { ...b, options: { ...b.options, ...o.options } };
  return deepFreeze({ ...template, id, backend } as WorkerSpec);
}

/** A docker child with notify/watchdog needs the tree's docker.notify_dir: where its service's socket is. */
function dockerNotifyWithoutDir(children: RawTree['children'], path: Path): SpecIssue[] {
  const out: SpecIssue[] = [];
  children.forEach((c, i) => {
    const at = [...path, i];
    if (c.children) out.push(...dockerNotifyWithoutDir(c.children, [...at, 'children']));
    if (!c.docker) return;
    for (const k of ['watchdog', 'notify'] as const) {
      if (c[k] !== undefined) out.push({ path: [...at, k], message: `a docker child's sd_notify needs docker.notify_dir in the tree file: the directory holding one folder per service, each mounted into its container (see compose.yaml)` });
    }
  });
  return out;
}

/** `watchdog: 500ms` is short for `notify: { watchdog: 500ms }`. */
function resolveNotify(raw: RawChild): WorkerSpec['notify'] {
  if (raw.notify === undefined && raw.watchdog === undefined) return undefined;
  return {
    ready: raw.notify?.ready ?? false,
    watchdogMs: raw.watchdog ?? raw.notify?.watchdog ?? 0,
    startTimeoutMs: raw.notify?.start_timeout ?? TREE_DEFAULTS.notifyStartTimeoutMs,
    access: raw.notify?.access ?? 'all',
  };
}

/** File-like module specifiers resolve against the tree's directory; package names stay as written. */
function resolveModule(m: string, baseDir: string): string {
  if (isAbsolute(m) || m.startsWith('file:') || m.startsWith('node:')) return m;
  if (m.startsWith('.') || /\.(m|c)?(j|t)s$/.test(m)) return resolve(baseDir, m);
  return m;
}

function resolveBackend(raw: RawChild, baseDir: string): BackendSpec {
  if (raw.process) {
    const p = raw.process;
    const spec: BackendSpec = { kind: 'process', command: p.command, env: p.env ?? {}, logLines: p.log_lines ?? TREE_DEFAULTS.logLines };
    if (p.pass_env !== undefined) spec.passEnv = p.pass_env;
    if (p.cwd !== undefined) spec.cwd = resolve(baseDir, p.cwd);
    return spec;
  }
  if (raw.inproc) {
    const p = raw.inproc;
    const spec: BackendSpec = { kind: 'inproc', heartbeatTimeoutMs: p.heartbeat_timeout ?? 0 };
    if (p.run) spec.run = p.run;
    if (p.module !== undefined) {
      spec.module = resolveModule(p.module, baseDir);
      spec.export = p.export ?? TREE_DEFAULTS.inprocExport;
    }
    return spec;
  }
  if (raw.thread) {
    const t = raw.thread;
    const l = t.resource_limits ?? {};
    const limits: ThreadResourceLimits = {};
    if (l.max_old_generation_mb !== undefined) limits.maxOldGenerationSizeMb = l.max_old_generation_mb;
    if (l.max_young_generation_mb !== undefined) limits.maxYoungGenerationSizeMb = l.max_young_generation_mb;
    if (l.code_range_mb !== undefined) limits.codeRangeSizeMb = l.code_range_mb;
    if (l.stack_mb !== undefined) limits.stackSizeMb = l.stack_mb;
    const spec: BackendSpec = { kind: 'thread', module: resolveModule(t.module, baseDir), export: t.export ?? TREE_DEFAULTS.inprocExport, resourceLimits: limits, heartbeatTimeoutMs: t.heartbeat_timeout ?? 0 };
    if (t.env !== undefined) spec.env = t.env;
    if (t.args !== undefined) spec.args = t.args;
    return spec;
  }
  if (raw.custom) return { kind: 'custom', name: raw.custom.kind, options: raw.custom.options ?? {} };
  if (raw.docker) return { kind: 'docker', service: raw.docker.service };
  // The schema guarantees exactly one backend; reaching here is a bug in schema.ts.
  throw new Error(`child "${raw.id}" has no backend after validation`);
}

function resolveProbe(raw: RawProbe): ProbeSpec {
  const kind = CHECK_KINDS.find((k) => raw[k] !== undefined)!;
  return {
    name: raw.name ?? kind,
    check: resolveCheck(raw),
    everyMs: raw.every ?? TREE_DEFAULTS.probe.everyMs,
    timeoutMs: raw.timeout ?? TREE_DEFAULTS.probe.timeoutMs,
    failures: raw.failures ?? TREE_DEFAULTS.probe.failures,
    startupGraceMs: raw.startup_grace ?? TREE_DEFAULTS.probe.startupGraceMs,
  };
}

function resolveCheck(raw: RawProbe): ProbeCheck {
  if (raw.http) {
    const h = raw.http;
    const c: ProbeCheck = { kind: 'http', url: h.url };
    if (h.status !== undefined) c.status = h.status;
    if (h.body !== undefined) c.bodyContains = h.body;
    if (h.headers !== undefined) c.headers = h.headers;
    return c;
  }
  if (raw.tcp) return { kind: 'tcp', host: raw.tcp.host, port: raw.tcp.port };
  if (raw.exec) return { kind: 'exec', command: raw.exec.command };
  if (raw.throughput) {
    const t = raw.throughput;
    const c: ProbeCheck = { kind: 'throughput', url: t.url, metric: t.metric, minRate: t.min_rate, windowMs: t.window };
    if (t.labels !== undefined) c.labels = t.labels;
    if (t.absent === 'pass') c.passIfAbsent = true;
    return c;
  }
  if (raw.staleness) {
    const s = raw.staleness;
    const c: ProbeCheck = { kind: 'staleness', url: s.url, metric: s.metric, maxAgeMs: s.max_age };
    if (s.labels !== undefined) c.labels = s.labels;
    if (s.absent === 'pass') c.passIfAbsent = true;
    return c;
  }
  return { kind: 'docker_health' };
}

/** Freezes objects and arrays all the way down; functions (`run`) are left as they are. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
