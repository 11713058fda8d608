import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { errorToHttp, sendError } from './errors.ts';
import { echoRequestId, fastifyLogging, processLogger, type Logger } from './log.ts';
import { redactSecrets } from './redact.ts';

/**
 * A health check: resolves when healthy, throws (with a message) when not. Keep it cheap.
 * Resolving to a string reports a warning: the app works but something needs a person (e.g. the
 * data volume is full and events wait in memory). A warning makes /healthz `degraded` with 200,
 * because a restart (what a liveness probe does on 503) would not help and could lose what the
 * process holds; `GET /healthz?strict=1` answers 503 for it too (readiness, alarms).
 */
export type HealthCheck = () => void | string | undefined | Promise<void | string | undefined>;

export interface AppServerOptions {
  /** App name: shown in /healthz and as the `app` default label on every metric. */
  name: string;
  /**
   * Fastify's logger, so request lines carry `reqId` (default: the process's logger, stdout,
   * redacted; see log.ts). A 5xx is logged on it with its cause; the answer says only its code.
   */
  logger?: Logger;
  /** Per-check timeout for /healthz (default 2000 ms). */
  healthTimeoutMs?: number;
  /** Also collect Node process metrics (default true). */
  processMetrics?: boolean;
}

/** What createAppServer returns. Register routes on `app`, metrics on `registry`. */
export interface AppServer {
  app: FastifyInstance;
  registry: Registry;
  /** Adds a named check run by GET /healthz (all run in parallel, each with a timeout). */
  addHealthCheck(name: string, check: HealthCheck): void;
}

/** The /healthz body: 200 when every check passes, 503 otherwise. */
export interface HealthBody {
  app: string;
  status: 'ok' | 'degraded' | 'failing';
  checks: Record<string, { ok: boolean; error?: string; warning?: string }>;
}

/**
 * A fastify instance with GET /healthz, GET /metrics and JSON errors. Not listening: the caller
 * (main.ts, or a test with port 0) calls `app.listen`.
 */
export function createAppServer(opts: AppServerOptions): AppServer {
  const app = Fastify({
    ...fastifyLogging(opts.logger ?? processLogger()),
    // Framework-level refusals keep the {error:{code,message}} contract too, without echoing the
    // (possibly huge or hostile) URL back.
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'the URL is not valid (bad percent-encoding?)';
      void sendError(reply, status, err.code ?? 'APP_ERR_BAD_URL', message);
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, code, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'APP_ERR_HEADERS_TOO_LARGE', 'the request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'APP_ERR_REQUEST_TIMEOUT', 'the request took too long'] : [400, 'APP_ERR_BAD_REQUEST', 'malformed HTTP request'];
      const body = JSON.stringify({ error: { code, message } });
      if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
      socket.destroy(err);
    },
  });
  const registry = new Registry();
  registry.setDefaultLabels({ app: opts.name });
  // Event-loop lag sampled once a second, not prom-client's default 10 ms (that alone costs an
  // idle app about 6 ms of CPU per second).
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
  const checks = new Map<string, HealthCheck>();
  const timeoutMs = opts.healthTimeoutMs ?? 2000;

  app.addHook('onRequest', echoRequestId);
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorToHttp(err);
    // The answer says only its code and "internal error"; the line says what happened, with the
    // cause chain and the stack (file names only, redacted like every line).
    if (status >= 500) req.log.error({ err, status, code: body.error.code, path: req.url.split('?')[0]!.slice(0, 200) }, `${req.method} ${req.url.split('?')[0]!.slice(0, 200)} -> ${status}: ${(err as Error)?.message ?? String(err)}`);
    void reply.code(status).type('application/json').send(body);
  });
  // The last net under every answer (JSON, text, /metrics, /healthz): whatever a route put in it,
  // no credential leaves the process. Binary payloads (JPEG frames, raw frames) and streams pass
  // untouched, so the frame path costs nothing.
  app.addHook('onSend', async (_req, _reply, payload) => (typeof payload === 'string' ? redactSecrets(payload) : payload));
  app.setNotFoundHandler((req, reply) => {
    // Bounded: a 60 KB junk URL is not echoed back whole.
    const url = req.url.length > 200 ? `${req.url.slice(0, 200)}...` : req.url;
    void sendError(reply, 404, 'APP_ERR_NOT_FOUND', `no route ${req.method} ${url}`);
  });

  app.get<{ Querystring: { strict?: string } }>('/healthz', async (req, reply) => {
    const entries = [...checks.entries()];
    const results = await Promise.all(entries.map(([, check]) => runCheck(check, timeoutMs)));
    const body: HealthBody = { app: opts.name, status: 'ok', checks: {} };
    entries.forEach(([name], i) => {
      body.checks[name] = results[i]!;
      if (!results[i]!.ok) body.status = 'failing';
      else if (results[i]!.warning && body.status === 'ok') body.status = 'degraded';
    });
    const strict = req.query.strict === '1' || req.query.strict === 'true';
    return reply.code(body.status === 'ok' || (body.status === 'degraded' && !strict) ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  return { app, registry, addHealthCheck: (name, check) => void checks.set(name, check) };
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<{ ok: boolean; error?: string; warning?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs}ms`)), timeoutMs);
  });
  try {
    const warning = await Promise.race([Promise.resolve().then(check), timeout]);
    return typeof warning === 'string' && warning ? { ok: true, warning: redactSecrets(warning) } : { ok: true };
  } catch (err) {
    return { ok: false, error: redactSecrets(err instanceof Error ? err.message : String(err)) };
  } finally {
    clearTimeout(timer);
  }
}
