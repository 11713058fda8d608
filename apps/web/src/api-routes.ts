/**
 * The dashboard API. Reads come from the shared hub (no upstream call per request) except events
 * pages, snapshots, camera video and a child's log lines; changes (pins, restart/stop/start) need
 * a technician session, same-origin and the CSRF token, and are logged with the role.
 * Every error is `{error:{code,message}}` with a WEB_ERR_* code; no URL, token or path in it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../../common/src/index.ts';
import type { SafetyEvent } from '../../inference/src/events/store.ts';
import type { RouteContext } from './app.ts';
import { COOKIE, guards } from './auth.ts';
import { parseLogLine } from 'edgevisor';
import { scrubPaths, toWebEvent } from './hub.ts';
import { openDashboardStream, parseCursor } from './stream.ts';
import { UpstreamError, type Upstream } from './upstream.ts';

/** A JSON-safe echo of a client's value (short; never a number re-printed as 1e20). */
export const echo = (v: unknown) => JSON.stringify(String(v).slice(0, 40));
export const isId = (v: string) => /^\d{1,15}$/.test(v) && Number(v) >= 1;
const CHILD_ID = /^[\w.-]{1,64}(?:\/[\w.-]{1,64}){0,3}$/;
const CAMERA_ID = /^[\w.-]{1,64}$/;

/** Maps an upstream failure to an answer: its 4xx stay 4xx (client mistakes), the rest is 503. */
export function upstreamAnswer(ctx: RouteContext, reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof UpstreamError)) throw err;
  const msg = scrubPaths(err.body?.message ?? err.message);
  if (err.status === 404) return sendError(reply, 404, 'WEB_ERR_NOT_FOUND', msg);
  if (err.status === 400) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', msg);
  if (err.status === 409) return sendError(reply, 409, 'WEB_ERR_CONFLICT', msg);
  ctx.log({ level: 'warn', msg: err.message, detail: err.detail });
  if (err.status === 401 || err.status === 403) return sendError(reply, 502, 'WEB_ERR_SUPERVISOR_REFUSED', `the ${err.upstream} app refused the web app's credentials (check SUPERVISOR_TOKEN_FILE)`);
  ctx.onUpstreamError(err.upstream);
  return sendError(reply, 503, `WEB_ERR_${err.upstream.toUpperCase()}_UNAVAILABLE`, err.message);
}

/** Request fields hold URL paths, not server paths: shown as they are. */
const REQUEST_FIELDS = new Set(['reqId', 'method', 'path', 'route', 'status', 'ms', 'app', 'child']);

/**
 * Addresses (`http://127.0.0.1:8083`, `rtsp://***@10.0.0.5:554`, `127.0.0.1:8083`) become `<host>`:
 * the dashboard answers carry no internal address (the CLI, on the box, shows the lines whole).
 */
