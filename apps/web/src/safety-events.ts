/**
 * The first safety-event routes (kept for scripts that use them): JSON by cursor, an SSE stream
 * of safety events only (plain event ids, as before), and snapshots. They are served from the
 * shared hub like the dashboard stream: no poller per client. The inference app stores the events
 * durably (SQLite, WAL) and the web app keeps only a recent tail, so a web restart loses nothing.
 */
import type { FastifyInstance } from 'fastify';
import { sendError } from '../../common/src/index.ts';
import type { SafetyEvent } from '../../inference/src/events/store.ts';
import type { RouteContext } from './app.ts';
import { echo, snapshot, upstreamAnswer } from './api-routes.ts';
import { guards } from './auth.ts';
import { toWebEvent } from './hub.ts';
import { openDashboardStream } from './stream.ts';

const cursor = (v: string) => /^\d{1,15}$/.test(v);

export function registerSafetyEventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const g = guards(ctx.auth);
  /** ?since=ID (events after that id) or ?latest=N (the newest N; the default, N=50). */
  app.get<{ Querystring: { since?: string; latest?: string } }>('/api/safety-events', { onRequest: g.viewer }, async (req, reply) => {
    const { since, latest } = req.query;
    if (since !== undefined && !cursor(since)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `since: expected an event id (integer >= 0, at most 15 digits), got ${echo(since)}`);
    if (latest !== undefined && !(cursor(latest) && Number(latest) >= 1 && Number(latest) <= 1000)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `latest: expected an integer 1..1000, got ${echo(latest)}`);
    try {
      const page = await ctx.inference.json<{ events: SafetyEvent[]; last: number }>(since !== undefined ? `/events?since=${since}&limit=500` : `/events?latest=${latest ?? 50}`);
      return { events: page.events.map(toWebEvent), last: page.last };
    } catch (err) {
      return upstreamAnswer(ctx, reply, err);
    }
  });

  /** SSE of safety events. Resumes after the Last-Event-ID header or ?since=ID. */
  app.get<{ Querystring: { since?: string } }>('/api/safety-events/stream', { onRequest: g.viewer }, async (req, reply) => {
    const resume = req.headers['last-event-id'] ?? req.query.since;
    const c = typeof resume === 'string' ? resume.trim() : undefined;
    if (c !== undefined && !cursor(c)) return sendError(reply, 400, 'WEB_ERR_BAD_CURSOR', `Last-Event-ID / since: expected an event id (integer >= 0, at most 15 digits), got ${echo(c)}`);
    const s = openDashboardStream(req, reply, { safety: c === undefined ? null : Number(c), supervisor: null }, { hub: ctx.hub, inference: ctx.inference, heartbeatMs: 15_000, only: 'safety', onDrop: ctx.onDrop });
    ctx.streams.add(s);
    reply.raw.on('close', () => ctx.streams.delete(s));
  });

  app.get<{ Params: { id: string } }>('/api/safety-events/:id/snapshot.jpg', { onRequest: g.viewer }, async (req, reply) => snapshot(ctx, req.params.id, reply));
}
