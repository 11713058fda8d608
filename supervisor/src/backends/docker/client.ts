import { createRequire } from 'node:module';
import type Docker from 'dockerode';

// Loaded on first use: a supervisor without Docker children never pays for dockerode (and ssh2).
const loadDockerode = () => createRequire(import.meta.url)('dockerode') as typeof Docker;
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { EdgevisorError, codes } from '../../errors.ts';
import type { ExecResult } from '../types.ts';
import { containerLogLines } from './log-frames.ts';

/** The engine's view of one container, reduced to what the backend uses. */
export interface ContainerState {
  id: string;
  /** Name without the leading slash. */
  name: string;
  labels: Readonly<Record<string, string>>;
  /** True while the container runs (also when it is paused: frozen but alive). */
  running: boolean;
  paused: boolean;
  /** Docker's status word: created, running, paused, restarting, exited, dead. */
  status: string;
  exitCode: number;
  oomKilled: boolean;
  /** Unix ms with microsecond fraction (Docker reports ns); null when never started. */
  startedAt: number | null;
  finishedAt: number | null;
  /** Restarts done by the engine's own restart policy (not ours). */
  restartCount: number;
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
  /** Signal `docker stop` sends first (image/container StopSignal), default SIGTERM. */
  stopSignal: string;
  /** Host pid of the container's first process (0 when not running). */
  pid: number;
  /** Its sd_notify variables (only these two of its environment are read: the rest may hold secrets). */
  notifyEnv: { NOTIFY_SOCKET?: string; WATCHDOG_USEC?: string };
  /** What is mounted where: `key` is `volume:<name>` or `bind:<host path>`. */
  mounts: ReadonlyArray<{ destination: string; key: string }>;
}

/** One row of `docker ps`. */
export interface ContainerSummary {
  id: string;
  names: readonly string[];
  labels: Readonly<Record<string, string>>;
  state: string;
}

/** A container event as the stream delivers it. `time` is unix ms (from timeNano). */
export interface ContainerEvent {
  action: string;
  id: string;
  labels: Readonly<Record<string, string>>;
  time: number;
  /** For `die`. */
  exitCode?: number;
  /** For `health_status: <status>`. */
  health?: string;
}

/** A live events subscription. `done` settles (never rejects) when the stream ends or fails. */
export interface EventStream {
  readonly done: Promise<Error | null>;
  close(): void;
}

/**
 * The only Docker calls edgevisor makes. Every call has a timeout (the engine may hang) and fails
 * with EdgevisorError(DOCKER) "docker <op> <container>: <why>". Passed in, so the backend can be
 * pointed at another socket (the tests' cuttable proxy).
 */
export interface DockerClient {
  ping(): Promise<void>;
  /** Containers (running or not) carrying every one of `labels`. */
  list(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]>;
  /** Rejects with `statusCode` 404 in `cause` when the container does not exist. */
  inspect(id: string): Promise<ContainerState>;
  start(id: string): Promise<void>;
  /** `docker stop -t graceSec`: the call may take graceSec longer than the usual timeout. */
  stop(id: string, graceSec: number): Promise<void>;
  kill(id: string, signal?: string): Promise<void>;
  restart(id: string, graceSec: number): Promise<void>;
  exec(id: string, command: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<ExecResult>;
  /** `docker logs --tail n`: the container's last output lines, `stdout| ...` / `stderr| ...` (log-frames.ts). */
  logs(id: string, tail: number, signal?: AbortSignal): Promise<string[]>;
  /**
   * Subscribes to container events matching `labels`. Only connecting is bounded by the
   * timeout; the stream itself is long-lived.
   */
  events(labels: Readonly<Record<string, string>>, onEvent: (e: ContainerEvent) => void): Promise<EventStream>;
}

export interface DockerClientOptions {
  /** Default /var/run/docker.sock. */
  socketPath?: string;
  /** Per-call timeout in ms (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** The HTTP status the engine answered, when the failure was an engine answer. */
export function dockerStatus(err: unknown): number | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const s = (e as { statusCode?: unknown }).statusCode;
    if (typeof s === 'number') return s;
  }
  return undefined;
}

