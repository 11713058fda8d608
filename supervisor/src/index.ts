/**
 * edgevisor's public API: the one entry of the package (`import { createTree } from 'edgevisor'`).
 * Apps in this repository and library users import only this module; anything not exported here
 * is internal and may change. In the repository `edgevisor` resolves to this file (tsconfig
 * `paths`, honoured by tsc, tsx and esbuild); the packed package ships it built to JavaScript with
 * declarations (`npm run build:lib`, run by `prepack`).
 *
 * A tree in code, in three steps:
 * ```ts
 * import { createTree, defaultBackends, parseTreeObject } from 'edgevisor';
 * const spec = parseTreeObject({ name: 'etl', strategy: 'rest_for_one', children: [
 *   { id: 'poller', inproc: { run: async ({ signal, heartbeat }) => { ... }, heartbeat_timeout: '2s' } },
 * ] });
 * const tree = createTree(spec, { backends: defaultBackends() });
 * await tree.start();
 * ```
 * Importing this module loads neither dockerode nor SQLite: the Docker backend and the event log
 * are loaded by the async helpers {@link dockerBackendsFor} and {@link openEventLog} when used.
 */

// --- Building and running a tree ---------------------------------------------------------------
/**
 * Builds a supervision tree from a validated {@link TreeSpec}; nothing runs until `tree.start()`.
 * `deps.backends` maps backend kinds to unit factories ({@link defaultBackends} gives `process`,
 * `inproc` and `thread`); `deps.sink` numbers and persists events (default: numbered in memory).
 */
export { createTree, type TreeDeps } from './runtime/tree.ts';
export type {
  /** A running tree: start/stop, snapshot, manual restart/stop/start, events. */
  Tree,
  TreeSnapshot,
  ChildSnapshot,
  ProbeStatus,
  InnerTreeStatus,
  /** Who asked for a manual action: `{ role: 'technician', via: 'api' }`. */
  Actor,
  Role,
  /** Where events go: `append(draft)` numbers it and returns the event. */
  EventSink,
} from './runtime/types.ts';
/** What a manual restart restarts, in start order (`tree.restartChild()` returns it). */
export type { ManualRestartPlan } from './core/manual-restart.ts';
/**
 * Time and timers, passed in: `createTree(spec, { clock })` arms every runtime timer (backoff,
 * reconcile, probe scheduling, heartbeat checks, inproc grace) on it; `systemClock` by default.
 */
export { systemClock, type Clock, type TimerHandle } from './runtime/clock.ts';
/**
 * A supervisor's decisions as data: `decide(view, event, now)` returns the steps (stop, start,
 * emit, wait, escalate, ...) the runtime executes. Pure; exported for tools and tests.
 */
export { decide, type Step, type StepKind, type DecideEvent, type SupervisorView, type ChildView, type FailureReport, type ChildMarks, type ManualPlan } from './core/decide.ts';

// --- Tree specs: files and objects ---------------------------------------------------------------
/**
 * `loadTreeFile(path)` and `parseTree(text, file)` validate a tree file; `parseTreeObject(obj)`
 * validates a tree built in code (same shape as the YAML; an `inproc` child may carry `run`).
 * All throw {@link EdgevisorError} `EDGEVISOR_ERR_SPEC_INVALID` with one line per problem
 * (`tree.yaml:14 children[1].probes[0].every: expected a duration like "500ms" or "2s", got "fast"`).
 * The result is deep-frozen. `TREE_DEFAULTS` lists every default.
 */
export { loadTreeFile, parseTree, parseTreeObject, TREE_DEFAULTS } from './spec/load.ts';
/** One child for `tree.addChild` checked alone (`child.<field>: ...` messages), and a child made from a simple_one_for_one template. */
export { parseChildObject, specFromTemplate, type TemplateOverrides } from './spec/load.ts';
export type {
  TreeSpec,
  ChildSpec,
  WorkerSpec,
  SupervisorSpec,
  Strategy,
  RestartType,
  Shutdown,
  BackoffSpec,
  ProbeSpec,
  ProbeCheck,
  BackendSpec,
  ProcessBackendSpec,
  InprocBackendSpec,
  DockerBackendSpec,
  ThreadBackendSpec,
  ThreadResourceLimits,
  CustomBackendSpec,
  NotifySpec,
  NotifyAccess,
  /** A thread worker: inproc's context plus `setState(state)`, run in its own worker thread. */
  ThreadWorker,
  InnerTreeSpec,
  /** A simple_one_for_one supervisor's `template`: a worker spec without its id. */
  WorkerTemplate,
  /** An in-process worker: `async ({ signal, heartbeat, id, setState }) => { ... }`; settles when done, throws on failure. */
  InprocWorker,
} from './spec/types.ts';

