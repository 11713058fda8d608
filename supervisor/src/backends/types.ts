import type { BackendSpec, Shutdown, WorkerLifecycleSpec, WorkerSpec } from '../spec/types.ts';
import type { Clock } from '../runtime/clock.ts';

/**
 * How a unit ended. `code`/`signal` as Node reports them for processes, the container's exit code
 * for Docker, `null` for in-process workers that returned (code 0) or threw (`error`).
 * `normal` is true only for a clean exit (code 0, no signal, no error): transient children are
 * restarted only when it is false.
 */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  normal: boolean;
  oom?: boolean;
  error?: string;
}

/** What a command run in a unit's context returned. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the backend knows about a unit right now (shown by the API / CLI). */
export interface UnitInfo {
  pid?: number;
  containerId?: string;
  startedAt?: number;
  [k: string]: unknown;
}

/**
 * One supervised unit (a process, a thread, a container, an async worker), owned by exactly one
 * runtime node. This is the interface a custom backend implements (see `registerBackend` in
 * backends/registry.ts); test/helpers/backend-conformance.ts is the suite every backend passes.
 *
 * The runtime's side of the contract:
 * - it never calls start() while a previous start is in flight or a run is up (it waits for the
 *   run's exit, or for stop() to resolve, first);
 * - it always awaits stop() before the next start();
 * - it drops everything it learns about an older run (the node's generation), but a unit must
 *   not rely on that: see INVARIANTS.
 *
 * INVARIANTS (what every backend guarantees, checked by the conformance suite):
 * - `onExit` listeners fire exactly once per successful start(), after the unit is gone, and as
 *   soon as the backend learns of it (process 'exit', Docker 'die' event, worker promise settled,
 *   thread 'exit'), whether the exit was asked for (stop) or not (crash).
 * - A run never reports twice and never reports after the next start(): a late settle, a late
 *   exit event, a heartbeat or a state of an older run is dropped by the unit itself.
 * - stop() resolves only once the unit is gone (after grace + kill if needed) and its exit has
 *   been reported; it is idempotent (concurrent calls share one promise) and resolves at once
 *   when the unit is not up.
 * - stop() during a start in flight never waits for a start that may never finish: it either lets
 *   a start that is sure to finish soon (a spawn) complete and stops that run, or ends the start
 *   (a thread terminated, an inproc import abandoned), which then rejects START_FAILED with no
 *   exit. The runtime's `start_timeout` (runtime/worker-node.ts) relies on it.
 * - `normal` in the exit: true for a clean end (code 0, a stop honoured within the grace, an
 *   asked-for brutal_kill), false for a crash or a kill after the grace ran out.
 * - Nothing here throws synchronously; failures to launch reject start() with an EdgevisorError
 *   (code START_FAILED), and no exit is reported for a start that failed.
 */
