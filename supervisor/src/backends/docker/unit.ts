import { EdgevisorError, codes } from '../../errors.ts';
import type { Shutdown, WorkerSpec } from '../../spec/types.ts';
import type { ExecResult, ExitInfo, Unit, UnitFactory, UnitInfo } from '../types.ts';
import { createDockerClient, dockerStatus, type ContainerEvent, type ContainerState, type DockerClient } from './client.ts';
import { createEventWatcher, type EventWatcher } from './events.ts';
import { LABEL_PROJECT, LABEL_SERVICE, assertOwned, pickServiceContainer } from './ownership.ts';
import { checkContainer, NOTIFY_SOCKET_NAME, notifySenderFor, type ContainerNotify, type NotifySender, type OwnContainer } from './notify.ts';
import { ownContainer, resolveProject } from './project.ts';
import { join } from 'node:path';

export interface DockerBackendOptions {
  /** Compose project; when absent, read from the labels of the container we run in. */
  project?: string;
  /** Default /var/run/docker.sock. */
  socketPath?: string;
  /** Per Docker call (default 10 s). `docker stop` gets the child's grace on top. */
  timeoutMs?: number;
  /** Use this client instead of one on `socketPath` (tests, or to share one). */
  client?: DockerClient;
  /** Events stream reconnect backoff (default 100 ms doubling to 5 s). */
  reconnect?: { initialMs: number; maxMs: number };
  /** Diagnostic lines (events stream drops and reconnects). */
  log?: (line: string) => void;
  /** sd_notify for containers (docker.notify_dir): each service's socket is `<notifyDir>/<service>/notify.sock`. */
  notifyDir?: string;
}

/** A UnitFactory for `backend.kind === 'docker'` children, plus what the supervisor shares. */
export interface DockerBackend extends UnitFactory {
  readonly client: DockerClient;
  /** The compose project; rejects with a clear message when it cannot be known. */
  project(): Promise<string>;
  /** The shared events subscription (created on first use). */
  watcher(): Promise<EventWatcher>;
  /** Stops the events subscription. Containers are left as they are. */
  close(): void;
}

const LOG_LINES = 200;
/** How long stop() waits for the `die` event before reading the state itself. */
const EXIT_EVENT_WAIT_MS = 2_000;

/** Creates the Docker backend. Nothing touches the engine until a unit is started or adopted. */
export function createDockerBackend(opts: DockerBackendOptions = {}): DockerBackend {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const client = opts.client ?? createDockerClient({ socketPath: opts.socketPath, timeoutMs });
  let projectP: Promise<string> | undefined;
  let watcherP: Promise<EventWatcher> | undefined;
  let closed = false;
  const project = () => (projectP ??= resolveProject(client, opts.project));
  // A failed lookup must not stick: the engine may answer on the next try.
  const projectOnce = () => project().catch((err) => ((projectP = undefined), Promise.reject(err)));
  const watcher = () =>
    (watcherP ??= projectOnce().then((p) => {
      const w = createEventWatcher(client, { project: p, backoff: opts.reconnect, log: opts.log });
      if (closed) w.close();
      return w;
    }));

  let ownP: ReturnType<OwnContainer> | undefined;
  const own: OwnContainer = () => (ownP ??= ownContainer(client).catch((err) => ((ownP = undefined), Promise.reject(err))));
  const notifyDirOf = (worker: WorkerSpec): string => {
    if (worker.backend.kind !== 'docker' || !opts.notifyDir) {
      throw new EdgevisorError(codes.SPEC_INVALID, `child ${worker.id}: a docker child's sd_notify needs docker.notify_dir in the tree file (the directory holding one folder per service, each mounted into its container)`);
    }
    return join(opts.notifyDir, worker.backend.service);
  };

  const factory = ((worker: WorkerSpec) => {
    if (worker.backend.kind !== 'docker') {
      throw new EdgevisorError(codes.SPEC_INVALID, `child ${worker.id}: the docker backend got a ${worker.backend.kind} child`);
    }
    const notify = worker.notify ? { watchdogMs: worker.notify.watchdogMs, dir: notifyDirOf(worker) } : undefined;
    return createDockerUnit(worker.id, worker.backend.service, { client, timeoutMs, project: projectOnce, watcher, ownContainer: own, ...(notify ? { notify } : {}) });
  }) as unknown as DockerBackend;
  Object.defineProperties(factory, {
    notifySocket: {
      value: (worker: WorkerSpec) => ({ path: join(notifyDirOf(worker), NOTIFY_SOCKET_NAME), label: `docker.notify_dir/${worker.backend.kind === 'docker' ? worker.backend.service : worker.id}` }),
    },
    client: { value: client },
    project: { value: projectOnce },
    watcher: { value: watcher },
    close: {
      value: () => {
        closed = true;
        void watcherP?.then((w) => w.close(), () => {});
      },
    },
  });
  return factory;
}

