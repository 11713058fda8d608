/**
 * The resolved supervision tree: what `spec/load.ts` produces from YAML after validation and
 * defaults. All durations are milliseconds. Objects are frozen after load.
 * Field names mirror the YAML (snake_case there, camelCase here).
 */

/**
 * Which siblings restart with a failed child: itself (one_for_one), every sibling (one_for_all),
 * itself and those after it (rest_for_one). `simple_one_for_one` (OTP's): no static children, one
 * `template`; children are added at run time from it (`tree.addChild`), restarted alone like
 * one_for_one, stopped in no particular order.
 */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
/** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';
/** SIGTERM (or abort/docker stop), wait `graceMs`, then kill; or kill at once. */
export type Shutdown = { kind: 'grace'; graceMs: number } | { kind: 'brutal_kill' };

/** Delay between consecutive restarts of one child: the first after a clean run is immediate, then `initialMs` doubling to `maxMs`. */
export interface BackoffSpec {
  initialMs: number;
  maxMs: number;
  /** A child that has run cleanly this long gets its backoff reset to `initialMs`. */
  resetAfterMs: number;
}

/** What a probe checks, by kind (README, "The tree file"). */
export type ProbeCheck =
  | { kind: 'http'; url: string; status?: readonly number[]; bodyContains?: string; headers?: Readonly<Record<string, string>> }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'exec'; command: readonly string[] }
  | { kind: 'throughput'; url: string; metric: string; labels?: Readonly<Record<string, string>>; minRate: number; windowMs: number; passIfAbsent?: true }
  | { kind: 'staleness'; url: string; metric: string; labels?: Readonly<Record<string, string>>; maxAgeMs: number; passIfAbsent?: true }
  | { kind: 'docker_health' };

/** A worker's probe: its check, period, timeout and failure threshold. */
export interface ProbeSpec {
  name: string;
  check: ProbeCheck;
  everyMs: number;
  timeoutMs: number;
  /** Consecutive failures before the child is unhealthy (default 3). */
  failures: number;
  /** Failures do not count until the probe has passed once or this grace is over (default 0). */
  startupGraceMs: number;
}

/** A local process child: argv, environment, working directory, kept output lines. */
export interface ProcessBackendSpec {
  kind: 'process';
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Names of supervisor environment variables passed on unchanged (see backends/child-env.ts). */
  passEnv?: readonly string[];
  cwd?: string;
  /** Lines of stdout/stderr kept per child (bounded ring). */
  logLines: number;
}

/** What an in-process worker is given at each run. */
export interface InprocContext {
  signal: AbortSignal;
  heartbeat: () => void;
  id: string;
  /**
   * Reports the worker's own state (a typed worker, `defineWorker` in spec/worker-lifecycle.ts).
   * Throws EDGEVISOR_ERR_UNDECLARED_STATE for a state the worker did not declare, or when it
   * declared none.
   */
  setState: (state: string) => void;
}

/** An async worker: given an AbortSignal and a heartbeat callback. */
export type InprocWorker = ((ctx: InprocContext) => Promise<void>) & {
  /** Set by defineWorker: the worker's own states and deadlines. */
  readonly lifecycle?: WorkerLifecycleSpec;
};

/**
 * A typed worker's own lifecycle, resolved (milliseconds): its states, the one each run begins
 * in, and its deadlines (core/worker-deadlines.ts checks them). Backend-neutral: any backend whose
 * units report states (BackendContext.reportWorkerState) can carry one.
 */
export interface WorkerLifecycleSpec {
  states: readonly string[];
  initial: string;
  /** Per state: the longest stay (`maxForMs`) and the longest gap between heartbeats (`heartbeatMs`). */
  perState: Readonly<Record<string, { readonly maxForMs?: number; readonly heartbeatMs?: number }>>;
  /** Once in `from`, reach `to` within `withinMs`. */
  transitions: readonly { readonly from: string; readonly to: string; readonly withinMs: number }[];
}

