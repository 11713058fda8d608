/**
 * The dashboard's one SSE stream: safety events (`event: safety`), supervisor events (`event:
 * supervisor`), pins (`event: pin`) and the 1 Hz stats frame (`event: stats`), all fed by the
 * shared hub. Nothing here polls an upstream for live data; only a client resuming from further
 * back than the hub's tail pages that gap from the upstream itself, once.
 *
 * The event id is composite, `<safety id>-<supervisor seq>`: the last entry of each log this client
 * has been sent. EventSource sends it back as Last-Event-ID on reconnect, so both logs resume
 * exactly. Frames that are in no log (stats, pins) carry no id, which leaves the browser's last id
 * as it was.
 *
 * INVARIANTS: per log, a client is either catching up (its live entries are ignored, they are in
 * the hub's tail and are sent when catch-up reaches it) or live; `cursor` only grows and an entry
 * is written only if its key is above it, so each log arrives in order, with no gap and no repeat.
 * A client that stays more than `maxQueuedBytes` behind for 5 s (or falls 16 times that behind)
 * is dropped; it resumes by Last-Event-ID.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TreeEvent } from 'edgevisor';
import type { SafetyEvent } from '../../inference/src/events/store.ts';
import { toWebEvent, type Hub, type HubMessage, type WebSafetyEvent } from './hub.ts';
import type { TailLog } from './event-log.ts';
import type { UpstreamClient } from './upstream.ts';

/** A parsed Last-Event-ID: the cursor of each log (null: start from the newest). */
export interface Cursors { safety: number | null; supervisor: number | null }

/** `123-456`, `123` (safety only, the older id) or absent; anything else is a client mistake. */
export function parseCursor(raw: string | undefined): Cursors | { error: string } {
  if (raw === undefined || raw.trim() === '') return { safety: null, supervisor: null };
  const m = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(raw.trim());
  if (!m) return { error: `Last-Event-ID: expected "<safety id>-<supervisor seq>" (decimal integers of at most 15 digits), got ${JSON.stringify(raw.slice(0, 40))}${raw.length > 40 ? '…' : ''}` };
  return { safety: Number(m[1]), supervisor: m[2] === undefined ? null : Number(m[2]) };
}

export interface StreamDeps {
  hub: Hub;
  inference: UpstreamClient;
  supervisor?: UpstreamClient;
  heartbeatMs: number;
  maxQueuedBytes?: number;
  /** Newest safety / supervisor entries a client without a cursor starts with. */
  initialSafety?: number;
  initialSupervisor?: number;
  /** Which frames this stream carries (the legacy /api/safety-events/stream: safety only, plain ids). */
  only?: 'safety';
  onDrop?: () => void;
}

export function openDashboardStream(req: FastifyRequest, reply: FastifyReply, cursors: Cursors, d: StreamDeps): { end(): void } {
  const res = reply.raw;
  const maxQueued = d.maxQueuedBytes ?? 1024 * 1024;
  reply.hijack();
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let closed = false;
  const state = {
    safety: { cursor: cursors.safety, live: false },
    supervisor: { cursor: cursors.supervisor, live: false },
  };
  const id = () => (d.only === 'safety' ? String(state.safety.cursor ?? 0) : `${state.safety.cursor ?? 0}-${state.supervisor.cursor ?? 0}`);
  // A burst (a catch-up page, many events at once) may queue more than the limit for a moment; a
  // client is dropped when it stays over the limit for 5 s, or at once past 16 times the limit
  // (memory stays bounded whatever a stuck reader does).
  let overTimer: NodeJS.Timeout | undefined;
  const drop = () => {
    if (closed) return;
    req.log.warn({ queued: res.writableLength }, 'dashboard stream client too slow; dropping it (it resumes with Last-Event-ID)');
    d.onDrop?.();
    stop();
    res.destroy();
  };
  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength <= maxQueued) return;
    if (res.writableLength > maxQueued * 16) return drop();
    if (overTimer) return;
    overTimer = setTimeout(() => { overTimer = undefined; if (res.writableLength > maxQueued) drop(); }, 5000);
    res.once('drain', () => { clearTimeout(overTimer); overTimer = undefined; });
  };
  const sendSafety = (e: WebSafetyEvent) => {
    const s = state.safety;
    if (s.cursor !== null && e.id <= s.cursor) return;
    s.cursor = e.id;
    write(`id: ${id()}\nevent: safety\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const sendSupervisor = (e: TreeEvent) => {
    const s = state.supervisor;
    if (s.cursor !== null && e.seq <= s.cursor) return;
    s.cursor = e.seq;
    write(`id: ${id()}\nevent: supervisor\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const onHub = (m: HubMessage) => {
    if (m.kind === 'safety') { if (state.safety.live) sendSafety(m.event); }
    else if (d.only === 'safety') return;
    else if (m.kind === 'supervisor') { if (state.supervisor.live) sendSupervisor(m.event); }
    else if (m.kind === 'stats') write(`event: stats\ndata: ${JSON.stringify(m.frame)}\n\n`);
    else write(`event: pin\ndata: ${JSON.stringify({ id: m.id, pinned: m.pinned })}\n\n`);
  };
  const unsubscribe = d.hub.subscribe(onHub);
  const heartbeat = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), d.heartbeatMs);
  heartbeat.unref();
  const timers = new Set<NodeJS.Timeout>();
  function stop() {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(overTimer);
    for (const t of timers) clearTimeout(t);
    unsubscribe();
  }
  res.on('close', stop);
  req.raw.on('close', stop);
  write('retry: 2000\n\n');
  if (d.only !== 'safety' && d.hub.stats) write(`event: stats\ndata: ${JSON.stringify(d.hub.stats)}\n\n`);

  /**
   * Brings one log up to the hub's tail, then marks it live. Pages from the upstream while the
   * cursor is older than the tail; while the upstream is down (or the hub not loaded yet), retries
   * every second and the other log and stats keep flowing.
   */
  const catchUp = async <T,>(which: 'safety' | 'supervisor', tail: TailLog<T>, send: (t: T) => void, fetchPage: (cursor: number) => Promise<T[]>, initial: number) => {
    const s = state[which];
    for (;;) {
      if (closed) return;
      try {
        if (tail.floor !== null) {
          if (s.cursor === null) {
            const first = tail.newest(initial)[0];
            s.cursor = first === undefined ? tail.last : tail.key(first) - 1;
          }
          const rest = tail.since(s.cursor!);
          if (rest) {
            for (const t of rest) send(t);
            s.live = true;
            return;
          }
          const page = await fetchPage(s.cursor!);
          if (closed) return;
          for (const t of page) send(t);
          if (page.length > 0) continue;
          // An empty page below the tail: the gap was deleted (retention); jump to the tail.
          s.cursor = tail.floor;
          continue;
        }
      } catch {
        // Upstream down: the hub's stats frame says so; retry below.
      }
      await new Promise<void>((r) => { const t = setTimeout(() => { timers.delete(t); r(); }, 1000); timers.add(t); });
    }
  };
  void catchUp('safety', d.hub.safety, sendSafety, async (c) => (await d.inference.json<{ events: SafetyEvent[] }>(`/events?since=${c}&limit=500`)).events.map(toWebEvent), d.initialSafety ?? 50);
  if (d.only !== 'safety') {
    const sup = d.supervisor;
    if (sup) void catchUp('supervisor', d.hub.supervisor, sendSupervisor, async (c) => (await sup.json<{ events: TreeEvent[] }>(`/v1/events?since=${c}&limit=1000`)).events, d.initialSupervisor ?? 200);
  }
  return {
    end() {
      stop();
      res.end();
    },
  };
}
