import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { EdgevisorError, codes } from '../errors.ts';
import { echoRequestId, type fastifyLogging } from '../log.ts';
import { describeManualRestart } from '../core/manual-restart.ts';
import type { StoreHealth } from '../store/buffered-store.ts';
import type { EventStore } from '../store/types.ts';
import type { Role, Tree } from '../runtime/types.ts';
import { createAuthenticator, type ApiTokens } from './auth.ts';
import { registerAuditRoute } from './audit.ts';
import { registerChildrenRoutes } from './children.ts';
import { parseVia, viaValues } from './children-body.ts';
import { ApiError, apiCodes, badRequest, sendError, statusFor } from './errors.ts';
import { apiBodyLimit, clientErrorHandler, frameworkAnswer, frameworkErrors } from './framework-errors.ts';
import { createTreeMetrics } from './metrics.ts';
import { streamEvents } from './sse.ts';

/** What {@link buildApi} needs. Everything is passed in: the app reads no environment. */
export interface ApiOptions {
  tree: Tree;
  /** The event log; `health` (buffered-store.ts) adds the store's state to /healthz and /metrics. */
  store: Pick<EventStore, 'since' | 'lastSeq'> & { health?(): StoreHealth };
  tokens: ApiTokens;
  /** fastify's logger option (false by default: tests stay quiet). */
  logger?: FastifyServerOptions['logger'];
  /** `run`'s JSON logger as fastify's (log.ts `fastifyLogging`): request lines with reqId, echoed in x-request-id. Wins over `logger`. */
  logging?: ReturnType<typeof fastifyLogging>;
  /** SSE heartbeat comment interval (default 15 s). */
  sseHeartbeatMs?: number;
  /**
   * The tree file's state for /healthz (`run` passes it, cli/last-good-tree.ts): when it was
   * refused and the last good tree runs instead, /healthz says `degraded` and names the file.
   */
  treeFile?: { status: 'ok' | 'refused'; file: string };
}

/** Manual actions: URL verb -> Tree method. */
const actions = {
  restart: 'restartChild',
  stop: 'stopChild',
  start: 'startChild',
} as const satisfies Record<string, keyof Tree>;
export type Action = keyof typeof actions;

/** Body of a 202 answer to a manual action. */
export interface ActionAccepted {
  accepted: true;
  action: Action;
  child: string;
  /** restart only: what is restarted, in start order, and in words (core/manual-restart.ts). */
  restarting?: string[];
  stopping?: string[];
  strategy?: string | null;
  only?: boolean;
  message?: string;
}

/** `?only=1|0|true|false` (a flag: absent means false), or a 400 naming the field. */
function parseFlag(raw: unknown, field: string): boolean {
  if (raw === undefined) return false;
  if (raw === '1' || raw === 'true' || raw === '') return true;
  if (raw === '0' || raw === 'false') return false;
  throw badRequest(`${field}: expected 1 or 0 (true or false), got ${JSON.stringify(raw)}`);
}

/** Where a manual action came from: defined in children-body.ts (shared with inner/routes.ts), still exported here. */
export { viaValues, type Via } from './children-body.ts';

export const eventsDefaultLimit = 100;
export const eventsMaxLimit = 1000;
const logLines = 50;
/** How long reading a worker's output may take (a container's log comes from the engine). */
const outputTimeoutMs = 3_000;

