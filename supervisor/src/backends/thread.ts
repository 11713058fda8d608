/**
 * The `thread` backend: a module's function run in its own worker thread (node:worker_threads),
 * with its own V8 heap (`resourceLimits`), heartbeats and states posted over the thread's port,
 * and a real kill: `terminate()` stops a thread stuck in JavaScript (a `while (true)`, a runaway
 * parse), which `inproc` can only abandon.
 *
 * What terminate() cannot do: a thread blocked *inside native code* (a synchronous syscall, an
 * addon's long call, `Atomics.wait` on some builds, `execSync`) only ends when that call returns
 * to JavaScript. Such a thread is reported as exited (abnormally, `abandoned: true`) after
 * KILL_WAIT_MS, so the tree goes on, but its OS thread and memory stay until the call returns.
 * Code that can block in native calls belongs in the `process` backend, where SIGKILL always works.
 *
 * The worker side is `threadMain` below, run from source (`eval`), so it works the same from the
 * TypeScript sources and from the esbuild bundle (bin/edgevisor.mjs) with no file to locate.
 * Messages, thread -> supervisor: {type:'started'} once the function is called, {type:'heartbeat'}
 * (at most one per HEARTBEAT_MIN_GAP_MS), {type:'state', state}, {type:'failed', error}; supervisor
 * -> thread: {type:'stop'} (aborts the function's signal).
 *
 * INVARIANTS:
 * - One run at a time; each run has its own Worker, so a heartbeat, state or exit of an older
 *   run can only reach that run's record, never the current one.
 * - onExit fires once per run: on the thread's 'exit', or when it is abandoned (whichever first).
 * - stop() during a stop returns the same promise; stop() with nothing running resolves at once.
 */
import { Worker } from 'node:worker_threads';
import { basename, dirname, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { codes, EdgevisorError, IllegalStateError } from '../errors.ts';
import type { Shutdown, ThreadBackendSpec, WorkerLifecycleSpec, WorkerSpec } from '../spec/types.ts';
import { createLogRing } from './log-ring.ts';
import { threadEnv } from './child-env.ts';
import type { BackendContext, ExitInfo, Unit, UnitInfo } from './types.ts';

/** ExitInfo plus how the run ended from our side. */
export interface ThreadExitInfo extends ExitInfo {
  stopRequested: boolean;
  /** terminate() was called (brutal_kill, or the grace ran out). */
  killed: boolean;
  /** terminate() did not end the thread within KILL_WAIT_MS (blocked in native code). */
  abandoned: boolean;
}

/** After terminate() a thread in JS is gone within milliseconds; past this it is blocked in native code. */
const KILL_WAIT_MS = 2_000;
/** Notes kept per worker (errors, kills): a thread shares the supervisor's stdout. */
const LOG_LINES = 200;

interface Run {
  generation: number;
  worker: Worker;
  startedAt: number;
  lastHeartbeat: number;
  workerState?: string;
  stopRequested: boolean;
  killed: boolean;
  brutal: boolean;
  error?: string;
  oom: boolean;
  /** Resolves once the exit has been reported (thread exit, or abandoned). */
  reported: Promise<void>;
  report: (exit: ThreadExitInfo) => void;
  stopped?: Promise<void>;
}

/**
 * The thread's side. Self-contained (it is sent as source): no imports from the file around it.
 * `workerData`: { url, exportName, id, tsx } (tsx: the loader's URL for a TypeScript module).
 */
function threadMain(wt: typeof import('node:worker_threads')): void {
  const { parentPort, workerData } = wt;
  const { url, exportName, id, tsx } = workerData as { url: string; exportName: string; id: string; tsx: string | null };
  const HEARTBEAT_MIN_GAP_MS = 20;
  const port = parentPort!;
  const controller = new AbortController();
  const post = (m: unknown) => {
    try {
      port.postMessage(m);
    } catch {
      // The port is closing (the supervisor is terminating us): nothing to tell.
    }
  };
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'stop') controller.abort();
  });
  let last = 0;
  const heartbeat = () => {
    const now = Date.now();
    if (now - last < HEARTBEAT_MIN_GAP_MS) return; // a tight loop's beats cost one message per gap
    last = now;
    post({ type: 'heartbeat' });
  };
  // A typed worker (defineWorker: the function carries its `lifecycle`) accepts only its declared
  // states, as inproc's setState does; the supervisor side checks them again.
  let declared: readonly string[] | null = null;
  const setState = (state: string) => {
    if (declared && !declared.includes(state)) {
      throw Object.assign(new Error(`worker "${id}": setState(${JSON.stringify(state)}): not a declared state (declared: ${declared.join(', ')})`), { code: 'EDGEVISOR_ERR_UNDECLARED_STATE' });
    }
    post({ type: 'state', state: String(state) });
  };
  const text = (err: unknown) => (err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err));
  (async () => {
    let mod: Record<string, unknown>;
    try {
      if (tsx) ((await import(tsx)) as { register: () => void }).register();
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      post({ type: 'start_failed', error: `cannot be imported: ${err instanceof Error ? err.message : String(err)}` });
      process.exit(1);
    }
    const fn = mod[exportName];
    if (typeof fn !== 'function') {
      post({ type: 'start_failed', error: `has no function export "${exportName}" (exports: ${Object.keys(mod).join(', ') || 'none'})` });
      process.exit(1);
    }
    const lifecycle = (fn as { lifecycle?: { states: readonly string[] } }).lifecycle;
    if (lifecycle) {
      declared = lifecycle.states;
      post({ type: 'lifecycle', lifecycle }); // before 'started': the node adopts it for this run
    }
    post({ type: 'started' });
    await (fn as (ctx: unknown) => Promise<void>)({ signal: controller.signal, heartbeat, setState, id });
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      // Throwing the abort reason after a stop is how a worker says "stopped as asked".
      const asked = controller.signal.aborted && (err === controller.signal.reason || (err instanceof Error && err.name === 'AbortError'));
      if (!asked) post({ type: 'failed', error: text(err) });
      process.exit(asked ? 0 : 1);
    },
  );
}
// tsx/esbuild may wrap named functions in a `__name(fn, "name")` helper of the module around:
// the thread gets a no-op one, since the source runs alone there. `require` is called in this
// string, not in threadMain: the bundle (bin/edgevisor.mjs) rewrites require() calls in code.
const THREAD_SOURCE = `var __name = (f) => f;\n(${threadMain.toString()})(require('node:worker_threads'))`;