// --- Typed workers: their own states and deadlines ----------------------------------------------
/**
 * `defineWorker({ states, initial, deadlines, run })` declares a worker's own lifecycle
 * (`connecting`, `streaming`, ...) and its deadlines: `<state>: { maxFor, heartbeat }`,
 * `transitions: { 'a->b': limit }`. `run(ctx)` gets `ctx.setState`, which accepts only the
 * declared states (in the types, and at run time: `EDGEVISOR_ERR_UNDECLARED_STATE`). Pass the
 * result as `inproc: { run }` (or export it from a module named by `inproc.module`). A broken
 * deadline restarts the worker with the constraint as the reason ("stayed in connecting 12.0 s,
 * limit 10 s"); the state is in snapshots (`workerState`), `worker_state` events and `edgevisor status`.
 */
export { defineWorker, resolveLifecycle, assertDeclaredState } from './spec/worker-lifecycle.ts';
export type { Deadlines, DurationInput, StateDeadlines, TypedWorker, WorkerContext, WorkerDefinition } from './spec/worker-lifecycle.ts';
export type { InprocContext, WorkerLifecycleSpec } from './spec/types.ts';
/** The pure deadline checker (what the runtime runs at each report and timer). */
export { checkDeadlines, nextDeadlineAt, enterState, initialTrack, type DeadlineViolation, type WorkerStateTrack } from './core/worker-deadlines.ts';

// --- Printing a tree as the CLI does ----------------------------------------------------------------
/** `formatStatus(snapshot)`: `edgevisor status`'s table; `formatEvent(event)`: one `edgevisor events` line. */
export { formatStatus, formatEvent } from './cli/format.ts';

// --- Durations and checked YAML config files (apps use these for their own files) ---------------
/** `parseDuration('1.5s')` → 1500 (also `500ms`, `2m`, `1h30m`, or a number of ms); throws on anything else. `formatDuration(1500)` → `"1.5s"`. */
export { parseDuration, formatDuration, DURATION_EXPECTED, MAX_DURATION_MS, describeValue } from './spec/duration.ts';
/**
 * Config files of your own, validated by a zod schema with the same line-numbered messages as
 * tree files: `loadYamlConfig(path, schema)` (sync), `parseYamlConfig(text, file, schema)`.
 * `expected(what)` / `expectedType(what)` build zod error callbacks that say what is accepted.
 * The lower-level pieces (`parseYamlSource`, `checkWithSchema`, `formatIssues`, `specInvalid`,
 * `zodErrorMessage`) let an app add checks of its own to the same message list.
 */
export {
  loadYamlConfig,
  parseYamlConfig,
  expected,
  expectedType,
  parseYamlSource,
  readYamlSource,
  checkWithSchema,
  formatIssues,
  formatPath,
  specInvalid,
  zodErrorMessage,
  MAX_CONFIG_BYTES,
  type SpecIssue,
  type YamlSource,
} from './spec/yaml-config.ts';

// --- Errors ---------------------------------------------------------------------------------------
/**
 * Every error edgevisor throws on purpose is an {@link EdgevisorError} with a stable `code` from
 * `codes` (`EDGEVISOR_ERR_SPEC_INVALID`, `EDGEVISOR_ERR_UNKNOWN_CHILD`, ...), `details` (one
 * message per problem) and `cause`. `IllegalStateError` is a lifecycle bug, never user input.
 */
export { codes, EdgevisorError, IllegalStateError, type ErrorCode } from './errors.ts';

// --- Lifecycle and events -------------------------------------------------------------------------
/** A node's lifecycle: the state union, every state, the transition table, and its check. */
export { childStates, transitions, canTransition, isUp, type ChildState } from './core/lifecycle.ts';
/** One numbered event `{ seq, ts, type, child, from?, to?, reason, data? }` (see docs/architecture.md, "Events"). */
export type { TreeEvent, EventDraft, EventType } from './core/events.ts';
/** A technician's words for why something restarted ("crashed: exit code 137, killed by the OOM killer"). */
export { restartReasonWords, restartFacts, type RestartFacts } from './core/reason-words.ts';

