import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TreeEvent } from '../core/events.ts';
import type { EventStore } from '../store/types.ts';
import type { Tree } from '../runtime/types.ts';

export interface SseOptions {
  tree: Pick<Tree, 'onEvent'>;
  store: Pick<EventStore, 'since' | 'lastSeq'>;
  /** Replay events with seq > after; null = live only (from now). */
  after: number | null;
  /** Comment line to keep proxies and idle timeouts from closing the stream. */
  heartbeatMs: number;
  /**
   * A client that cannot keep up is dropped once this many bytes are queued; it reconnects with
   * Last-Event-ID and loses nothing, while a stuck reader cannot grow our memory without bound.
   */
  maxQueuedBytes?: number;
}

const replayPage = 1000;

/** One SSE frame. `data` is one line of JSON (JSON never contains a raw newline). */
export function formatSse(ev: TreeEvent): string {
  return `id: ${ev.seq}\nevent: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
}

/**
 * Streams events: replay from the store, then live, with no gap and no duplicate.
 *
 * INVARIANTS:
 * - We subscribe to live events BEFORE reading the store. Every event is persisted before it is
 *   broadcast, so any event is either already in the store when we read it, or arrives through
 *   the subscription (possibly both). Live events are buffered during the replay, then flushed.
 * - The replay is paged (1000 events a read) with backpressure: a reader that keeps reading gets
 *   all of it, however large; only a client that stops reading during the live phase is dropped.
 * - `lastSent` only grows; a frame is written only if its seq is greater. That de-duplicates the
 *   overlap between replay and buffer, and keeps the order strictly increasing.
 * - Everything is torn down exactly once (listener, timer) when the client goes away, the
 *   server closes, or the client is dropped for being too slow.
 */
/** Returns a handle that ends the stream (used when the server shuts down). */
export function streamEvents(req: FastifyRequest, reply: FastifyReply, opts: SseOptions): { end(): void; readonly closed: boolean } {
  const res = reply.raw;
  const maxQueued = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });

  let closed = false;
  let replaying = true;
  let lastSent = 0;
  const buffered: TreeEvent[] = [];

  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > maxQueued) {
      req.log.warn({ queued: res.writableLength }, 'SSE client too slow; dropping it (it can resume with Last-Event-ID)');
      cleanup();
      res.destroy();
    }
  };
  const send = (ev: TreeEvent) => {
    if (ev.seq <= lastSent) return;
    lastSent = ev.seq;
    write(formatSse(ev));
  };

  const unsubscribe = opts.tree.onEvent((ev) => {
    if (closed) return;
    if (replaying) {
      // Bounded: the replay reads every stored event anyway; only the last moments matter.
      if (buffered.length >= replayPage) buffered.shift();
      buffered.push(ev);
    } else send(ev);
  });
  const heartbeat = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), opts.heartbeatMs);
  heartbeat.unref();

  function cleanup() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
  }
  res.on('close', cleanup);
  req.raw.on('close', cleanup);

  // Tells EventSource how long to wait before reconnecting, then opens the stream at once so the
  // client knows it is connected even when there is nothing to replay.
  write('retry: 2000\n\n');

  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });

  // Replay in pages: each page is one store read and one write; when the socket's buffer is full
  // we wait for 'drain' instead of queueing more (a 100k-event replay is ~30 MB), and we yield
  // between pages so the supervisor's loop is never held for more than one page.
  const replay = async (): Promise<void> => {
    for (;;) {
      if (closed) return;
      const page = opts.store.since(lastSent, replayPage);
      let chunk = '';
      for (const ev of page) {
        if (ev.seq <= lastSent) continue;
        lastSent = ev.seq;
        chunk += formatSse(ev);
      }
      if (chunk && !res.write(chunk)) await drained();
      if (page.length < replayPage) break;
      await new Promise((r) => setImmediate(r));
    }
    if (closed) return;
    // Same tick as the last store read: no event can fall between the replay and the live feed.
    replaying = false;
    for (const ev of buffered.splice(0)) send(ev);
  };

  if (opts.after === null) {
    lastSent = opts.store.lastSeq();
    replaying = false;
  } else {
    lastSent = opts.after;
    replay().catch((err: unknown) => {
      req.log.warn({ code: (err as { code?: string })?.code }, 'SSE replay failed; the client can resume with Last-Event-ID');
      cleanup();
      res.destroy();
    });
  }

  return {
    end() {
      cleanup();
      res.end();
    },
    get closed() {
      return closed;
    },
  };
}
