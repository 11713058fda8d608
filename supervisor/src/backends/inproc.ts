/**
 * The `inproc` backend: an async function running inside the supervisor, given an AbortSignal and a
 * heartbeat callback.
 *
 * A typed worker (spec/worker-lifecycle.ts `defineWorker`) also gets `setState(state)`: the state
 * goes to the runtime through `ctx.reportWorkerState` (backends/types.ts), which checks it against
 * the declaration and the deadlines.
 *
 * An in-process worker cannot be killed. stop() aborts its signal and waits up to the grace; a
 * worker that has not settled by then is *abandoned*: reported as exited (abnormally, with
 * `abandoned: true`) so the tree can go on, while its code may in fact keep running and holding
 * whatever it holds until it notices the abort. Anything that must be killable belongs in the
 * `process` or `docker` backend.
 *
 * The same holds for a module whose import never finishes (top-level code awaiting forever): an
 * import cannot be cancelled. stop() during such a start abandons the start, which rejects
 * START_FAILED at once so the tree goes on (the runtime's `start_timeout` does this); the import
 * may still finish in the background, and a later start waits on the same import again.
 *
 * INVARIANTS:
 * - Each start() opens a new generation; the worker's settle and heartbeats count only for the
 *   generation they were started in, so a late settle or heartbeat of an abandoned worker never
 *   fires onExit twice nor touches the next run.
 * - onExit fires once per run: when the worker promise settles, or when it is abandoned.
 * - stop() during a stop returns the same promise; stop() with nothing running resolves at once;
 *   stop() during a start (the module still importing) abandons it: the start rejects START_FAILED
 *   and launches nothing, even if the import finishes later.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { codes, EdgevisorError, IllegalStateError } from '../errors.ts';
import { assertDeclaredState } from '../spec/worker-lifecycle.ts';
import type { InprocBackendSpec, InprocWorker, Shutdown, WorkerSpec } from '../spec/types.ts';
import { createLogRing } from './log-ring.ts';
import type { BackendContext, ExitInfo, Unit, UnitInfo } from './types.ts';
import { systemClock, type TimerHandle } from '../runtime/clock.ts';

/** ExitInfo plus whether the worker was given up on (it ignored the abort past the grace). */
export interface InprocExitInfo extends ExitInfo {
  abandoned: boolean;
  stopRequested: boolean;
}

/** Notes kept per worker (errors, abandonments); an inproc worker has no stdout of its own. */
const LOG_LINES = 200;

