import type { ContainerEvent, DockerClient, EventStream } from './client.ts';
import { LABEL_PROJECT, LABEL_SERVICE, isOwned } from './ownership.ts';

/** The container events a unit reacts to. */
export const WATCHED_ACTIONS = new Set(['die', 'oom', 'start', 'health_status', 'destroy']);

export interface EventWatcherOptions {
  project: string;
  /** Reconnect delay: starts at initialMs, doubles per failed attempt, capped at maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** Diagnostic lines (connects, drops). */
  log?: (line: string) => void;
}

/**
 * One events subscription per supervisor, fanned out to units by compose service.
 *
 * INVARIANTS:
 * - At most one stream is open at a time; after it ends or fails, a new one is opened after a
 *   backoff, until close().
 * - After every successful (re)connect, every resync hook runs: events emitted while we were
 *   disconnected are lost, so units must re-read their container's state (a missed exit is then
 *   reported once, by the unit).
 * - Listeners only get events of containers owned by the project (one-offs filtered out).
 */
export interface EventWatcher {
  /** True while a stream is open. */
  readonly connected: boolean;
  /** Successful connections so far (1 after the first). */
  readonly connections: number;
  /** Resolves true once connected, false if not connected within `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  /** Events for one compose service. Returns an unsubscribe function. */
  subscribe(service: string, listener: (e: ContainerEvent) => void): () => void;
  /** Runs after each (re)connect. Returns an unsubscribe function. */
  onResync(hook: () => void): () => void;
  close(): void;
}

export function createEventWatcher(client: DockerClient, opts: EventWatcherOptions): EventWatcher {
  const backoff = opts.backoff ?? { initialMs: 100, maxMs: 5_000 };
  const log = opts.log ?? (() => {});
  const listeners = new Map<string, Set<(e: ContainerEvent) => void>>();
  const hooks = new Set<() => void>();
  const readyWaiters = new Set<() => void>();
  let stream: EventStream | null = null;
  let connected = false;
  let connections = 0;
  let closed = false;
  let wake: (() => void) | null = null;

  const dispatch = (e: ContainerEvent) => {
    if (!WATCHED_ACTIONS.has(e.action) || !isOwned(e, opts.project)) return;
    const set = listeners.get(e.labels[LABEL_SERVICE] ?? '');
    if (set) for (const l of [...set]) l(e);
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const loop = async () => {
    let delay = backoff.initialMs;
    while (!closed) {
      try {
        stream = await client.events({ [LABEL_PROJECT]: opts.project }, dispatch);
      } catch (err) {
        log(`events: connect failed (${(err as Error).message}); retry in ${delay}ms`);
        await pause(delay);
        delay = Math.min(delay * 2, backoff.maxMs);
        continue;
      }
      if (closed) {
        stream.close();
        break;
      }
      connected = true;
      connections++;
      delay = backoff.initialMs;
      log(connections === 1 ? 'events: connected' : `events: reconnected (connection ${connections})`);
      for (const w of [...readyWaiters]) w();
      for (const h of [...hooks]) {
        try {
          h();
        } catch (err) {
          log(`events: resync hook failed: ${(err as Error).message}`);
        }
      }
      const err = await stream.done;
      connected = false;
      stream = null;
      if (closed) break;
      log(`events: stream ended${err ? ` (${err.message})` : ''}; reconnect in ${delay}ms`);
      await pause(delay);
    }
  };
  void loop();

  return {
    get connected() {
      return connected;
    },
    get connections() {
      return connections;
    },
    ready(timeoutMs) {
      if (connected) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(t);
          readyWaiters.delete(onReady);
          resolve(ok);
        };
        const onReady = () => done(true);
        const t = setTimeout(() => done(false), timeoutMs);
        readyWaiters.add(onReady);
      });
    },
    subscribe(service, listener) {
      let set = listeners.get(service);
      if (!set) listeners.set(service, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
    onResync(hook) {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    close() {
      closed = true;
      stream?.close();
      wake?.();
    },
  };
}
