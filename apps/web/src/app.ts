// The web app: the operator dashboard and its API. Everything the page shows comes through the
// one shared poller (hub.ts); routes are in api-routes.ts (dashboard) and safety-events.ts (the
// older safety-event routes); sign-in and roles in auth.ts; the page in page.ts and ui/.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import { Counter, Gauge } from 'prom-client';
import { createAppServer, dataDirCheck, errorToHttp, objectLogger, processLogger, sendError } from '../../common/src/index.ts';
import type { AuditAction } from 'edgevisor';
import { createAuth } from './auth.ts';
import type { WebConfig } from './config.ts';
import { createHub } from './hub.ts';
import { registerApiRoutes } from './api-routes.ts';
import { registerSafetyEventRoutes } from './safety-events.ts';
import { registerPage } from './page.ts';
import { upstreamClient, type Upstream } from './upstream.ts';

/** What `buildApp` needs: the checked config (tests build one with loadWebConfig or by hand). */
export type WebAppOptions = Pick<WebConfig, 'version' | 'inferenceUrl'> & Partial<Omit<WebConfig, 'version' | 'inferenceUrl'>> & {
  /** Timeout of each call to another app (default 3000 ms). */
  upstreamTimeoutMs?: number;
  /** Stats frame and tree/cameras poll interval (default 1000 ms). */
  statsMs?: number;
  /** Log entries `{ level, msg, ...fields }` (default: the process's logger: JSON lines on stdout, redacted). */
  log?: (obj: Record<string, unknown>) => void;
};