/** A non-negative integer from a query string or header, or a 400 naming the field. */
function parseCount(raw: unknown, field: string, accepted: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) {
    throw badRequest(`${field}: expected ${accepted}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw.trim());
}

/**
 * The control API as an app that does not listen (api/server.ts listens): buildable in tests,
 * injectable, closable. Routes: /healthz and /metrics open; /v1/* behind bearer tokens.
 */
export function buildApi(opts: ApiOptions): FastifyInstance {
  // Small body limit: manual actions carry no body. Framework-level errors get the same contract.
  const app = Fastify({ ...(opts.logging ?? { logger: opts.logger ?? false }), bodyLimit: apiBodyLimit, frameworkErrors, clientErrorHandler });
  if (opts.logging) app.addHook('onRequest', echoRequestId);
  registerApi(app, opts);
  return app;
}

/** Registers the routes and hooks on an existing instance (plugin style, as in fastify/demo). */
export function registerApi(app: FastifyInstance, opts: ApiOptions): void {
  const { tree, store } = opts;
  const auth = createAuthenticator(opts.tokens);
  const metrics = createTreeMetrics(tree, store.health ? () => store.health!() : undefined);
  const streams = new Set<{ end(): void }>();

  app.setErrorHandler((err, req, reply) => {
    const framework = frameworkAnswer(err, apiBodyLimit);
    if (framework) return reply.code(framework.status).type('application/json').send(framework.body);
    // Only what reaches a 5xx is a fault of ours: logged with its cause. Client mistakes are not.
    if (!(err instanceof EdgevisorError) && !(err instanceof ApiError)) req.log.error({ err }, 'request failed');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new ApiError(apiCodes.ROUTE_NOT_FOUND, `no route ${req.method} ${req.url.split('?')[0]}`)),
  );
  // SSE streams never end on their own; end them first so close() does not wait forever.
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
    streams.clear();
  });
  app.addHook('onClose', async () => metrics.close());

  // Authentication runs first (onRequest), before fastify reads or parses a body: a request
  // without a valid token costs a header check, whatever it carries. Every /v1 path needs at
  // least a viewer token, unknown ones included (a 404 would tell a stranger what exists).
  const refusals = createRefusalLog();
  app.addHook('onRequest', async (req) => {
    const needed = (req.routeOptions.config as { role?: Role } | undefined)?.role ?? (/^\/v1(\/|\?|$)/.test(req.url) ? 'viewer' : null);
    if (needed === null) return;
    try {
      req.role = auth.require(req.headers.authorization, needed);
    } catch (err) {
      if (err instanceof ApiError && statusFor(err.code) === 401) refusals.note(req, err.code);
      throw err;
    }
  });
  const viewer = { config: { role: 'viewer' as Role } };
  const technician = { config: { role: 'technician' as Role } };

  const knownChild = (id: string) => {
    const node = tree.child(id);
    if (node) return node;
    // Every node the actions accept, the root (restartable like any supervisor) first.
    const known = tree.snapshot().nodes.map((n) => n.id);
    throw new EdgevisorError(codes.UNKNOWN_CHILD, `no child "${id}" (known: ${known.join(', ') || 'none'})`);
  };

  // A worker's last output lines: the backend's (the process ring, a container's own log). A
  // container log that cannot be read in time falls back to the backend's ring, with a note why.
  const workerOutput = async (node: { id: string; type: string }): Promise<string[]> => {
    if (node.type !== 'worker') return [];
    if (!tree.output) return tree.logs(node.id, logLines);
    try {
      return await tree.output(node.id, logLines, AbortSignal.timeout(outputTimeoutMs));
    } catch (err) {
      return [...tree.logs(node.id, logLines), `edgevisor| the output could not be read: ${(err as Error).message}`];
    }
  };

  app.get('/healthz', async () => {
    const h = store.health?.();
    const treeFile = opts.treeFile;
    return {
      status: treeFile?.status === 'refused' ? 'degraded' : 'ok',
      tree: tree.snapshot().state,
      ...(h ? { store: { writable: h.writable, pending: h.pending, dropped: h.dropped } } : {}),
      ...(treeFile ? { treeFile } : {}),
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.render();
  });

  app.get('/v1/tree', viewer, async () => tree.snapshot());

  app.get<{ Params: { id: string } }>('/v1/children/:id', viewer, async (req) => {
    const node = knownChild(req.params.id);
    return { ...node, logs: await workerOutput(node) };
  });

  app.get<{ Querystring: Record<string, unknown> }>('/v1/events', viewer, async (req, reply: FastifyReply) => {
    const since = parseCount(req.query['since'], 'since', 'an event sequence number (integer >= 0)');
    if (/\btext\/event-stream\b/.test(req.headers.accept ?? '')) {
      const header = req.headers['last-event-id'];
      const lastEventId = parseCount(Array.isArray(header) ? header[0] : header, 'Last-Event-ID', 'an event sequence number (integer >= 0)');
      // Last-Event-ID wins: a browser's EventSource resends its original URL (with ?since=) on
      // every reconnect, and only the header says where it actually got to.
      const after = lastEventId ?? since ?? null;
      const handle = streamEvents(req, reply, { tree, store, after, heartbeatMs: opts.sseHeartbeatMs ?? 15_000 });
      if (!handle.closed) {
        streams.add(handle);
        reply.raw.on('close', () => streams.delete(handle));
      }
      return reply;
    }
    const limit = parseCount(req.query['limit'], 'limit', `an integer from 1 to ${eventsMaxLimit}`) ?? eventsDefaultLimit;
    if (limit < 1 || limit > eventsMaxLimit) throw badRequest(`limit: expected an integer from 1 to ${eventsMaxLimit}, got ${limit}`);
    return { events: store.since(since ?? 0, limit), lastSeq: store.lastSeq() };
  });

  for (const action of Object.keys(actions) as Action[]) {
    app.post<{ Params: { id: string }; Querystring: Record<string, unknown> }>(`/v1/children/:id/${action}`, technician, async (req, reply) => {
      const actor = { role: req.role ?? ('technician' as const), via: parseVia(req.headers['x-edgevisor-via']) };
      const node = knownChild(req.params.id);
      // An app's inner node (`camera/dock`, sent as camera%2Fdock): passed to its app, which answers for it.
      if (node.inner) await tree.innerAction(node.id, action, actor);
      else if (action === 'restart') {
        // The answer says what restarts (dependents under rest_for_one / one_for_all), in order.
        const plan = tree.restartChild(node.id, actor, { only: parseFlag(req.query['only'], 'only') });
        const { restarting, stopping, strategy, only } = plan;
        const body: ActionAccepted = { accepted: true, action, child: node.id, restarting, stopping, strategy, only, message: describeManualRestart(plan) };
        return reply.code(202).send(body);
      } else tree[actions[action]](node.id, actor);
      const body: ActionAccepted = { accepted: true, action, child: node.id };
      return reply.code(202).send(body);
    });
  }
  registerAuditRoute(app, tree, viaValues, technician);
  registerChildrenRoutes(app, tree, { technician, via: parseVia });
}

/**
 * Refused requests are logged at warn, one line each without a stack, and at most one line per
 * 10 s (with the count of the others): a scanner sending thousands cannot flood the log.
 */
function createRefusalLog(windowMs = 10_000) {
  let windowStart = 0;
  let suppressed = 0;
  return {
    note(req: FastifyRequest, code: string) {
      const now = Date.now();
      if (now - windowStart < windowMs) {
        suppressed++;
        return;
      }
      req.log.warn({ code, method: req.method, path: req.url.split('?')[0]!.slice(0, 100), ...(suppressed ? { suppressedSinceLast: suppressed } : {}) }, 'unauthenticated request refused');
      windowStart = now;
      suppressed = 0;
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth preHandler on /v1 routes. */
    role?: Role;
  }
}
