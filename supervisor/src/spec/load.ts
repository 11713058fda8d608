/**
 * Tree files in, frozen `TreeSpec` out. Validation happens once, here: every problem in the file
 * is reported at once (`file:line path: message`), then defaults and inheritance are applied,
 * relative paths resolved against the tree file's directory, and the result deep-frozen.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ZodType } from 'zod';
import type {
  BackendSpec, BackoffSpec, ChildSpec, ProbeCheck, ProbeSpec, SupervisorSpec, TreeSpec, WorkerSpec,
} from './types.ts';
import { CHECK_KINDS, codeTreeSchema, fileTreeSchema, type RawChild, type RawProbe, type RawTree } from './schema.ts';
import { checkWithSchema, formatIssues, formatPath, parseYamlSource, readYamlSource, specInvalid, type SpecIssue, type YamlSource } from './yaml-config.ts';
import { formatDuration } from './duration.ts';

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
  };
  const docker: NonNullable<TreeSpec['docker']> = { timeoutMs: raw.docker?.timeout ?? TREE_DEFAULTS.dockerTimeoutMs, onExit: raw.docker?.on_exit ?? 'leave' };
  if (raw.docker?.project !== undefined) docker.project = raw.docker.project;
  if (raw.docker?.socket !== undefined) docker.socketPath = resolve(baseDir, raw.docker.socket);
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
  return worker;
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
    return c;
  }
  if (raw.staleness) {
    const s = raw.staleness;
    const c: ProbeCheck = { kind: 'staleness', url: s.url, metric: s.metric, maxAgeMs: s.max_age };
    if (s.labels !== undefined) c.labels = s.labels;
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