/** Docker reports times as RFC 3339 with nanoseconds; keep microseconds in a float of ms. */
export function parseDockerTime(s: string | undefined): number | null {
  if (!s || s.startsWith('0001-01-01')) return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(m[1] + m[3]) + Number(frac) / 1000;
}

function notifyEnvOf(env: readonly string[]): ContainerState['notifyEnv'] {
  const out: ContainerState['notifyEnv'] = {};
  for (const kv of env) {
    const eq = kv.indexOf('=');
    const k = kv.slice(0, eq);
    if (k === 'NOTIFY_SOCKET' || k === 'WATCHDOG_USEC') out[k] = kv.slice(eq + 1);
  }
  return out;
}

function toState(raw: Docker.ContainerInspectInfo): ContainerState {
  const st = raw.State;
  const h = (st as { Health?: { Status?: string } }).Health?.Status;
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    labels: raw.Config?.Labels ?? {},
    running: st.Running,
    paused: st.Paused,
    status: st.Status,
    exitCode: st.ExitCode,
    oomKilled: st.OOMKilled,
    startedAt: parseDockerTime(st.StartedAt),
    finishedAt: parseDockerTime(st.FinishedAt),
    restartCount: raw.RestartCount,
    health: h === 'healthy' || h === 'unhealthy' || h === 'starting' ? h : 'none',
    stopSignal: (raw.Config as { StopSignal?: string } | undefined)?.StopSignal || 'SIGTERM',
    pid: st.Pid ?? 0,
    notifyEnv: notifyEnvOf(raw.Config?.Env ?? []),
    mounts: (raw.Mounts ?? []).map((m) => ({ destination: m.Destination, key: m.Type === 'volume' ? `volume:${m.Name}` : `${m.Type}:${m.Source}` })),
  };
}

/**
 * Runs `fn` with an AbortSignal that fires after `ms` (or when `outer` fires), and also races a
 * timer: an engine that accepted the connection and then hangs must not hang us.
 */
async function bounded<T>(op: string, target: string, ms: number, fn: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(new Error(`timed out after ${ms}ms`));
      reject(new Error(`timed out after ${ms}ms`));
    }, ms);
    if (outer?.aborted) onOuter();
    ac.signal.addEventListener('abort', () => reject(ac.signal.reason instanceof Error ? ac.signal.reason : new Error('aborted')), { once: true });
  });
  try {
    return await Promise.race([fn(ac.signal), timeout]);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/\s+$/, '') : String(err);
    throw new EdgevisorError(codes.DOCKER, `docker ${op} ${target}: ${why}`, { cause: err });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/** Creates a client over dockerode on a unix socket. */