// --- Backends -------------------------------------------------------------------------------------
/**
 * `defaultBackends()` gives `{ process, inproc, thread }`; add `docker` with {@link dockerBackendsFor}.
 * A backend is a {@link UnitFactory}: `(worker, ctx) => Unit` (see the `Unit` invariants);
 * `registerBackend(registry, name, factory)` adds your own, chosen by `custom: { kind: name }`.
 */
export { defaultBackends, createInprocUnit, createProcessUnit, killAllProcessUnits, type InprocExitInfo, type ProcessExitInfo } from './backends/index.ts';
export { createThreadUnit, type ThreadExitInfo } from './backends/thread.ts';
export { registerBackend, backendKey, BUILTIN_BACKENDS } from './backends/registry.ts';
/** sd_notify: the sender apps use (`sendNotify`), the message parser, a child's NOTIFY_SOCKET variables. */
export { hasNotifyAddon, sendNotify, parseNotify, notifyEnv, type NotifyMessage } from './notify/index.ts';
export type { NotifyStatus } from './runtime/notify-watch.ts';
export type { Unit, UnitFactory, UnitInfo, ExitInfo, ExecResult, BackendContext, BackendKind, BackendRegistry } from './backends/types.ts';

/**
 * The backends a tree needs beyond process/inproc: `{ docker }` when a worker names a compose
 * service (configured from `spec.docker`), else `{}`. Loads dockerode only then. The caller
 * closes the returned docker backend after `tree.stop()`.
 */
export async function dockerBackendsFor(spec: import('./spec/types.ts').TreeSpec, opts: { log?: (line: string) => void } = {}): Promise<import('./backends/types.ts').BackendRegistry & { docker?: { close(): void } }> {
  const { backendsForTree } = await import('./backends/docker/index.ts');
  return backendsForTree(spec, opts);
}

// --- Event log --------------------------------------------------------------------------------------
/** The event log as the supervisor service keeps it (see {@link openEventLog}). */
export type { EventStore } from './store/types.ts';
export type { BufferedStore, BufferedStoreOptions, StoreHealth } from './store/buffered-store.ts';

/**
 * Opens (creating it) an SQLite event log at `path` to pass as `createTree(spec, { sink })`:
 * events are numbered across restarts, persisted, and kept in memory while the disk refuses
 * writes. Loads better-sqlite3 on first use only. Close it after `tree.stop()`.
 */
export async function openEventLog(path: string, opts: import('./store/buffered-store.ts').BufferedStoreOptions = {}): Promise<import('./store/buffered-store.ts').BufferedStore> {
  const { openBufferedStore } = await import('./store/buffered-store.ts');
  return openBufferedStore(path, opts);
}

// --- Serving a tree -------------------------------------------------------------------------------
/**
 * How an app joins the box's tree: `registerInnerTreeRoutes(fastifyApp, tree, { decorate })`
 * serves `GET /v1/tree`, `GET /v1/events` and `POST /v1/children/:id/<action>` for the
 * supervisor's `inner_tree:` polling (docs/architecture.md, "One tree across the box").
 */
export { registerInnerTreeRoutes, type InnerRoutesOptions, type PublishedTree } from './inner/routes.ts';
/** What an app may record in the supervisor's event log with `POST /v1/audit`. */
export { auditActions, type AuditAction } from './api/audit.ts';

// --- Logs -------------------------------------------------------------------------------------------
/**
 * JSON log lines (pino, loaded on first use): `createLogger({ app })` writes `time`, `level`,
 * `app`, `msg` and fields to stdout; `fastifyLogging(logger)` makes it a fastify app's logger
 * (request ids from a safe `x-request-id`, one line per request), `echoRequestId` sends the id
 * back; `serializeError` is the `err` field (cause chain, stack without server paths);
 * `logEvent` logs a tree event. docs/architecture.md, "Logs".
 */
export { createLogger, fastifyLogging, echoRequestId, requestIdFor, serializeError, logEvent, eventLevel, parseLogLevel, LOG_LEVELS, MAX_REQUEST_ID, type Logger, type LoggerOptions } from './log.ts';
/** Reading children's output lines: a JSON log line in parts, readable, or as logged (`edgevisor logs`). */
export { parseLogLine, formatLogLine, rawLogLine, type LogEntry } from './cli/log-format.ts';