let tsxUrl: string | null | undefined;
/** The tsx loader's URL, for a TypeScript worker module (threads do not inherit a registered loader). */
function tsxLoader(): string | null {
  if (tsxUrl === undefined) {
    try {
      tsxUrl = import.meta.resolve('tsx/esm/api');
    } catch {
      tsxUrl = null;
    }
  }
  return tsxUrl;
}

/**
 * Creates a unit for a worker whose backend is `thread`: `backend.export` of `backend.module`,
 * called with `{ signal, heartbeat, setState, id }` in a new thread at every start.
 */
export function createThreadUnit(worker: WorkerSpec, ctx: BackendContext): Unit {
  if (worker.backend.kind !== 'thread') {
    throw new IllegalStateError(`createThreadUnit: child "${worker.id}" has backend "${worker.backend.kind}", not "thread"`);
  }
  const spec: ThreadBackendSpec = worker.backend;
  const ring = createLogRing(LOG_LINES);
  const listeners = new Set<(exit: ExitInfo) => void>();
  const stateListeners = new Set<(state: string) => void>();
  const isFile = isAbsolute(spec.module) || spec.module.startsWith('file:');
  const url = isAbsolute(spec.module) ? pathToFileURL(spec.module).href : spec.module;
  // Shown in messages: the file name, never the server's directory.
  const shown = isFile ? basename(spec.module) : spec.module;
  /** Errors and stacks name the module's directory as "." (no server paths in events or logs). */
  const hidePaths = (text: string) => {
    // Node names the eval'd bootstrap "<cwd>/[worker eval]" as the importer: that is not the child's business.
    const t = text.replace(/ imported from \S*\[worker eval\]/g, '');
    return isFile ? t.replaceAll(dirname(isAbsolute(spec.module) ? spec.module : new URL(spec.module).pathname), '.') : t;
  };
  let generation = 0;
  let run: Run | undefined;
  let latest: Run | undefined;
  let starting: Promise<void> | undefined;
  let abandonedCount = 0;

  const emit = (exit: ThreadExitInfo) => {
    for (const l of [...listeners]) {
      try {
        l(exit);
      } catch {
        // A listener's bug must not stop the others from learning of the exit.
      }
    }
  };

  const launch = (): Promise<void> =>
    new Promise<void>((resolveStart, rejectStart) => {
      const gen = ++generation;
      const limits = spec.resourceLimits;
      let w: Worker;
      try {
        w = new Worker(THREAD_SOURCE, {
          eval: true,
          workerData: { url, exportName: spec.export, id: worker.id, tsx: /\.[cm]?tsx?$/.test(spec.module) ? tsxLoader() : null },
          resourceLimits: { ...limits },
          // The thread's own process.env / argv (a template child's overrides, thread: env/args);
          // without them the thread gets a copy of the supervisor's environment, as Node does.
          ...(spec.env ? { env: threadEnv(spec.env) } : {}),
          ...(spec.args?.length ? { argv: [...spec.args] } : {}),
          // The thread's console goes to the supervisor's stdout/stderr, as inproc's does.
          stdout: false,
          stderr: false,
          name: `edgevisor:${worker.id}`,
        });
      } catch (err) {
        rejectStart(new EdgevisorError(codes.START_FAILED, `child "${worker.id}": cannot create a thread: ${(err as Error).message}`, { cause: err }));
        return;
      }
      const now = Date.now();
      let resolveReported!: () => void;
      const reported = new Promise<void>((r) => (resolveReported = r));
      let up = false;
      let done = false;
      let startError: string | undefined;
      const r: Run = {
        generation: gen,
        worker: w,
        startedAt: now,
        lastHeartbeat: now,
        stopRequested: false,
        killed: false,
        brutal: false,
        oom: false,
        reported,
        report: (exit) => {
          if (done) return;
          done = true;
          if (run === r) run = undefined;
          emit(exit);
          resolveReported();
        },
      };
      w.on('message', (m: { type?: string; state?: string; error?: string; lifecycle?: WorkerLifecycleSpec }) => {
        if (done) return;
        if (m?.type === 'heartbeat') r.lastHeartbeat = Date.now();
        else if (m?.type === 'lifecycle' && m.lifecycle && !up) ctx.adoptWorkerLifecycle?.(m.lifecycle);
        else if (m?.type === 'state' && typeof m.state === 'string') {
          r.workerState = m.state;
          r.lastHeartbeat = Date.now();
          if (run === r) for (const l of [...stateListeners]) l(m.state);
        } else if (m?.type === 'failed') r.error = hidePaths(String(m.error));
        else if (m?.type === 'start_failed') startError = `thread module ${shown} ${hidePaths(String(m.error))}`;
        else if (m?.type === 'started' && !up) {
          up = true;
          run = r;
          latest = r;
          ring.note(`started (run ${gen}, thread ${w.threadId})`);
          resolveStart();
        }
      });
      w.on('error', (err: Error & { code?: string }) => {
        // An uncaught exception in the thread, or ERR_WORKER_OUT_OF_MEMORY; 'exit' follows.
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') r.oom = true;
        const text = hidePaths(String(err.message ?? err));
        if (!up) startError ??= `thread module ${shown} failed to load: ${text}`;
        else r.error ??= hidePaths(err.stack ?? text);
      });
      w.on('exit', (code) => {
        if (!up) {
          rejectStart(new EdgevisorError(codes.START_FAILED, `child "${worker.id}": ${startError ?? `thread exited with code ${code} before its function started`}`));
          return;
        }
        if (r.error) ring.note(`failed: ${r.error}`, 'stderr');
        ring.note(`exited with code ${code}${r.stopRequested ? ' (stop requested)' : ''}${r.killed ? ', terminated' : ''}${r.oom ? ', out of memory (resource_limits)' : ''}`);
        const clean = code === 0 && !r.error && !r.oom;
        r.report({
          code,
          signal: null,
          normal: r.stopRequested ? r.brutal || (clean && !r.killed) : clean,
          oom: r.oom,
          error: r.oom ? `out of memory (resource_limits ${JSON.stringify(limits)})` : r.error,
          stopRequested: r.stopRequested,
          killed: r.killed,
          abandoned: false,
        });
      });
    });

  /** terminate() and wait for the exit; a thread that does not end is abandoned (blocked in native code). */
  const kill = async (r: Run): Promise<void> => {
    r.killed = true;
    void r.worker.terminate().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const over = new Promise<'over'>((res) => (timer = setTimeout(() => res('over'), KILL_WAIT_MS)));
    const outcome = await Promise.race([r.reported.then(() => 'gone' as const), over]);
    clearTimeout(timer);
    if (outcome === 'over') {
      abandonedCount++;
      const text = `abandoned: the thread did not end within ${KILL_WAIT_MS}ms of terminate() (blocked in native code; use the process backend for such work)`;
      ring.note(text);
      r.report({ code: null, signal: null, normal: false, error: text, stopRequested: true, killed: true, abandoned: true });
    }
  };

  const doStop = async (r: Run, shutdown: Shutdown): Promise<void> => {
    r.stopRequested = true;
    if (shutdown.kind === 'brutal_kill') {
      r.brutal = true;
      ring.note('stop: terminate() (brutal_kill)');
      await kill(r);
      return;
    }
    ring.note(`stop: abort, grace ${shutdown.graceMs}ms`);
    r.worker.postMessage({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((res) => (timer = setTimeout(() => res('grace'), shutdown.graceMs)));
    const outcome = await Promise.race([r.reported.then(() => 'gone' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace') {
      ring.note(`stop: grace of ${shutdown.graceMs}ms over, terminate()`);
      await kill(r);
    }
  };

  const unit: Unit = {
    start() {
      if (run || starting) return Promise.reject(new IllegalStateError(`child "${worker.id}": start() while a run is still up`));
      const p = launch();
      starting = p;
      const clear = () => {
        if (starting === p) starting = undefined;
      };
      p.then(clear, clear);
      return p;
    },

    stop(shutdown) {
      const r = run;
      if (!r) return starting ? starting.then(() => unit.stop(shutdown), () => undefined) : Promise.resolve();
      r.stopped ??= doStop(r, shutdown);
      return r.stopped;
    },

    onExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    onWorkerState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },

    lastHeartbeat() {
      return latest?.lastHeartbeat ?? 0;
    },

    logs(n) {
      return ring.lines(n);
    },

    info(): UnitInfo {
      const info: UnitInfo = { startedAt: latest?.startedAt, running: run !== undefined, run: generation, abandoned: abandonedCount };
      if (run) info.threadId = run.worker.threadId;
      if (run?.workerState !== undefined) info.workerState = run.workerState;
      return info;
    },

    async close() {
      listeners.clear();
      stateListeners.clear();
    },
  };
  return unit;
}
