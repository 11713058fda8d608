/**
 * The `process` backend: a local command in its own process group.
 *
 * The unit is the whole group, not just the leader: stop and kill are sent to `-pid`, and when the
 * leader dies on its own whatever is left of its group is killed too, so a crashed shell cannot
 * leave a `sleep` or a server holding the port the restarted child needs. A program that
 * daemonizes (forks and lets the leader exit) therefore cannot be supervised with this backend.
 *
 * INVARIANTS:
 * - One run at a time: `run` is set from a successful spawn until its exit has been reported.
 * - onExit fires once per run, after the leader has exited and its group is gone (or has been sent
 *   SIGKILL and the wait for it ran out), never from a timer guessing at it.
 * - stop() during a stop returns the same promise; stop() with nothing running resolves at once.
 * - Every live run is in `live`, so killAllProcessUnits() can reach it when the supervisor exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve as resolvePath } from 'node:path';
import { codes, EdgevisorError, IllegalStateError } from '../errors.ts';
import type { ProcessBackendSpec, Shutdown, WorkerSpec } from '../spec/types.ts';
import { childEnv } from './child-env.ts';
import { createLogRing } from './log-ring.ts';
import { assertCommandExists, watchedCommand } from './parent-watch.ts';
import type { BackendContext, ExitInfo, Unit, UnitInfo } from './types.ts';

/** ExitInfo plus how the run ended from our side (kept in events, useful in restart reasons). */
export interface ProcessExitInfo extends ExitInfo {
  /** stop() had been called for this run. */
  stopRequested: boolean;
  /** The group was sent SIGKILL (brutal_kill, grace ran out, or leftovers of a crashed leader). */
  killed: boolean;
}

/** After SIGKILL a group is normally gone within milliseconds; past this we report anyway. */
const KILL_WAIT_MS = 2_000;
/** Stdout/stderr may still hold the last lines when 'exit' fires; wait this long for 'close'. */
const CLOSE_WAIT_MS = 100;
const GROUP_POLL_MS = 10;

interface Run {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  stopRequested: boolean;
  killed: boolean;
  /** Stopped with brutal_kill: its SIGKILL was the request, not a failure. */
  brutal: boolean;
  closed: Promise<void>;
  /** Resolves with the leader's exit once Node reports it. */
  leaderExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the exit has been reported to listeners. */
  done: Promise<void>;
  /** Signalling part of stop() (resolves once the leader is dead). */
  stopping?: Promise<void>;
  /** What stop() returns for this run: the same promise on every call. */
  stopped?: Promise<void>;
}

/** Process groups of every unit that is up, for killAllProcessUnits(). */
const live = new Set<number>();

/** Where live groups are recorded for the next supervisor (group-record.ts); none by default. */
let recorder: { add(pgid: number, child: string): void; remove(pgid: number): void } | undefined;

/** Records every process group started from now on (and forgets it when it is gone). */
export function recordProcessGroups(r: typeof recorder): void {
  recorder = r;
}

/**
 * SIGKILLs the process group of every process unit still up. Synchronous so that the service can
 * call it from `process.on('exit')`; returns how many groups were signalled.
 */
export function killAllProcessUnits(): number {
  let n = 0;
  for (const pgid of live) if (signalGroup(pgid, 'SIGKILL')) n++;
  return n;
}

/** Sends `signal` to a process group; false if the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left (EPERM cannot happen for our own children)
  }
}

/** Kernel state letter of a pid from /proc (Linux), undefined if unknown or gone. */
function procState(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '', pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/**
 * True if `pid` is a process that still runs. A zombie is not alive: orphans are reparented to
 * PID 1, which on some boxes (containers, VMs with a minimal init) never reaps them, so a plain
 * `kill(pid, 0)` would report killed grandchildren alive forever.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const s = procState(pid);
  return s === undefined ? !hasProc() : s.state !== 'Z' && s.state !== 'X';
}

let procAvailable: boolean | undefined;
function hasProc(): boolean {
  if (procAvailable === undefined) {
    try {
      readdirSync('/proc/self');
      procAvailable = true;
    } catch {
      procAvailable = false;
    }
  }
  return procAvailable;
}

/** True while any non-zombie member of process group `pgid` exists. */
export function isGroupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (!hasProc()) return true;
  // The group still has members, but maybe only unreaped zombies: look for a live one.
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const s = procState(pid);
    if (s && s.pgrp === pgid && s.state !== 'Z' && s.state !== 'X') return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves `false` after `ms` unless `p` settles first (then `true`); the timer never outlives it. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the group is gone or `ms` passed; true if it is gone. */
async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isGroupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await sleep(GROUP_POLL_MS);
  }
  return true;
}

