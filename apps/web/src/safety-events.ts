/**
 * Safety events for the dashboard, read from the inference app, which stores them durably (SQLite,
 * WAL, on its data volume) and serves them by cursor: GET /events?since=ID, ?latest=N. The web app
 * keeps no copy. So nothing is lost while the web app restarts: a browser's EventSource reconnects
 * with Last-Event-ID (the last event id it saw) and gets every event after it, in order.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SafetyEvent } from '../../inference/src/events/store.ts';

/** A page of events as the inference app serves it (its type only: no code of that app runs here). */
export interface EventsPage { events: SafetyEvent[]; last: number }

/** The inference app could not be asked (down, restarting, or answered with an error). */
export class UpstreamError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface InferenceClient {
  readonly url: string;
  /** Events with id > since (oldest first, at most `limit`), or the newest `latest`. */
  events(q: { since: number; limit?: number } | { latest: number }): Promise<EventsPage>;
  /** An event's snapshot JPEG; undefined if the event or its file is gone. */
  snapshot(id: number): Promise<Buffer | undefined>;
}

export function inferenceClient(url: string, timeoutMs: number): InferenceClient {
  const base = url.replace(/\/+$/, '');
  const get = async (path: string): Promise<Response> => {
    try {
      return await fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
      throw new UpstreamError(`inference app at ${base} (INFERENCE_URL): ${why}`);
    }
  };
  return {
    url: base,
    async events(q) {
      const query = 'latest' in q ? `latest=${q.latest}` : `since=${q.since}&limit=${q.limit ?? 500}`;
      const res = await get(`/events?${query}`);
      if (res.status !== 200) throw new UpstreamError(`inference app at ${base}: GET /events answered ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`, res.status);
      return (await res.json()) as EventsPage;
    },
    async snapshot(id) {
      const res = await get(`/events/${id}/snapshot.jpg`);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new UpstreamError(`inference app at ${base}: snapshot of event ${id} answered ${res.status}`, res.status);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

export interface StreamOptions {
  client: InferenceClient;
  /** Replay events with id > after; null: the newest `initial` events, then live. */
  after: number | null;
  /** Events replayed when there is no cursor. */
  initial: number;
  /** How often the inference app is asked for new events. */
  pollMs: number;
  heartbeatMs: number;
  /** A client this far behind is dropped; it reconnects with Last-Event-ID and loses nothing. */
  maxQueuedBytes?: number;
  /** Called on every failed poll (the app counts them in web_upstream_errors_total). */
  onUpstreamError?: () => void;
}

/**
 * Streams safety events as SSE (`id:` = event id, `event: safety`), polling the inference app.
 * While the inference app cannot be reached, one `event: upstream` frame says so (and another when
 * it is back); the stream stays open and polling goes on with backoff up to 5 s.
 *
 * INVARIANTS: `cursor` only grows, and an event is written only if its id is above it, so the
 * client sees ids strictly increasing, with no duplicate, across polls and reconnects. One poll at
 * a time; everything stops once when the client goes away or `end()` is called.
 */
export function streamSafetyEvents(req: FastifyRequest, reply: FastifyReply, o: StreamOptions): { end(): void } {
  const res = reply.raw;
  const maxQueued = o.maxQueuedBytes ?? 1024 * 1024;
  reply.hijack();
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let closed = false;
  let cursor = o.after;
  let upstreamDown = false;
  let timer: NodeJS.Timeout | undefined;
  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > maxQueued) {
      req.log.warn({ queued: res.writableLength }, 'safety-event stream client too slow; dropping it (it resumes with Last-Event-ID)');
      stop();
      res.destroy();
    }
  };
  const heartbeat = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), o.heartbeatMs);
  heartbeat.unref();
  function stop() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(timer);
  }
  res.on('close', stop);
  req.raw.on('close', stop);
  write('retry: 2000\n\n');

  const poll = async (delay: number) => {
    let next = o.pollMs;
    try {
      // Page through everything newer than the cursor before waiting again.
      for (;;) {
        const page = cursor === null ? await o.client.events({ latest: o.initial }) : await o.client.events({ since: cursor, limit: 500 });
        if (closed) return;
        if (upstreamDown) {
          upstreamDown = false;
          write(`event: upstream\ndata: ${JSON.stringify({ ok: true })}\n\n`);
        }
        for (const ev of page.events) {
          if (cursor !== null && ev.id <= cursor) continue;
          cursor = ev.id;
          write(`id: ${ev.id}\nevent: safety\ndata: ${JSON.stringify(ev)}\n\n`);
        }
        cursor ??= page.last;
        if (page.events.length < 500) break;
      }
    } catch (err) {
      if (closed) return;
      o.onUpstreamError?.();
      if (!upstreamDown) {
        upstreamDown = true;
        write(`event: upstream\ndata: ${JSON.stringify({ ok: false, error: (err as Error).message })}\n\n`);
      }
      next = Math.min(Math.max(delay * 2, o.pollMs), 5000);
    }
    if (!closed) timer = setTimeout(() => void poll(next), next);
  };
  void poll(o.pollMs);
  return {
    end() {
      stop();
      res.end();
    },
  };
}