interface UnitDeps {
  client: DockerClient;
  timeoutMs: number;
  project: () => Promise<string>;
  watcher: () => Promise<EventWatcher>;
  ownContainer: OwnContainer;
  /** The child has sd_notify (spec.notify): each run's container is checked (notify.ts). */
  notify?: ContainerNotify;
}

/**
 * One compose service's container.
 *
 * INVARIANTS:
 * - `watching` is true from a successful start()/adopt() until the exit of that run is reported;
 *   reportExit() is the only place that clears it, so each run's exit is reported once, whichever
 *   source (die event, destroy event, resync after reconnect, stop()'s own check) sees it first.
 * - A `die` event older than the current run (a late event of the previous run) is ignored:
 *   events are compared with the run's StartedAt (or the start request time before it is known).
 * - An exit seen while start() is still in flight is delivered just after start() resolves.
 * - Every mutating call is preceded by assertOwned() on the container's labels.
 */
function createDockerUnit(id: string, service: string, deps: UnitDeps): Unit {
  const { client } = deps;
  const listeners = new Set<(exit: ExitInfo) => void>();
  const ring: string[] = [];
  let projectName: string | undefined;
  let container: { id: string; name: string; labels: Readonly<Record<string, string>> } | null = null;
  let watching = false;
  let runThreshold = 0;
  let runStartedAt: number | null = null;
  let restartCount = 0;
  let oomSeen = false;
  /** The current run is being stopped with brutal_kill: its SIGKILL was asked for, a clean end (as for processes). */
  let killAsked = false;
  let starting = false;
  let pendingExit: ExitInfo | null = null;
  let stopping: Promise<void> | null = null;
  let unsub: Array<() => void> = [];
  let attached: Promise<EventWatcher> | null = null;
  const exitWaiters = new Set<() => void>();
  /** sd_notify: who may feed the current run's watchdog (null: nobody, no run checked yet). */
  let sender: NotifySender | null = null;
  /** The container's environment and mounts against the tree (they exist before it starts); true when the mount boundary holds. */
  const checkNotify = (st: ContainerState) =>
    checkContainer(id, service, st, deps.notify!, { client, project: projectName!, ownContainer: deps.ownContainer });

  const note = (line: string) => {
    ring.push(`${new Date().toISOString()} ${line}`);
    if (ring.length > LOG_LINES) ring.shift();
  };

  const emit = (exit: ExitInfo) => {
    for (const l of [...listeners]) l(exit);
    for (const w of [...exitWaiters]) w();
  };

  const reportExit = (exit: ExitInfo, source: string) => {
    if (!watching) return;
    watching = false;
    if (killAsked && !exit.oom && exit.error === undefined) exit = { ...exit, normal: true };
    killAsked = false;
    note(`exit code=${exit.code}${exit.oom ? ' oom' : ''}${exit.error ? ` (${exit.error})` : ''} seen by ${source}`);
    if (starting) pendingExit = exit;
    else emit(exit);
  };

  const exitFromState = (st: ContainerState): ExitInfo => {
    const oom = st.oomKilled || oomSeen;
    return { code: st.exitCode, signal: null, normal: st.exitCode === 0 && !oom, oom };
  };

  /** Re-reads the container after the events stream reconnects: reports an exit we missed. */
  const resync = async () => {
    if (!watching || !container) return;
    const cid = container.id;
    try {
      const st = await client.inspect(cid);
      if (!watching || container?.id !== cid) return;
      const restarted = st.startedAt !== null && runStartedAt !== null && Math.abs(st.startedAt - runStartedAt) > 1;
      if (!st.running || restarted) reportExit(exitFromState(st), 'resync');
    } catch (err) {
      if (dockerStatus(err) === 404) reportExit({ code: null, signal: null, normal: false, error: 'container removed' }, 'resync');
      else note(`resync failed: ${(err as Error).message}`);
    }
  };

  const onEvent = (e: ContainerEvent) => {
    if (!container || e.id !== container.id) return;
    if (e.action === 'health_status') note(`health ${e.health}`);
    else if (e.action === 'oom') {
      oomSeen = true;
      note('oom');
    } else if (e.action === 'die') {
      if (e.time < runThreshold) return;
      const code = e.exitCode ?? null;
      reportExit({ code, signal: null, normal: code === 0 && !oomSeen, oom: oomSeen }, 'die event');
    } else if (e.action === 'destroy') {
      reportExit({ code: null, signal: null, normal: false, error: 'container removed' }, 'destroy event');
    } else if (e.action === 'start' && !watching) note('started outside edgevisor');
  };

  /** Project known and the events subscription up before we look at the container. */
  const attach = async () => {
    if (!attached) {
      attached = (async () => {
        projectName = await deps.project();
        const w = await deps.watcher();
        unsub.push(w.subscribe(service, onEvent), w.onResync(() => void resync()));
        return w;
      })();
      attached.catch(() => (attached = null));
    }
    const w = await attached;
    // Not connected yet: carry on (the engine may still answer calls); the first connect resyncs.
    await w.ready(deps.timeoutMs);
    return projectName!;
  };

  const find = async (project: string) => {
    const rows = await client.list({ [LABEL_PROJECT]: project, [LABEL_SERVICE]: service });
    const c = pickServiceContainer(rows, project, service);
    return c ? { id: c.id, name: c.names[0] ?? c.id.slice(0, 12), labels: c.labels } : null;
  };

  const owned = () => {
    if (!container || !projectName) throw new EdgevisorError(codes.DOCKER, `docker ${service}: no container known yet (start or adopt first)`);
    assertOwned(container, projectName, service);
    return container.id;
  };

  const waitExit = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (!watching) return resolve(true);
      const done = (ok: boolean) => {
        clearTimeout(t);
        exitWaiters.delete(onExit);
        resolve(ok);
      };
      const onExit = () => done(true);
      const t = setTimeout(() => done(false), ms);
      exitWaiters.add(onExit);
    });

  const doStop = async (shutdown: Shutdown) => {
    const cid = owned();
    try {
      // A paused (frozen) container cannot run a SIGTERM handler: its grace would only be waited out.
      const frozen = shutdown.kind === 'grace' && (await client.inspect(cid).then((st) => st.paused, () => false));
      killAsked = shutdown.kind === 'brutal_kill';
      if (shutdown.kind === 'brutal_kill' || frozen) await client.kill(cid, 'SIGKILL');
      else await client.stop(cid, Math.ceil(shutdown.graceMs / 1000));
    } catch (err) {
      note(`stop failed, killing: ${(err as Error).message}`);
      await client.kill(cid, 'SIGKILL').catch((e: Error) => note(`kill failed: ${e.message}`));
    }
    // The die event normally lands within milliseconds; if the stream is down, ask the engine.
    for (let attempt = 0; watching && attempt < 5; attempt++) {
      if (await waitExit(EXIT_EVENT_WAIT_MS)) return;
      await resync();
      if (!watching) return;
      await client.kill(cid, 'SIGKILL').catch((e: Error) => note(`kill failed: ${e.message}`));
    }
    if (watching) throw new EdgevisorError(codes.DOCKER, `docker stop ${container?.name ?? cid}: container still running after stop and kill`);
  };

  return {
    async start() {
      let project: string;
      try {
        project = await attach();
      } catch (err) {
        throw new EdgevisorError(codes.START_FAILED, `child ${id}: ${(err as Error).message}`, { cause: err });
      }
      const c = await find(project).catch((err: Error) => {
        throw new EdgevisorError(codes.START_FAILED, `child ${id}: ${err.message}`, { cause: err });
      });
      if (!c) {
        throw new EdgevisorError(codes.START_FAILED, `no container for service ${service} in project ${project}: run docker compose up --no-start`);
      }
      container = c;
      assertOwned(c, project, service);
      // sd_notify: a container set up for another tree's watchdog is not started (what to change is in the error).
      sender = null;
      const boundary = deps.notify
        ? await client.inspect(c.id).then(checkNotify).catch((err: Error) => {
            throw err instanceof EdgevisorError && err.code === codes.START_FAILED ? err : new EdgevisorError(codes.START_FAILED, `child ${id}: ${err.message}`, { cause: err });
          })
        : null;
      oomSeen = false;
      killAsked = false;
      pendingExit = null;
      runStartedAt = null;
      runThreshold = Date.now();
      watching = true;
      starting = true;
      try {
        await client.start(c.id);
        const st = await client.inspect(c.id);
        runStartedAt = st.startedAt;
        restartCount = st.restartCount;
        // Already running before our call (started by hand): its own StartedAt bounds its events.
        if (st.startedAt !== null) runThreshold = Math.min(runThreshold, st.startedAt);
        if (!st.running) reportExit(exitFromState(st), 'start');
        else if (boundary !== null) sender = notifySenderFor(st, boundary);
        note(`started ${c.name} (${c.id.slice(0, 12)})`);
      } catch (err) {
        watching = false;
        starting = false;
        pendingExit = null;
        throw new EdgevisorError(codes.START_FAILED, `child ${id}: ${(err as Error).message}`, { cause: err });
      }
      starting = false;
      if (pendingExit) {
        const exit = pendingExit;
        pendingExit = null;
        setImmediate(() => emit(exit));
      }
    },

    stop(shutdown) {
      if (!watching) return stopping ?? Promise.resolve();
      stopping ??= doStop(shutdown).finally(() => (stopping = null));
      return stopping;
    },

    onExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async adopt() {
      const project = await attach();
      const c = await find(project);
      if (!c) return 'absent';
      container = c;
      const st = await client.inspect(c.id);
      restartCount = st.restartCount;
      if (!st.running) return 'stopped';
      sender = null;
      if (deps.notify) {
        // A container whose sd_notify setup does not match the tree is not adopted: start() says why.
        const boundary = await checkNotify(st).catch(() => null);
        if (boundary === null) return 'stopped';
        sender = notifySenderFor(st, boundary);
      }
      oomSeen = false;
      runStartedAt = st.startedAt;
      runThreshold = st.startedAt ?? Date.now();
      watching = true;
      note(`adopted ${c.name} (${c.id.slice(0, 12)}), running since ${st.startedAt ? new Date(st.startedAt).toISOString() : '?'}`);
      return 'running';
    },

    async exec(command, timeoutMs, signal): Promise<ExecResult> {
      return client.exec(owned(), command, timeoutMs, signal);
    },

    async health(signal) {
      const cid = owned();
      const st = await Promise.race([
        client.inspect(cid),
        new Promise<never>((_, reject) => {
          if (signal.aborted) reject(new EdgevisorError(codes.DOCKER, `docker inspect ${cid}: aborted`));
          signal.addEventListener('abort', () => reject(new EdgevisorError(codes.DOCKER, `docker inspect ${cid}: aborted`)), { once: true });
        }),
      ]);
      return st.health;
    },

    logs(n = 50) {
      return ring.slice(-n);
    },

    // The container's own output (Docker keeps and rotates it); the backend's notes while there
    // is no container yet.
    async output(n, signal) {
      if (!container) return ring.slice(-n).map((l) => `edgevisor| ${l}`);
      return client.logs(container.id, n, signal);
    },

    notifySender(pid) {
      // Before the run is checked (start, adoption) a datagram cannot be judged: dropped, not refused.
      if (!watching || sender === null) return null;
      return sender.accept(pid);
    },

    info(): UnitInfo {
      return {
        service,
        ...(projectName ? { project: projectName } : {}),
        ...(container ? { containerId: container.id, container: container.name } : {}),
        ...(runStartedAt !== null && watching ? { startedAt: Math.floor(runStartedAt) } : {}),
        restartCount,
      };
    },

    async close() {
      for (const u of unsub) u();
      unsub = [];
      attached = null;
      listeners.clear();
      for (const w of [...exitWaiters]) w();
    },
  };
}