/** An async function run inside the supervisor (it cannot be killed: past its grace it is abandoned). */
export interface InprocBackendSpec {
  kind: 'inproc';
  /** Set when built in code (library use). */
  run?: InprocWorker;
  /** Set when loaded from YAML: module path (relative to the tree file) and export name. */
  module?: string;
  export?: string;
  /** A worker that does not heartbeat for this long is stalled (0 = no heartbeat check). */
  heartbeatTimeoutMs: number;
}

/** What a `thread` worker's function gets (backends/thread.ts): inproc's context plus its own states. */
export type ThreadWorker = (ctx: {
  signal: AbortSignal;
  heartbeat: () => void;
  /** Reports the worker's own state ("connecting", "streaming"...) over the thread's port. */
  setState: (state: string) => void;
  id: string;
}) => Promise<void>;

/** V8 heap limits of a thread (worker_threads `resourceLimits`), in MB; unset = Node's defaults. */
export interface ThreadResourceLimits {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
  codeRangeSizeMb?: number;
  stackSizeMb?: number;
}

/** A module run in its own worker thread: killable with terminate() while it runs JS. */
export interface ThreadBackendSpec {
  kind: 'thread';
  /** Module path (absolute after load) or package specifier, and its function export. */
  module: string;
  export: string;
  resourceLimits: ThreadResourceLimits;
  /** A thread that posts no heartbeat for this long is stalled (0 = no heartbeat check). */
  heartbeatTimeoutMs: number;
  /** Set in the thread's own `process.env`, over a copy of the supervisor's (worker_threads `env`). */
  env?: Readonly<Record<string, string>>;
  /** Appended to the thread's `process.argv` (worker_threads `argv`). */
  args?: readonly string[];
}

/**
 * A backend registered by the user (backends/registry.ts `registerBackend`): `name` picks the
 * factory, `options` are passed to it as written (the factory validates them).
 */
export interface CustomBackendSpec {
  kind: 'custom';
  name: string;
  options: Readonly<Record<string, unknown>>;
}

/**
 * `notify` of a process or docker child: the sd_notify protocol (supervisor/src/notify/). A
 * process child gets NOTIFY_SOCKET (and WATCHDOG_USEC when `watchdogMs` > 0); a container gets
 * them from compose, its socket being `<docker.notify_dir>/<service>/notify.sock`.
 */
export interface NotifySpec {
  /** Startup ends with READY=1 (systemd's Type=notify), on top of the startup probes. */
  ready: boolean;
  /** A child that sends no WATCHDOG=1 for this long is hung and killed (0 = no watchdog). */
  watchdogMs: number;
  /** With `ready`: no READY=1 within this long is a failed start (EXTEND_TIMEOUT_USEC= moves it later). */
  startTimeoutMs: number;
  /**
   * Whose datagrams count (systemd's NotifyAccess=): `all` (default) any process of the child's
   * process group (a shell script's `systemd-notify`); `main` only its main process (the spawned
   * pid, or the one it named with MAINPID=), which also gets WATCHDOG_PID. Process children only:
   * a supervisor in a container cannot see a container's pids.
   */
  access: NotifyAccess;
}

/** systemd's NotifyAccess= values that apply here. */
export type NotifyAccess = 'main' | 'all';

/** A compose service's container of the tree's own project. */
export interface DockerBackendSpec {
  kind: 'docker';
  /** The compose service name; the container is found by compose labels of our own project. */
  service: string;
}

/** How a worker runs: a process, an in-process function, a thread, a container, or a registered backend. */
export type BackendSpec = ProcessBackendSpec | InprocBackendSpec | ThreadBackendSpec | DockerBackendSpec | CustomBackendSpec;

interface NodeCommon {
  id: string;
  restart: RestartType;
  shutdown: Shutdown;
}

