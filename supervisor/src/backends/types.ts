import type { BackendSpec, Shutdown, WorkerLifecycleSpec, WorkerSpec } from '../spec/types.ts';

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
 * One supervised unit (a process, a container, an async worker), owned by exactly one runtime
 * node. The runtime never calls start() while a previous start is up, and always awaits stop().
 *
 * INVARIANTS:
 * - `onExit` listeners fire exactly once per successful start(), after the unit is gone, and as
 *   soon as the backend learns of it (process 'exit', Docker 'die' event, worker promise settled),
 *   whether the exit was asked for (stop) or not (crash).
 * - stop() resolves only once the unit is gone (after grace + kill if needed); it is idempotent
 *   and safe to call when the unit is not up.
 * - Nothing here throws synchronously; failures to launch reject start() with an EdgevisorError.
 */
export interface Unit {
  start(): Promise<void>;
  stop(shutdown: Shutdown): Promise<void>;
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
  /** In-process workers: unix ms of the last heartbeat (or of the start). */
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
  /** Release resources (listeners, streams). Does not stop the unit. */
  close(): Promise<void>;
}

/** What a unit factory gets besides the worker's spec. */
export interface BackendContext {
  /** Directory relative paths resolve against (the tree file's directory). */
  baseDir: string;
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

/** Creates a unit for a worker. One factory per backend kind; the runtime picks by `backend.kind`. */
export type UnitFactory = (worker: WorkerSpec, ctx: BackendContext) => Unit;

/** The backend kinds a tree names: process, inproc, docker. */
export type BackendKind = BackendSpec['kind'];
/** Unit factories by backend kind; createTree picks one per worker by `backend.kind`. */
export type BackendRegistry = Partial<Record<BackendKind, UnitFactory>>;