interface Run {
  generation: number;
  controller: AbortController;
  startedAt: number;
  lastHeartbeat: number;
  stopRequested: boolean;
  /** Resolves once the run's exit has been reported (settled or abandoned). */
  reported: Promise<void>;
  report: (exit: InprocExitInfo) => void;
  stopped?: Promise<void>;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

function isAbortOf(err: unknown, signal: AbortSignal): boolean {
  return err === signal.reason || (err instanceof Error && err.name === 'AbortError');
}

/**
 * Creates a unit for a worker whose backend is `inproc`. The function is `backend.run`, or the
 * export `backend.export` (default `default`) of `backend.module`, resolved against `ctx.baseDir`
 * and imported at the first start.
 */
export function createInprocUnit(worker: WorkerSpec, ctx: BackendContext): Unit {
  if (worker.backend.kind !== 'inproc') {
    throw new IllegalStateError(`createInprocUnit: child "${worker.id}" has backend "${worker.backend.kind}", not "inproc"`);
  }
  const spec: InprocBackendSpec = worker.backend;
  const clock = ctx.clock ?? systemClock;
  const ring = createLogRing(LOG_LINES);
  const listeners = new Set<(exit: ExitInfo) => void>();
  let generation = 0;
  let run: Run | undefined;
  /** The latest run, kept after it ended so lastHeartbeat() does not jump back to the start time. */
  let latest: Run | undefined;
  let lastStartedAt: number | undefined;
  let abandonedCount = 0;
  let loaded: InprocWorker | undefined = spec.run;
  /** The start in flight (its module loading): stop() abandons it. */
  let pendingStart: { abandon: () => void } | undefined;

  const emit = (exit: InprocExitInfo) => {
    for (const l of [...listeners]) {
      try {
        l(exit);
      } catch {
        // A listener's bug must not stop the others from learning of the exit.
      }
    }
  };

  const load = async (): Promise<InprocWorker> => {
    if (loaded) return loaded;
    const exportName = spec.export ?? 'default';
    if (!spec.module) {
      throw new EdgevisorError(codes.START_FAILED, `child "${worker.id}": inproc backend needs either run (in code) or module (in the tree file)`);
    }
    const file = resolvePath(ctx.baseDir, spec.module);
    let mod: Record<string, unknown>;
    try {
      if (/\.[cm]?tsx?$/.test(file)) await ensureTypeScriptLoader();
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new EdgevisorError(codes.START_FAILED, `child "${worker.id}": cannot import inproc module ${basename(file)}: ${String((err as Error)?.message ?? err).replaceAll(dirname(file), '.')}`, { cause: err });
    }
    const fn = mod[exportName];
    if (typeof fn !== 'function') {
      throw new EdgevisorError(
        codes.START_FAILED,
        `child "${worker.id}": module ${basename(file)} has no function export "${exportName}" (exports: ${Object.keys(mod).join(', ') || 'none'})`,
      );
    }
    loaded = fn as InprocWorker;
    return loaded;
  };

  const launch = (fn: InprocWorker) => {
    const gen = ++generation;
    const controller = new AbortController();
    const now = clock.now();
    let resolveReported!: () => void;
    const reported = new Promise<void>((r) => (resolveReported = r));
    let done = false;
    const r: Run = {
      generation: gen,
      controller,
      startedAt: now,
      lastHeartbeat: now,
      stopRequested: false,
      reported,
      report: (exit) => {
        if (done) return; // settled after being abandoned, or abandoned after settling: report once
        done = true;
        if (run === r) run = undefined;
        emit(exit);
        resolveReported();
      },
    };
    run = r;
    latest = r;
    lastStartedAt = now;
    ring.note(`started (run ${gen})`);
    const heartbeat = () => {
      // Heartbeats of an abandoned run must not make the next run look alive.
      if (!done) r.lastHeartbeat = clock.now();
    };
    const setState = (state: string) => {
      assertDeclaredState(worker.lifecycle ?? fn.lifecycle, state, worker.id); // thrown into the worker's own code
      // An abandoned run must not move the next run's state.
      if (!done) ctx.reportWorkerState?.(state);
    };
    // new Promise(...) turns a synchronous throw (a non-async function) into a rejection.
    new Promise<void>((res) => res(fn({ signal: controller.signal, heartbeat, id: worker.id, setState }))).then(
      () => {
        if (done) ring.note(`run ${gen} returned after it had been abandoned`);
        r.report({ code: 0, signal: null, normal: true, abandoned: false, stopRequested: r.stopRequested });
      },
      (err: unknown) => {
        const text = errorText(err);
        if (done) {
          ring.note(`run ${gen} failed after it had been abandoned: ${text}`);
          return;
        }
        // Throwing the abort reason in answer to our stop is how a worker says "stopped as asked".
        const asked = r.stopRequested && isAbortOf(err, controller.signal);
        ring.note(`${asked ? 'stopped' : 'failed'}: ${text}`, asked ? 'edgevisor' : 'stderr');
        r.report({ code: null, signal: null, normal: asked, error: asked ? undefined : text, abandoned: false, stopRequested: r.stopRequested });
      },
    );
  };

  const doStop = async (r: Run, shutdown: Shutdown): Promise<void> => {
    r.stopRequested = true;
    r.controller.abort(); // reason: a DOMException named AbortError, what fetch() and timers throw too
    // brutal_kill has no in-process meaning beyond "no grace": a worker that settles right on the
    // abort (within the same tick) still gets to report a clean stop.
    const graceMs = shutdown.kind === 'grace' ? shutdown.graceMs : 0;
    let timer: TimerHandle | undefined;
    const graceOver = new Promise<'grace'>((res) => (timer = clock.setTimeout(() => res('grace'), graceMs)));
    const outcome = await Promise.race([r.reported.then(() => 'settled' as const), graceOver]);
    clock.clearTimeout(timer);
    if (outcome === 'grace') {
      abandonedCount++;
      const text = `abandoned: did not settle within ${graceMs}ms of the abort (in-process code cannot be killed; it may still be running)`;
      ring.note(text);
      r.report({ code: null, signal: null, normal: false, error: text, abandoned: true, stopRequested: true });
    }
  };

  const unit: Unit = {
    start() {
      if (run) return Promise.reject(new IllegalStateError(`child "${worker.id}": start() while run ${run.generation} is still up`));
      if (pendingStart) return Promise.reject(new IllegalStateError(`child "${worker.id}": start() while a start is in flight`));
      return new Promise<void>((resolve, reject) => {
        let abandoned = false;
        const entry = {
          abandon: () => {
            abandoned = true;
            abandonedCount++;
            const what = spec.module ? `its module ${basename(spec.module)} was still being imported` : 'it was still loading';
            const text = `abandoned during start: ${what}; an import cannot be cancelled (in-process code cannot be killed), it may finish in the background`;
            ring.note(text);
            reject(new EdgevisorError(codes.START_FAILED, `child "${worker.id}": stopped while ${what} (start abandoned; in-process code cannot be killed)`));
          },
        };
        pendingStart = entry;
        const done = () => {
          if (pendingStart === entry) pendingStart = undefined;
        };
        load().then(
          (fn) => {
            done();
            if (abandoned) return;
            if (run) return reject(new IllegalStateError(`child "${worker.id}": start() while run ${(run as Run).generation} is still up`));
            // A module's typed worker: its declaration is known only now.
            if (fn.lifecycle && !worker.lifecycle) ctx.adoptWorkerLifecycle?.(fn.lifecycle);
            launch(fn);
            resolve();
          },
          (err: unknown) => {
            done();
            if (!abandoned) reject(err);
          },
        );
      });
    },

    stop(shutdown) {
      const r = run;
      if (!r) {
        const p = pendingStart;
        pendingStart = undefined;
        p?.abandon();
        return Promise.resolve();
      }
      r.stopped ??= doStop(r, shutdown);
      return r.stopped;
    },

    onExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    lastHeartbeat() {
      return latest?.lastHeartbeat ?? 0;
    },

    logs(n) {
      return ring.lines(n);
    },

    info(): UnitInfo {
      return { startedAt: run?.startedAt ?? lastStartedAt, running: run !== undefined, run: generation, abandoned: abandonedCount };
    },

    async close() {
      listeners.clear();
    },
  };
  return unit;
}

let tsLoader: Promise<void> | null = null;
/**
 * The supervisor runs as bundled JavaScript (bin/edgevisor.mjs); a TypeScript worker module named
 * in a tree file needs a loader, registered on first use only.
 */
function ensureTypeScriptLoader(): Promise<void> {
  tsLoader ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return tsLoader;
}