/** A leaf of the tree: one unit run by a backend, with its probes. */
export interface WorkerSpec extends NodeCommon {
  type: 'worker';
  backend: BackendSpec;
  /**
   * How a hung worker is stopped for its restart: one whose probe timed out or whose heartbeat
   * stopped. It cannot run a shutdown handler, so its grace would only delay the restart.
   * Default brutal_kill. Every other stop (crash, stalled throughput, manual, tree shutdown) uses `shutdown`.
   */
  hungShutdown: Shutdown;
  /**
   * `start_timeout`: how long the unit's own start may take (the process spawned, the thread's
   * module imported and its function called, the container started); past it the start is ended
   * with brutal_kill and counts as a failed start. Not `notify.start_timeout` (READY=1 after that)
   * nor the startup probes. Set by the tree loader (default 60 s); a spec built by hand without it
   * gets the same default.
   */
  startTimeoutMs?: number;
  probes: readonly ProbeSpec[];
  /** Its own states and deadlines, when it declares them (an inproc `run` made by defineWorker). */
  lifecycle?: WorkerLifecycleSpec;
  /** Where its app publishes its own supervision tree, merged under this child (inner/inner-tree.ts). */
  innerTree?: InnerTreeSpec;
  /** sd_notify readiness and watchdog (process children): `notify:` or `watchdog:` in the file. */
  notify?: NotifySpec;
}

/** `inner_tree` of a worker: the app serves GET /v1/tree, /v1/events and POST /v1/children/:id/<action> at `url`. */
export interface InnerTreeSpec {
  /** Base URL, no trailing slash (e.g. http://127.0.0.1:8081). */
  url: string;
  /** Polling period (default 1 s). */
  everyMs: number;
  /** Per request (default 500 ms, at most everyMs). */
  timeoutMs: number;
}

/** A supervisor node: its strategy, restart intensity and period, backoff, and children in start order. */
export interface SupervisorSpec extends NodeCommon {
  type: 'supervisor';
  strategy: Strategy;
  /** More than `intensity` restarts within `periodMs`: stop all children, fail to the parent. */
  intensity: number;
  periodMs: number;
  backoff: BackoffSpec;
  /** Static children, from the tree file (a simple_one_for_one supervisor has none). */
  children: readonly ChildSpec[];
  /** simple_one_for_one only: the worker every added child is made from (its id is given at add time). */
  template?: WorkerTemplate;
  /** simple_one_for_one only: at most this many children (default 1000). */
  maxChildren?: number;
  /**
   * The root only (`on_give_up`): what giving up stops. 'stop_all' (default, as OTP): every child.
   * 'stop_failed': only the child that went past the intensity; the healthy ones keep serving,
   * unsupervised, until a technician starts the root again (a crash-looping camera must not take
   * the dashboard and the other cameras down with it).
   */
  onGiveUp?: 'stop_all' | 'stop_failed';
}

/** A worker spec without its id: a simple_one_for_one supervisor's `template`. */
export type WorkerTemplate = Omit<WorkerSpec, 'id'>;

/** A node under a supervisor: a worker or a nested supervisor. */
export type ChildSpec = WorkerSpec | SupervisorSpec;

/** A validated, frozen tree: what loadTreeFile / parseTree / parseTreeObject return and createTree takes. */
export interface TreeSpec {
  version: 1;
  name: string;
  /** Absolute path of the file it came from (for messages and relative paths), if any. */
  file?: string;
  api: { host: string; port: number };
  store: { path: string; retainEvents: number };
  /**
   * `onExit`: what the supervisor does with running containers when it exits on SIGTERM. 'leave'
   * (default): they keep running and the next supervisor adopts them, so `docker compose restart
   * supervisor` costs the apps nothing (`docker compose stop/down` stops them itself). 'stop':
   * stop them in reverse order like every other child.
   */
  docker?: {
    project?: string;
    socketPath?: string;
    timeoutMs: number;
    onExit: 'leave' | 'stop';
    /** sd_notify for containers: each service's socket is `<notifyDir>/<service>/notify.sock` (absolute). */
    notifyDir?: string;
  };
  /** The root supervisor; its id is the tree's `name`. */
  root: SupervisorSpec;
}