const scrubHosts = (s: string) => s.replace(/\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'/?#]+/gi, '<host>').replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b|\[[0-9a-f:]+\](?::\d{1,5})?/gi, '<host>');
const scrub = (s: string) => scrubPaths(scrubHosts(s));

/** One output line for the log panel: a JSON line in parts (time, level, message, fields), else text. */
export function logEntry(line: string): { stream?: string; ts?: number; level?: string; msg?: string; fields?: [string, string][]; text?: string } {
  const e = parseLogLine(line);
  if (!e.json) return { ...(e.stream ? { stream: e.stream } : {}), text: scrub(e.raw) };
  const { ts, level, msg, fields } = e.json;
  return {
    ...(e.stream ? { stream: e.stream } : {}), ...(ts !== undefined ? { ts } : {}), ...(level ? { level } : {}),
    msg: scrub(msg), fields: fields.map(([k, v]) => [k, REQUEST_FIELDS.has(k) ? scrubHosts(v) : scrub(v)]),
  };
}

const EVENT_FILTERS = ['camera', 'zone', 'cls', 'from', 'to', 'pinned', 'before', 'limit'] as const;

/** The events page query, checked here so a client mistake never reaches the inference app. */
export function eventsQuery(q: Record<string, unknown>): string | { error: string } {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (!(EVENT_FILTERS as readonly string[]).includes(k)) return { error: `${k}: unknown parameter; accepted: ${EVENT_FILTERS.join(', ')}` };
    if (typeof v !== 'string') return { error: `${k}: given more than once` };
    if (k === 'camera' || k === 'zone' || k === 'cls') {
      if (!/^[\w.-]{1,128}$/.test(v)) return { error: `${k}: expected a name of 1..128 letters, digits, . _ -, got ${echo(v)}` };
    } else if (k === 'pinned') {
      if (v !== 'true' && v !== 'false') return { error: `pinned: expected true or false, got ${echo(v)}` };
    } else if (k === 'limit') {
      if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 500) return { error: `limit: expected an integer 1..500, got ${echo(v)}` };
    } else if (!/^\d{1,15}$/.test(v)) {
      return { error: `${k}: expected ${k === 'before' ? 'an event id' : 'a time in unix milliseconds'} (a decimal integer of at most 15 digits), got ${echo(v)}` };
    }
    out.set(k, v);
  }
  // Always the filtered mode (newest first, `next` to page on), even without a filter.
  if (!out.has('before')) out.set('before', String(Number.MAX_SAFE_INTEGER));
  if (!out.has('limit')) out.set('limit', '50');
  return out.toString();
}

