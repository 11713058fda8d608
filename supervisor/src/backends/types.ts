import type { BackendSpec, Shutdown, WorkerSpec } from '../spec/types.ts';

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
  /** Last `n` lines of output kept by the backend (bounded ring). */
  logs(n?: number): string[];
  info(): UnitInfo;
  /** Release resources (listeners, streams). Does not stop the unit. */
  close(): Promise<void>;
}

/** What a unit factory gets besides the worker's spec. */
export interface BackendContext {
  /** Directory relative paths resolve against (the tree file's directory). */
  baseDir: string;
}

/** Creates a unit for a worker. One factory per backend kind; the runtime picks by `backend.kind`. */
export type UnitFactory = (worker: WorkerSpec, ctx: BackendContext) => Unit;

/** The backend kinds a tree names: process, inproc, docker. */
export type BackendKind = BackendSpec['kind'];
/** Unit factories by backend kind; createTree picks one per worker by `backend.kind`. */
export type BackendRegistry = Partial<Record<BackendKind, UnitFactory>>;
