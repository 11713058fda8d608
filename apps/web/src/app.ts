// The web app: /healthz and /metrics, the safety events read from the inference app (JSON, SSE,
// snapshots), and the operator page that shows them live. The rest of the dashboard (supervision
// tree, cameras) lands with its own issue.
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { createAppServer, dataDirCheck, sendError } from '../../common/src/index.ts';
import { inferenceClient, streamSafetyEvents, UpstreamError } from './safety-events.ts';
import { dashboardPage } from './page.ts';

/** What `buildApp` needs; `main.ts` fills it from env, tests pass it directly. */
export interface WebAppOptions {
  /** Shown on the page and in `web_info` so a technician can tell which bundle runs. */
  version: string;
  /** Data volume; /healthz fails when it is not writable (a lost volume must be noticed). */
  dataDir?: string;
  /** The inference app, which stores the safety events (INFERENCE_URL). */
  inferenceUrl: string;
  /** How often the event stream asks the inference app for new events (default 1000 ms). */
  eventsPollMs?: number;
  /** Timeout of each call to the inference app (default 3000 ms). */
  upstreamTimeoutMs?: number;
}

/** Newest events a dashboard gets when it opens without a cursor. */
const INITIAL_EVENTS = 50;

export function buildApp(opts: WebAppOptions): FastifyInstance {
  const { app, registry, addHealthCheck } = createAppServer({ name: 'web' });
  const requests = new Counter({ name: 'web_http_requests_total', help: 'HTTP requests served', labelNames: ['route'], registers: [registry] });
  const info = new Counter({ name: 'web_info', help: 'Always 1; the label says which version runs', labelNames: ['version'], registers: [registry] });
  const upstreamErrors = new Counter({ name: 'web_upstream_errors_total', help: 'Calls to another app that failed or timed out', labelNames: ['upstream'], registers: [registry] });
  info.inc({ version: opts.version });
  app.addHook('onResponse', async (req) => {
    requests.inc({ route: req.routeOptions.url ?? 'unknown' });
  });
  if (opts.dataDir) addHealthCheck('data_dir', dataDirCheck(opts.dataDir));
  const inference = inferenceClient(opts.inferenceUrl, opts.upstreamTimeoutMs ?? 3000);
  const unavailable = (reply: Parameters<typeof sendError>[0], err: unknown) => {
    if (!(err instanceof UpstreamError)) throw err;
    upstreamErrors.inc({ upstream: 'inference' });
    return sendError(reply, 503, 'WEB_ERR_INFERENCE_UNAVAILABLE', `safety events are unavailable: ${err.message}`);
  };
  const streams = new Set<{ end(): void }>();
  app.addHook('onClose', async () => {
    for (const s of streams) s.end();
  });

  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return dashboardPage(opts.version);
  });

  /** ?since=ID (events after that id) or ?latest=N (the newest N; the default, N=50). */
  app.get<{ Querystring: { since?: string; latest?: string } }>('/api/safety-events', async (req, reply) => {
    const { since, latest } = req.query;
    if (since !== undefined && !/^\d+$/.test(since)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `since: expected an event id (integer >= 0), got ${JSON.stringify(since)}`);
    if (latest !== undefined && !(/^\d+$/.test(latest) && Number(latest) >= 1 && Number(latest) <= 1000)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `latest: expected an integer 1..1000, got ${JSON.stringify(latest)}`);
    try {
      return await inference.events(since !== undefined ? { since: Number(since), limit: 500 } : { latest: Number(latest ?? INITIAL_EVENTS) });
    } catch (err) {
      return unavailable(reply, err);
    }
  });

  /** SSE. Resumes after the Last-Event-ID header (EventSource sends it on reconnect) or ?since=ID. */
  app.get<{ Querystring: { since?: string } }>('/api/safety-events/stream', async (req, reply) => {
    const resume = req.headers['last-event-id'] ?? req.query.since;
    const cursor = typeof resume === 'string' ? resume.trim() : undefined;
    if (cursor !== undefined && !/^\d+$/.test(cursor)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `Last-Event-ID / since: expected an event id (integer >= 0), got ${JSON.stringify(cursor)}`);
    const s = streamSafetyEvents(req, reply, { client: inference, after: cursor === undefined ? null : Number(cursor), initial: INITIAL_EVENTS, pollMs: opts.eventsPollMs ?? 1000, heartbeatMs: 15_000, onUpstreamError: () => upstreamErrors.inc({ upstream: 'inference' }) });
    streams.add(s);
    reply.raw.on('close', () => streams.delete(s));
  });

  app.get<{ Params: { id: string } }>('/api/safety-events/:id/snapshot.jpg', async (req, reply) => {
    if (!/^\d+$/.test(req.params.id)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `id: expected an event id, got ${JSON.stringify(req.params.id)}`);
    try {
      const jpeg = await inference.snapshot(Number(req.params.id));
      if (!jpeg) return sendError(reply, 404, 'WEB_ERR_NO_SNAPSHOT', `event ${req.params.id} has no snapshot (unknown event, or removed by retention)`);
      return reply.type('image/jpeg').header('cache-control', 'max-age=86400, immutable').send(jpeg);
    } catch (err) {
      return unavailable(reply, err);
    }
  });
  return app;
}