export function registerApiRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { hub, auth } = ctx;
  const g = guards(auth);
  const audit = (req: FastifyRequest, action: string, target: string, outcome: string) => {
    ctx.onAction(action, req.webRole ?? 'unknown');
    ctx.log({ level: 'info', msg: 'dashboard action', action, target, role: req.webRole, outcome, ip: req.ip });
  };
  // Into the supervisor's event log too (restart/stop/start are recorded there by the action itself).
  const from = (req: FastifyRequest) => `from ${req.ip}`;

  app.get('/api/session', async (req) => {
    const s = auth.session(req);
    return { role: s?.role ?? (auth.requireSignin ? null : 'viewer'), signedIn: !!s, csrf: s?.csrf ?? null, expiresAt: s?.expiresAt ?? null, signinRequired: auth.requireSignin, technicianSignIn: auth.technicianSignInPossible };
  });
  app.post<{ Body: unknown }>('/api/session', { bodyLimit: 2048 }, async (req, reply) => {
    const why = auth.crossSite(req);
    if (why) return sendError(reply, 403, 'WEB_ERR_CROSS_SITE', `refused a cross-site sign-in (${why})`);
    if (auth.tooManyFailures(req.ip)) return sendError(reply, 429, 'WEB_ERR_TOO_MANY_ATTEMPTS', 'too many failed sign-ins; wait a minute');
    const secret = (req.body as { secret?: unknown } | null)?.secret;
    if (typeof secret !== 'string' || secret.length < 1 || secret.length > 512) return sendError(reply, 400, 'WEB_ERR_BAD_BODY', 'expected JSON {"secret": "<technician token or password>"} (1..512 characters)');
    const role = await auth.signIn(secret);
    if (!role) {
      auth.noteFailure(req.ip);
      ctx.log({ level: 'warn', msg: 'dashboard sign-in refused', ip: req.ip });
      ctx.recordAudit('sign_in_refused', 'anonymous', from(req));
      return sendError(reply, 401, 'WEB_ERR_BAD_CREDENTIALS', 'wrong token or password');
    }
    const { cookie, session } = auth.issue(role);
    req.webRole = role;
    audit(req, 'sign-in', role, 'ok');
    ctx.recordAudit('sign_in', role, from(req));
    void reply.setCookie(COOKIE, cookie, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: Math.floor((session.expiresAt - Date.now()) / 1000), secure: req.protocol === 'https' });
    return { role, signedIn: true, csrf: session.csrf, expiresAt: session.expiresAt };
  });
  app.delete('/api/session', async (req, reply) => {
    const s = auth.session(req);
    if (s) {
      const why = auth.crossSite(req);
      if (why) return sendError(reply, 403, 'WEB_ERR_CROSS_SITE', `refused a cross-site sign-out (${why})`);
      auth.revoke(s);
      req.webRole = s.role;
      audit(req, 'sign-out', s.role, 'ok');
      ctx.recordAudit('sign_out', s.role, from(req));
    }
    void reply.clearCookie(COOKIE, { path: '/' });
    return { signedIn: false };
  });

  const notYet = (reply: FastifyReply) => sendError(reply, 503, 'WEB_ERR_STARTING', 'the web app has not heard from the other apps yet; retry in a second');
  app.get('/api/status', { onRequest: g.viewer }, async (_req, reply) => hub.stats ?? notYet(reply));
  app.get('/api/tree', { onRequest: g.viewer }, async (_req, reply) => {
    if (hub.tree) return hub.tree;
    const e = hub.stats?.upstream.supervisor.error;
    return sendError(reply, 503, 'WEB_ERR_SUPERVISOR_UNAVAILABLE', e ?? 'the supervisor has not answered yet');
  });
  app.get('/api/cameras', { onRequest: g.viewer }, async (_req, reply) => (hub.stats ? { cameras: hub.stats.cameras } : notYet(reply)));
  app.get<{ Params: { id: string } }>('/api/cameras/:id/history', { onRequest: g.viewer }, async (req, reply) => {
    const h = hub.history.columns(req.params.id);
    if (!h) return sendError(reply, 404, 'WEB_ERR_UNKNOWN_CAMERA', `no camera ${echo(req.params.id)}; known: ${hub.history.cameras().join(', ') || 'none yet'}`);
    return h;
  });
  app.get('/api/zones', { onRequest: g.viewer }, async () => ({ zones: hub.zones }));

  // Live video and stills through the web app (the camera port need not be reachable from a browser).
  const cameraProxy = (path: 'stream.mjpeg' | 'frame.jpg') => async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    if (!CAMERA_ID.test(req.params.id)) return sendError(reply, 400, 'WEB_ERR_BAD_ID', `camera id: expected 1..64 letters, digits, . _ -, got ${echo(req.params.id)}`);
    if (!ctx.camera) return sendError(reply, 503, 'WEB_ERR_CAMERA_UNAVAILABLE', 'no camera app configured (CAMERA_URL)');
    const ctl = new AbortController();
    const connect = setTimeout(() => ctl.abort(), 3000);
    req.raw.on('close', () => ctl.abort());
    let res: Response;
    try {
      res = await fetch(ctx.camera.url(`/cameras/${encodeURIComponent(req.params.id)}/${path}`), { signal: ctl.signal });
    } catch (err) {
      return upstreamAnswer(ctx, reply, new UpstreamError('camera', 'the camera app is unavailable (not reachable)', undefined, undefined, String(err)));
    } finally {
      clearTimeout(connect);
    }
    if (res.status !== 200 || !res.body) {
      const body = ((await res.json().catch(() => null)) as { error?: { message?: string } } | null)?.error;
      ctl.abort();
      return upstreamAnswer(ctx, reply, new UpstreamError('camera', `the camera app answered ${res.status}`, res.status === 503 ? 503 : res.status, body));
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', 'cache-control': 'no-store' });
    const reader = res.body.getReader();
    // Ended with the app (an MJPEG stream never ends by itself and would hold close() open).
    const handle = { end: () => { ctl.abort(); reply.raw.end(); } };
    ctx.streams.add(handle);
    reply.raw.on('close', () => { ctx.streams.delete(handle); void reader.cancel().catch(() => undefined); });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || reply.raw.destroyed) break;
        // Backpressure: a slow browser holds one chunk, never the camera's whole stream.
        if (!reply.raw.write(value)) await new Promise((r) => reply.raw.once('drain', r).once('close', r));
      }
    } catch {
      // the browser left, or the camera app went away
    }
    reply.raw.end();
  };
  app.get<{ Params: { id: string } }>('/api/cameras/:id/stream.mjpeg', { onRequest: g.viewer }, cameraProxy('stream.mjpeg'));
  app.get<{ Params: { id: string } }>('/api/cameras/:id/frame.jpg', { onRequest: g.viewer }, cameraProxy('frame.jpg'));

  app.get<{ Querystring: Record<string, unknown> }>('/api/events', { onRequest: g.viewer }, async (req, reply) => {
    const q = eventsQuery(req.query);
    if (typeof q !== 'string') return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', q.error);
    try {
      const page = await ctx.inference.json<{ events: SafetyEvent[]; next: number | null }>(`/events?${q}`);
      return { events: page.events.map(toWebEvent), next: page.next };
    } catch (err) {
      return upstreamAnswer(ctx, reply, err);
    }
  });
  app.get<{ Params: { id: string } }>('/api/events/:id/snapshot.jpg', { onRequest: g.viewer }, async (req, reply) => snapshot(ctx, req.params.id, reply));
  for (const [method, pinned] of [['PUT', true], ['DELETE', false]] as const) {
    app.route<{ Params: { id: string } }>({
      method, url: '/api/events/:id/pin', onRequest: g.technician,
      handler: async (req, reply) => {
        if (!isId(req.params.id)) return sendError(reply, 400, 'WEB_ERR_BAD_ID', `event id: expected an integer 1..999999999999999, got ${echo(req.params.id)}`);
        try {
          const res = await ctx.inference.request(`/events/${req.params.id}/pin`, { method });
          const ev = (await res.json()) as SafetyEvent;
          hub.pinned(ev);
          audit(req, pinned ? 'pin' : 'unpin', `event ${ev.id}`, 'ok');
          ctx.recordAudit(pinned ? 'pin' : 'unpin', 'technician', `safety event ${ev.id}`);
          return toWebEvent(ev);
        } catch (err) {
          audit(req, pinned ? 'pin' : 'unpin', `event ${req.params.id}`, 'failed');
          return upstreamAnswer(ctx, reply, err);
        }
      },
    });
  }

  // A child's detail with its recent log lines, for viewers too: every app redacts its lines at
  // the source (apps/common/src/log.ts: the whole line passes the one redaction before it is
  // written), so they carry no credential; server paths are cut here as in every answer. Fetched
  // with the supervisor's viewer token when the web app has one (a read needs no more).
  app.get<{ Params: { id: string } }>('/api/children/:id', { onRequest: g.viewer }, async (req, reply) => {
    if (!CHILD_ID.test(req.params.id)) return sendError(reply, 400, 'WEB_ERR_BAD_ID', `child id: expected ids like "camera" or "camera/dock", got ${echo(req.params.id)}`);
    const sup = ctx.supervisorReader ?? ctx.supervisor;
    if (!sup) return sendError(reply, 503, 'WEB_ERR_SUPERVISOR_UNAVAILABLE', 'no supervisor configured (SUPERVISOR_URL, SUPERVISOR_TOKEN_FILE)');
    try {
      const node = await sup.json<{ id: string; state: string; logs?: string[] }>(`/v1/children/${encodeURIComponent(req.params.id)}`);
      let logs = node.logs ?? [];
      // An app's inner node (`camera/dock`) has no output of its own: its app's lines about it
      // (child = the inner id) are its log.
      const cut = req.params.id.indexOf('/');
      if (cut > 0 && logs.length === 0) {
        const inner = req.params.id.slice(cut + 1);
        const app = await sup.json<{ logs?: string[] }>(`/v1/children/${encodeURIComponent(req.params.id.slice(0, cut))}`);
        logs = (app.logs ?? []).filter((l) => parseLogLine(l).json?.fields.some(([k, v]) => k === 'child' && v === inner));
      }
      return { id: node.id, state: node.state, logs: logs.map(scrub), entries: logs.map(logEntry) };
    } catch (err) {
      return upstreamAnswer(ctx, reply, err);
    }
  });
  app.post<{ Params: { id: string; action: string } }>('/api/children/:id/:action', { onRequest: g.technician, bodyLimit: 1024 }, async (req, reply) => {
    const { id, action } = req.params;
    if (action !== 'restart' && action !== 'stop' && action !== 'start') return sendError(reply, 400, 'WEB_ERR_BAD_ACTION', `action: expected restart, stop or start, got ${echo(action)}`);
    if (!CHILD_ID.test(id)) return sendError(reply, 400, 'WEB_ERR_BAD_ID', `child id: expected ids like "camera" or "camera/dock", got ${echo(id)}`);
    if (!ctx.supervisor) return sendError(reply, 503, 'WEB_ERR_SUPERVISOR_UNAVAILABLE', 'no supervisor configured (SUPERVISOR_URL, SUPERVISOR_TOKEN_FILE)');
    try {
      await ctx.supervisor.request(`/v1/children/${encodeURIComponent(id)}/${action}`, { method: 'POST', headers: { 'x-edgevisor-via': 'dashboard' } });
      audit(req, action, id, 'accepted');
      return reply.code(202).send({ accepted: true, action, child: id });
    } catch (err) {
      audit(req, action, id, 'failed');
      return upstreamAnswer(ctx, reply, err);
    }
  });

  // The supervisor's event log (newest last), from the hub's tail; filter by child.
  app.get<{ Querystring: { child?: string; limit?: string } }>('/api/supervisor-events', { onRequest: g.viewer }, async (req, reply) => {
    const { child, limit } = req.query;
    if (child !== undefined && !CHILD_ID.test(child)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `child: expected a child id, got ${echo(child)}`);
    if (limit !== undefined && !(/^\d{1,4}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 1000)) return sendError(reply, 400, 'WEB_ERR_BAD_QUERY', `limit: expected an integer 1..1000, got ${echo(limit)}`);
    const items = hub.supervisor.items.filter((e) => child === undefined || e.child === child || e.child.startsWith(`${child}/`));
    return { events: items.slice(-Number(limit ?? 200)) };
  });

  app.get('/api/stream', { onRequest: g.viewer }, async (req, reply) => {
    const raw = req.headers['last-event-id'] ?? (req.query as { since?: string }).since;
    const cursors = parseCursor(typeof raw === 'string' ? raw : undefined);
    if ('error' in cursors) return sendError(reply, 400, 'WEB_ERR_BAD_CURSOR', cursors.error);
    const s = openDashboardStream(req, reply, cursors, { hub, inference: ctx.inference, supervisor: ctx.supervisor, heartbeatMs: 15_000, onDrop: ctx.onDrop });
    ctx.streams.add(s);
    reply.raw.on('close', () => ctx.streams.delete(s));
  });
}

/** An event's snapshot through the web app (shared with the older route). */
export async function snapshot(ctx: RouteContext, id: string, reply: FastifyReply): Promise<FastifyReply> {
  if (!isId(id)) return sendError(reply, 400, 'WEB_ERR_BAD_ID', `event id: expected an integer 1..999999999999999, got ${echo(id)}`);
  try {
    const res = await ctx.inference.request(`/events/${id}/snapshot.jpg`);
    return reply.type('image/jpeg').header('cache-control', 'max-age=86400, immutable').send(Buffer.from(await res.arrayBuffer()));
  } catch (err) {
    if (err instanceof UpstreamError && err.status === 404) return sendError(reply, 404, 'WEB_ERR_NO_SNAPSHOT', `event ${id} has no snapshot (unknown event, stored without one, or removed by retention)`);
    return upstreamAnswer(ctx, reply, err);
  }
}

export type { Upstream };