export function createDockerClient(opts: DockerClientOptions = {}): DockerClient {
  const socketPath = opts.socketPath ?? DEFAULT_SOCKET;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const DockerCtor = loadDockerode();
  const docker = new DockerCtor({ socketPath });
  const c = (id: string) => docker.getContainer(id);
  // Already running / already stopped are successes for our purposes (idempotent actions).
  const tolerate304 = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (dockerStatus(err) !== 304) throw err;
    }
  };

  return {
    ping: () => bounded('ping', socketPath, timeoutMs, (abortSignal) => (docker.ping as (o: { abortSignal: AbortSignal }) => Promise<unknown>)({ abortSignal }).then(() => undefined)),

    list: (labels) =>
      bounded('list', Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','), timeoutMs, async (abortSignal) => {
        const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
        const rows = await docker.listContainers({ all: true, filters, abortSignal });
        return rows.map((r) => ({ id: r.Id, names: r.Names.map((n) => n.replace(/^\//, '')), labels: r.Labels ?? {}, state: r.State }));
      }),

    inspect: (id) => bounded('inspect', id, timeoutMs, async (abortSignal) => toState(await c(id).inspect({ abortSignal }))),

    start: (id) => bounded('start', id, timeoutMs, (abortSignal) => tolerate304(c(id).start({ abortSignal }))),

    stop: (id, graceSec) =>
      bounded('stop', id, timeoutMs + graceSec * 1000, (abortSignal) => tolerate304(c(id).stop({ t: graceSec, abortSignal }))),

    kill: (id, signal = 'SIGKILL') =>
      bounded('kill', id, timeoutMs, async (abortSignal) => {
        try {
          await c(id).kill({ signal, abortSignal });
        } catch (err) {
          // 409: not running. The goal (container down) already holds.
          if (dockerStatus(err) !== 409) throw err;
        }
      }),

    restart: (id, graceSec) =>
      bounded('restart', id, timeoutMs + graceSec * 1000, (abortSignal) => c(id).restart({ t: graceSec, abortSignal }).then(() => undefined)),

    exec: (id, command, execTimeoutMs, outer) =>
      bounded(
        `exec ${JSON.stringify(command)}`,
        id,
        execTimeoutMs,
        async (abortSignal) => {
          const ex = await c(id).exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true, abortSignal });
          const stream = (await ex.start({ hijack: true, stdin: false, abortSignal })) as Readable;
          const out: Buffer[] = [];
          const errs: Buffer[] = [];
          const so = new PassThrough();
          const se = new PassThrough();
          so.on('data', (b: Buffer) => out.push(b));
          se.on('data', (b: Buffer) => errs.push(b));
          docker.modem.demuxStream(stream, so, se);
          const onAbort = () => stream.destroy();
          abortSignal.addEventListener('abort', onAbort, { once: true });
          try {
            await new Promise<void>((resolve, reject) => {
              stream.on('end', resolve);
              stream.on('close', resolve);
              stream.on('error', reject);
            });
          } finally {
            abortSignal.removeEventListener('abort', onAbort);
          }
          const info = await ex.inspect({ abortSignal });
          return { code: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8') };
        },
        outer,
      ),

    logs: (id, tail, outer) =>
      bounded('logs', id, timeoutMs, async (abortSignal) => {
        const buf = (await c(id).logs({ stdout: true, stderr: true, follow: false, tail, abortSignal } as never)) as unknown as Buffer;
        return containerLogLines(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
      }, outer),

    events: (labels, onEvent) =>
      bounded('events', socketPath, timeoutMs, async (abortSignal) => {
        const filters = { type: ['container'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
        // The connect is bounded by `bounded`; the stream must outlive it, so it gets its own controller.
        const streamAc = new AbortController();
        abortSignal.addEventListener('abort', () => streamAc.abort(), { once: true });
        const stream = (await docker.getEvents({ filters, abortSignal: streamAc.signal } as Docker.GetEventsOptions)) as unknown as Readable;
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) {
              const e = parseEvent(line);
              if (e) onEvent(e);
            }
          }
        });
        const done = new Promise<Error | null>((resolve) => {
          stream.once('end', () => resolve(null));
          stream.once('close', () => resolve(null));
          stream.once('error', (err: Error) => resolve(err));
        });
        return {
          done,
          close: () => {
            streamAc.abort();
            stream.destroy();
          },
        };
      }),
  };
}

/** Parses one JSON line of the events stream; null for lines we do not understand. */
export function parseEvent(line: string): ContainerEvent | null {
  let raw: { Type?: string; Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; time?: number; timeNano?: number };
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  if (raw.Type && raw.Type !== 'container') return null;
  const actionFull = raw.Action ?? raw.status ?? '';
  const attrs = raw.Actor?.Attributes ?? {};
  const [action, detail] = actionFull.split(/:\s*/, 2) as [string, string | undefined];
  const id = raw.Actor?.ID ?? raw.id ?? '';
  if (!action || !id) return null;
  const e: ContainerEvent = {
    action,
    id,
    labels: attrs,
    time: raw.timeNano ? raw.timeNano / 1e6 : (raw.time ?? 0) * 1000,
  };
  if (action === 'die' && attrs.exitCode !== undefined) e.exitCode = Number(attrs.exitCode);
  if (action === 'health_status' && detail) e.health = detail;
  return e;
}