/** A shell's way of saying "ended by SIGTERM" (128 + 15). */
const SHELL_SIGTERM_CODE = 143;

/**
 * Creates a unit for a worker whose backend is `process`. The child gets a minimal base
 * environment plus the spec's `env` and `pass_env` (child-env.ts), and `cwd` resolved against `ctx.baseDir`.
 */
export function createProcessUnit(worker: WorkerSpec, ctx: BackendContext): Unit {
  if (worker.backend.kind !== 'process') {
    throw new IllegalStateError(`createProcessUnit: child "${worker.id}" has backend "${worker.backend.kind}", not "process"`);
  }
  const spec: ProcessBackendSpec = worker.backend;
  const cwd = resolvePath(ctx.baseDir, spec.cwd ?? '.');
  // Shown in the API, events and logs: absolute paths cut to their last part (no server paths out).
  const commandText = spec.command.map((a) => (isAbsolute(a) ? basename(a) : a)).join(' ');
  const ring = createLogRing(spec.logLines);
  const listeners = new Set<(exit: ExitInfo) => void>();
  let run: Run | undefined;
  /** Set while a spawn is in flight, so a stop() arriving then stops what it launches. */
  let starting: Promise<void> | undefined;
  let lastStartedAt: number | undefined;
  let lastPid: number | undefined;

  const report = (exit: ProcessExitInfo) => {
    for (const l of [...listeners]) {
      try {
        l(exit);
      } catch {
        // A listener's bug must not stop the others from learning of the exit.
      }
    }
  };

  /** Everything that happens after the leader exits, for one run. */
  const finish = async (r: Run): Promise<void> => {
    const { code, signal } = await r.leaderExit;
    // Whether the exit was asked for is decided by what had happened when the leader died: a stop()
    // arriving just after a crash does not turn the crash into a clean stop.
    const asked = r.stopRequested;
    if (!asked) {
      // The leader died by itself: what is left of the group belongs to a dead unit.
      if (signalGroup(r.pid, 'SIGKILL') && isGroupAlive(r.pid)) r.killed = true;
    } else {
      // Let the rest of the group finish its own graceful shutdown; stop() kills it when the grace runs out.
      await r.stopping;
    }
    if (!(await waitGroupGone(r.pid, KILL_WAIT_MS))) {
      ring.note(`process group ${r.pid} still has members ${KILL_WAIT_MS}ms after SIGKILL; reporting the exit anyway`);
    }
    await settlesWithin(r.closed, CLOSE_WAIT_MS);
    ring.flush();
    ring.note(`exited ${signal ? `by ${signal}` : `with code ${code}`}${asked ? ' (stop requested)' : ''}${r.killed ? ', group killed' : ''}`);
    live.delete(r.pid);
    recorder?.remove(r.pid);
    const exit: ProcessExitInfo = {
      code,
      signal,
      // A stop we asked for is normal if the child ended on our SIGTERM within the grace; brutal_kill
      // is asked-for killing, so normal too. Killed after ignoring the grace is not normal.
      normal: asked
        ? r.brutal || (!r.killed && (code === 0 || signal === 'SIGTERM' || code === SHELL_SIGTERM_CODE))
        : code === 0 && signal === null,
      stopRequested: asked,
      killed: r.killed,
    };
    run = undefined;
    report(exit);
  };

  const doStop = async (r: Run, shutdown: Shutdown): Promise<void> => {
    r.stopRequested = true;
    if (shutdown.kind === 'brutal_kill') {
      r.brutal = true;
      r.killed = true;
      ring.note('stop: SIGKILL (brutal_kill)');
      signalGroup(r.pid, 'SIGKILL');
      await r.leaderExit;
      return;
    }
    ring.note(`stop: SIGTERM, grace ${shutdown.graceMs}ms`);
    signalGroup(r.pid, 'SIGTERM');
    // A frozen (SIGSTOPped) member would keep SIGTERM pending forever: wake it so it can act on it.
    signalGroup(r.pid, 'SIGCONT');
    const deadline = Date.now() + shutdown.graceMs;
    const leaderGone = await settlesWithin(r.leaderExit, shutdown.graceMs);
    // The leader may exit before the rest of its group; the grace covers the whole group.
    const groupGone = leaderGone && (await waitGroupGone(r.pid, Math.max(0, deadline - Date.now())));
    if (!groupGone) {
      r.killed = true;
      ring.note(`stop: grace of ${shutdown.graceMs}ms over, SIGKILL`);
      signalGroup(r.pid, 'SIGKILL');
      await r.leaderExit;
    }
  };

  const unit: Unit = {
    start() {
      if (run) return Promise.reject(new IllegalStateError(`child "${worker.id}": start() while pid ${run.pid} is still up`));
      const [file, ...args] = spec.command;
      if (!file) {
        return Promise.reject(new EdgevisorError(codes.START_FAILED, `child "${worker.id}": process.command is empty`));
      }
      const p = new Promise<void>((resolveStart, rejectStart) => {
        const startFailed = (err: unknown) => {
          const code = (err as NodeJS.ErrnoException)?.code;
          ring.note(`spawn failed: ${String((err as Error)?.message ?? err)}`);
          return new EdgevisorError(
            codes.START_FAILED,
            `child "${worker.id}": cannot start command "${commandText}" in directory ${basename(cwd)}` +
              (code === 'ENOENT' ? ': command or working directory not found' : code ? `: ${code}` : ''),
            { cause: err },
          );
        };
        let child: ChildProcess;
        try {
          // Only what the spec gives, over a minimal base: never the supervisor's tokens.
          // ctx.extraEnv last: the runtime's NOTIFY_SOCKET is the one the child must use.
          const env = { ...childEnv(spec.env, spec.passEnv), ...ctx.extraEnv };
          assertCommandExists(file, cwd, env['PATH']);
          // Under the parent watch (parent-watch.ts): the group dies with the supervisor.
          // ctx.pidEnv (WATCHDOG_PID): the wrapper's pid, which is the command's once it execs.
          const watched = watchedCommand([file, ...args], { pidEnv: ctx.pidEnv });
          child = spawn(watched.file, watched.args, {
            cwd,
            env,
            detached: true, // own process group, so signals to -pid reach grandchildren
            // fd 3: the pipe the watcher reads; EOF there means the supervisor is gone.
            stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
          });
        } catch (err) {
          rejectStart(startFailed(err));
          return;
        }
        const onSpawnError = (err: Error) => {
          child.removeListener('spawn', onSpawned);
          rejectStart(startFailed(err));
        };
        const onSpawned = () => {
          child.removeListener('error', onSpawnError);
          // Later 'error' events (a failed kill) must not crash the supervisor.
          child.on('error', (err) => ring.note(`process error: ${err.message}`));
          const pid = child.pid as number;
          const leaderExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
            child.once('exit', (code, signal) => res({ code, signal })),
          );
          const closed = new Promise<void>((res) => child.once('close', () => res()));
          const r: Run = { child, pid, startedAt: Date.now(), stopRequested: false, killed: false, brutal: false, leaderExit, closed, done: Promise.resolve() };
          child.stdout?.on('data', (c: Buffer) => ring.write('stdout', c));
          child.stderr?.on('data', (c: Buffer) => ring.write('stderr', c));
          live.add(pid);
          recorder?.add(pid, worker.id);
          run = r;
          lastPid = pid;
          lastStartedAt = r.startedAt;
          ring.note(`started pid ${pid}: ${commandText}`);
          r.done = finish(r).catch((err) => ring.note(`internal error while reporting the exit: ${String(err)}`));
          resolveStart();
        };
        child.once('error', onSpawnError);
        child.once('spawn', onSpawned);
      });
      starting = p;
      const clear = () => {
        if (starting === p) starting = undefined;
      };
      p.then(clear, clear);
      return p;
    },

    stop(shutdown) {
      const r = run;
      if (!r) {
        return starting ? starting.then(() => unit.stop(shutdown), () => undefined) : Promise.resolve();
      }
      if (!r.stopped) {
        r.stopping = doStop(r, shutdown);
        // stop() resolves only after the exit has been reported, so the caller sees a finished unit.
        r.stopped = r.stopping.then(() => r.done);
      }
      return r.stopped;
    },

    onExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    logs(n) {
      return ring.lines(n);
    },

    info(): UnitInfo {
      return { pid: run?.pid ?? lastPid, startedAt: run?.startedAt ?? lastStartedAt, running: run !== undefined, command: commandText };
    },

    async close() {
      listeners.clear();
    },
  };
  return unit;
}