export interface Unit {
  /** Launches a new run. Resolves once it is up (spawned, thread online, container started). */
  start(): Promise<void>;
  /**
   * Stops the run: asks it to end (SIGTERM, abort, `docker stop`), waits `graceMs`, then kills
   * it; `brutal_kill` kills at once. Resolves after the exit has been reported.
   */
  stop(shutdown: Shutdown): Promise<void>;
  /** Subscribes to exits (see INVARIANTS); returns the unsubscribe function. */
  onExit(listener: (exit: ExitInfo) => void): () => void;
  /**
   * For backends with units that outlive the supervisor (Docker): look for an existing unit and
   * attach to it without restarting it. 'running' means adopted: exits are watched from now on.
   */
  adopt?(): Promise<'running' | 'stopped' | 'absent'>;
  /** Run a command in the unit's context (inside the container for Docker). */
  exec?(command: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<ExecResult>;
  /** Docker's own HEALTHCHECK status, for the docker_health probe. */
  health?(signal: AbortSignal): Promise<'healthy' | 'unhealthy' | 'starting' | 'none'>;
  /** In-process and thread workers: unix ms of the last heartbeat (or of the start). */
  lastHeartbeat?(): number;
  /**
   * The other door for a worker's own states (a unit that emits them, e.g. a thread posting them
   * over its port): the node subscribes and treats each like BackendContext.reportWorkerState;
   * a state its declaration does not have (or any state of an untyped worker) is ignored there.
   * Emit for the current run only.
   */
  onWorkerState?(listener: (state: string) => void): () => void;
  /** Last `n` lines of output kept by the backend (bounded ring). */
  logs(n?: number): string[];
  /**
   * Backends whose units keep their own output (Docker: the container's log): its last `n` lines,
   * `stdout| ...` / `stderr| ...`, read on demand. Without it, `logs` is the output.
   */
  output?(n: number, signal: AbortSignal): Promise<string[]>;
  info(): UnitInfo;
  /**
   * sd_notify (notify/): whether a datagram the kernel stamped with sender `pid` (0 when the
   * sender is outside the supervisor's pid namespace) comes from the current run; null while the
   * unit cannot tell yet (a container's run is still being checked): dropped, not counted. Without it the
   * runtime takes the run's process group (`info().pid` as its leader), the process backend's rule.
   */
  notifySender?(pid: number): boolean | null;
  /** Release resources (listeners, streams). Does not stop the unit. */
  close(): Promise<void>;
}

/** What a unit factory gets besides the worker's spec. */
export interface BackendContext {
  /** Directory relative paths resolve against (the tree file's directory). */
  baseDir: string;
  /** The tree's clock (runtime/clock.ts): backends that keep time of their own (inproc heartbeats and grace) use it. Default: the system clock. */
  clock?: Clock;
  /**
   * Variables the runtime adds to the unit's environment (process units: NOTIFY_SOCKET and
   * WATCHDOG_USEC for sd_notify, notify/). Backends without an environment ignore them.
   */
  extraEnv?: Readonly<Record<string, string>>;
  /**
   * A variable the unit sets, at the spawn, to the pid of the process it runs (process units:
   * WATCHDOG_PID for sd_notify's `access: main`, known only once the process exists). Backends
   * without an environment ignore it.
   */
  pidEnv?: string;
  /**
   * The one door through which a unit reports its worker's own state (a typed worker: the
   * WorkerSpec has a `lifecycle`, see spec/worker-lifecycle.ts). Every backend that can carry states
   * calls it (inproc: `ctx.setState`; a thread: a message on its port): `reportWorkerState(state)`.
   * - Throws EdgevisorError EDGEVISOR_ERR_UNDECLARED_STATE for a state the worker did not declare
   *   (or when it declared none): pass the error back to the worker (inproc throws it from setState).
   * - Forward reports of the current run only: a run that ended (or was abandoned) must not move
   *   the next run's state. Reports while the node is not up are ignored.
   * - Each run begins in the declared initial state without a report; the node checks the
   *   deadlines (core/worker-deadlines.ts); a per-state `heartbeat` deadline reads `Unit.lastHeartbeat()`.
   */
  reportWorkerState?: (state: string) => void;
  /**
   * For a unit that learns its worker's declaration only when it loads the worker (an inproc
   * `module` named in a tree file that exports a defineWorker; a thread's module): hand it over
   * here once, before the first run reports a state. Ignored when the spec already has one.
   */
  adoptWorkerLifecycle?: (lifecycle: WorkerLifecycleSpec) => void;
}

/**
 * Creates a unit for a worker. One factory per backend kind; the runtime picks by `backend.kind`
 * (for `custom` children, by `backend.name`). It is called once per child when the tree is
 * built: it may throw EdgevisorError(SPEC_INVALID) for options it cannot accept.
 */
export type UnitFactory = ((worker: WorkerSpec, ctx: BackendContext) => Unit) & {
  /**
   * For backends whose units cannot be handed a fresh NOTIFY_SOCKET (a container: its environment
   * and mounts are compose's): the stable path its socket must be bound at on the supervisor's
   * side, and how messages name it (never the path). Throws SPEC_INVALID when the backend cannot
   * offer one. Without it, a notify child gets a fresh private socket through `extraEnv`.
   */
  notifySocket?(worker: WorkerSpec): { path: string; label: string };
};

/** The backend kinds a tree names: process, inproc, thread, docker, custom. */
export type BackendKind = BackendSpec['kind'];
/**
 * Unit factories by backend name: the built-in kinds and the names given to registerBackend;
 * createTree picks one per worker by `backend.kind` (`custom` children: `backend.name`).
 */
export type BackendRegistry = { [name: string]: UnitFactory | undefined };