export function buildApp(opts: WebAppOptions): FastifyInstance {
  const { app, registry, addHealthCheck } = createAppServer({ name: 'web' });
  const log = opts.log ?? objectLogger(processLogger());
  const registers = [registry];
  const requests = new Counter({ name: 'web_http_requests_total', help: 'HTTP requests served', labelNames: ['route'], registers });
  const info = new Counter({ name: 'web_info', help: 'Always 1; the label says which version runs', labelNames: ['version'], registers });
  const upstreamErrors = new Counter({ name: 'web_upstream_errors_total', help: 'Calls to another app that failed or timed out (client mistakes excluded)', labelNames: ['upstream'], registers });
  const upstreamRequests = new Counter({ name: 'web_upstream_requests_total', help: 'Calls made to another app (flat in the number of dashboards: one shared poller)', labelNames: ['upstream'], registers });
  const dropped = new Counter({ name: 'web_sse_dropped_total', help: 'Stream clients dropped for being too slow (they resume by Last-Event-ID)', registers });
  const actions = new Counter({ name: 'web_actions_total', help: 'Changes asked through the dashboard, by action and role', labelNames: ['action', 'role'], registers });
  info.inc({ version: opts.version });
  for (const u of ['supervisor', 'camera', 'inference', 'vacuum']) { upstreamErrors.inc({ upstream: u }, 0); upstreamRequests.inc({ upstream: u }, 0); }

  // Event-loop delay, as the supervisor's probes would feel it: p50/p99/max since the last scrape.
  // The histogram records whole timer intervals (resolution included): subtract the resolution.
  const RES_MS = 10;
  const loopDelay = monitorEventLoopDelay({ resolution: RES_MS });
  loopDelay.enable();
  const lag = (ns: number) => Math.max(0, ns / 1e6 - RES_MS) / 1000;
  new Gauge({
    name: 'web_event_loop_delay_seconds', help: 'Event-loop delay since the previous scrape', labelNames: ['quantile'], registers,
    collect() {
      this.set({ quantile: '0.5' }, lag(loopDelay.percentile(50)));
      this.set({ quantile: '0.99' }, lag(loopDelay.percentile(99)));
      this.set({ quantile: 'max' }, lag(loopDelay.max));
      loopDelay.reset();
    },
  });

  const count = (u: Upstream) => upstreamRequests.inc({ upstream: u });
  const timeoutMs = opts.upstreamTimeoutMs ?? 3000;
  const tokens = opts.supervisorTokens ?? {};
  const supToken = tokens.technician ?? tokens.viewer;
  const inference = upstreamClient('inference', opts.inferenceUrl, { timeoutMs, onRequest: count });
  const camera = opts.cameraUrl ? upstreamClient('camera', opts.cameraUrl, { timeoutMs, onRequest: count }) : undefined;
  const vacuum = opts.vacuumUrl ? upstreamClient('vacuum', opts.vacuumUrl, { timeoutMs, onRequest: count }) : undefined;
  const supervisor = opts.supervisorUrl && supToken ? upstreamClient('supervisor', opts.supervisorUrl, { timeoutMs, onRequest: count, headers: { authorization: `Bearer ${supToken}` } }) : undefined;
  const supervisorReader = opts.supervisorUrl && tokens.viewer ? upstreamClient('supervisor', opts.supervisorUrl, { timeoutMs, onRequest: count, headers: { authorization: `Bearer ${tokens.viewer}` } }) : undefined;
  const hub = createHub({
    inference, camera, supervisor, vacuum, diskHoursMin: opts.diskHoursMin, log,
    eventsPollMs: opts.eventsPollMs ?? 500, statsMs: opts.statsMs, inferenceBudgetMs: opts.inferenceBudgetMs ?? 100,
    onUpstreamError: (u) => upstreamErrors.inc({ upstream: u }),
    onUpstreamRequest: count,
  });
  new Gauge({ name: 'web_sse_clients', help: 'Open dashboard streams', registers, collect() { this.set(hub.clients); } });

  const auth = createAuth({
    technicianToken: tokens.technician, viewerToken: tokens.viewer, passwords: opts.passwords ?? [],
    requireSignin: opts.requireSignin ?? false, sessionTtlMs: opts.sessionTtlMs ?? 8 * 3_600_000,
    secret: opts.sessionSecret ?? Buffer.from(crypto.getRandomValues(new Uint8Array(32))), allowedHosts: opts.allowedHosts ?? [],
  });

  void app.register(cookie);
  // DNS rebinding: a page on a rebound name would read our API as same-origin; its Host shows it.
  // /healthz and /metrics carry nothing a rebinding page could want, and the supervisor's probes
  // and Docker's HEALTHCHECK reach them by service name (http://web:8080/healthz in compose).
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?', 1)[0];
    if (path === '/healthz' || path === '/metrics') return;
    if (!auth.hostAllowed(req.headers.host)) return sendError(reply, 403, 'WEB_ERR_HOST_NOT_ALLOWED', 'this host name is not allowed (set WEB_ALLOWED_HOSTS)');
  });
  // /healthz answers within its budget or not at all. A request that waited in the kernel while
  // the loop was blocked is handled right after the blocked turn, when the 50 ms ticker finds
  // itself late: a late 200 would hide the stall from the supervisor's probe, so drop those.
  const budget = opts.healthBudgetMs ?? 500;
  let lastTick = Date.now();
  let stallSeenAt = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    if (now - lastTick - 50 > budget) stallSeenAt = now;
    lastTick = now;
  }, 50);
  ticker.unref();
  app.addHook('onRequest', async (req, reply) => {
    const now = Date.now();
    if (req.url === '/healthz' && (now - lastTick - 50 > budget || now - stallSeenAt < 100)) {
      req.raw.socket.destroy();
      return reply.hijack();
    }
  });
  app.addHook('onResponse', async (req) => {
    requests.inc({ route: req.routeOptions.url ?? 'unknown' });
  });
  if (opts.dataDir) addHealthCheck('data_dir', dataDirCheck(opts.dataDir));

  const streams = new Set<{ end(): void }>();
  app.addHook('preClose', async () => {
    hub.stop();
    for (const s of streams) s.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    clearInterval(ticker);
    loopDelay.disable();
  });

  // Fire and forget: a pin or a sign-in must not fail because the supervisor is down; the web
  // app's own log line (api-routes.ts) stays the record then, and this says what was not copied.
  const recordAudit = (action: AuditAction, role: string, subject?: string) => {
    if (!supervisor) return;
    const body = JSON.stringify({ action, role, via: 'dashboard', ...(subject && /^[\w .:#@-]{1,80}$/.test(subject) ? { subject } : {}) });
    supervisor.request('/v1/audit', { method: 'POST', headers: { 'content-type': 'application/json' }, body, timeoutMs: 2000 })
      .then((res) => res.body?.cancel())
      .catch((err: unknown) => log({ level: 'warn', msg: 'the supervisor did not record a dashboard action', action, role, error: err instanceof Error ? err.message : String(err), detail: (err as { detail?: string }).detail }));
  };
  const ctx = {
    hub, auth, inference, camera, supervisor, supervisorReader, streams, log, recordAudit,
    onUpstreamError: (u: Upstream) => upstreamErrors.inc({ upstream: u }),
    onDrop: () => dropped.inc(),
    onAction: (action: string, role: string) => actions.inc({ action, role }),
  };
  // The web app's own routes in one scope, with its error handler (common's stays for /healthz).
  void app.register(async (scope) => {
    // 5xx answers say nothing internal: the cause goes to the log (with reqId, the cause chain).
    scope.setErrorHandler((err, req, reply) => {
      const { status, body } = errorToHttp(err);
      if (status >= 500) {
        req.log.error({ err, status: 500, code: 'WEB_ERR_INTERNAL', path: req.url.split('?')[0]!.slice(0, 200) }, `${req.method} ${req.url.split('?')[0]!.slice(0, 200)} -> 500: ${(err as Error)?.message ?? String(err)}`);
        return sendError(reply, 500, 'WEB_ERR_INTERNAL', 'internal error (see the web app log)');
      }
      return reply.code(status).type('application/json').send(body);
    });
    registerPage(scope, { version: opts.version });
    registerApiRoutes(scope, ctx);
    registerSafetyEventRoutes(scope, ctx);
  });
  return app;
}

/** What routes get from the app. */
export interface RouteContext {
  hub: ReturnType<typeof createHub>;
  auth: ReturnType<typeof createAuth>;
  inference: ReturnType<typeof upstreamClient>;
  camera?: ReturnType<typeof upstreamClient>;
  supervisor?: ReturnType<typeof upstreamClient>;
  /** The supervisor with the viewer token (reads: a child's log lines), when the web app has one. */
  supervisorReader?: ReturnType<typeof upstreamClient>;
  streams: Set<{ end(): void }>;
  log: (obj: Record<string, unknown>) => void;
  onUpstreamError(u: Upstream): void;
  onDrop(): void;
  onAction(action: string, role: string): void;
  /** Copies a dashboard action into the supervisor's event log (POST /v1/audit); never throws. */
  recordAudit(action: AuditAction, role: string, subject?: string): void;
}
