// The ONVIF service's HTTP API, for the camera controller and the dashboard. Buildable in a test
// (buildApp + start), listened on by main.ts. No answer carries a credential: cameras are shown
// through CameraRegistry.view(), which builds every field itself.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError, createAppServer, installFailpoints, dataDirCheck, errorToHttp, objectLogger, processLogger, sendError } from '../../common/src/index.ts';
import { CameraRegistry } from './cameras.ts';
import { defaultConfig, type OnvifConfig } from './config.ts';
import { CameraStore, credentialsSchema } from './credentials.ts';
import { onvifErrors } from './errors.ts';
import { EventLog, type LogLine } from './events.ts';
import { createOnvifMetrics } from './metrics.ts';

/** What `buildApp` needs; main.ts fills it from the environment, tests pass it directly. */
export interface OnvifAppOptions {
  config?: Partial<OnvifConfig>;
  /** Where JSON log lines go (default: stderr). */
  log?: LogLine;
}

/** The service, built but not listening. */
export interface OnvifApp {
  app: FastifyInstance;
  cameras: CameraRegistry;
  events: EventLog;
  /** Loads the store and starts refreshes and the discovery schedule. */
  start(): void;
  stop(): Promise<void>;
}

const statusOf: Record<string, number> = {
  [onvifErrors.UNKNOWN_CAMERA]: 404,
  [onvifErrors.UNKNOWN_PROFILE]: 404,
  [onvifErrors.BAD_REQUEST]: 400,
  [onvifErrors.NOT_READY]: 503,
  [onvifErrors.DISCOVERY]: 409,
};

const addBody = z.object({ address: z.string().min(1).max(300), username: z.string().min(1).max(256).optional(), password: z.string().max(256).optional() }).strict()
  .refine((b) => (b.username === undefined) === (b.password === undefined), 'expected both username and password, or neither');
const uriQuery = z.object({ profile: z.string().max(100).optional(), fresh: z.enum(['0', '1', 'true', 'false']).optional(), device: z.string().max(200).optional(), address: z.string().max(300).optional() }).strict();

function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  // Messages name the field, never echo the value (a password could be in it).
  const details = r.error.issues.map((i) => `${what}${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
  throw new AppError(onvifErrors.BAD_REQUEST, `invalid ${what}: ${details.join('; ')}`, { details });
}

export function buildApp(opts: OnvifAppOptions = {}): OnvifApp {
  const cfg: OnvifConfig = { ...defaultConfig, ...opts.config };
  const log: LogLine = opts.log ?? objectLogger(processLogger());
  const { app, registry, addHealthCheck } = createAppServer({ name: 'onvif' });
  installFailpoints({ app }, { enabled: cfg.failpoints ?? false, app: 'onvif', ...(cfg.dataDir ? { dataDir: cfg.dataDir } : {}) });
  const events = new EventLog(log);
  let cameras: CameraRegistry | undefined;
  const metrics = createOnvifMetrics(registry, () => cameras?.counts() ?? { known: 0, reachable: 0 });
  cameras = new CameraRegistry(cfg, new CameraStore(cfg.storeFile), events, metrics);
  const reg = cameras;
  if (cfg.dataDir) addHealthCheck('data_dir', dataDirCheck(cfg.dataDir));

  // Routes live in their own scope so their error handler (app codes -> HTTP status) does not
  // override the common one that /healthz and /metrics use.
  void app.register(async (api) => routes(api, reg, events, log, cfg.apiToken));
  return { app, cameras: reg, events, start: () => reg.start(), stop: async () => { await app.close(); await reg.stop(); } };
}

function routes(app: FastifyInstance, reg: CameraRegistry, events: EventLog, log: LogLine, token?: string): void {
  if (token) {
    const want = createHash('sha256').update(token).digest();
    app.addHook('onRequest', async (req, reply) => {
      if (req.method === 'GET' || req.method === 'HEAD') return;
      const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      // Hashes compared: constant time whatever the length of what was sent.
      if (!timingSafeEqual(createHash('sha256').update(got).digest(), want)) return sendError(reply, 401, 'ONVIF_ERR_UNAUTHORIZED', 'changes need Authorization: Bearer <ONVIF_API_TOKEN>');
    });
  }
  app.setErrorHandler((err, req, reply) => {
    const code = (err as AppError).code;
    if (err instanceof AppError && code in statusOf) return sendError(reply, statusOf[code]!, code, err.message, err.details);
    const { status, body } = errorToHttp(err);
    // The cause goes to the log (redacted, like every line), the answer says only the code.
    if (status >= 500) req.log.error({ err, status, code: body.error.code, route: req.routeOptions.url ?? '' }, `${req.method} ${req.routeOptions.url ?? ''} -> ${status}: ${(err as Error)?.message ?? String(err)}`);
    return reply.code(status).type('application/json').send(body);
  });

  app.get('/cameras', async () => ({ cameras: reg.list(), partial: reg.partial() }));
  app.get<{ Params: { id: string } }>('/cameras/:id', async (req) => reg.get(req.params.id));
  app.get<{ Params: { id: string } }>('/cameras/:id/profiles', async (req) => ({ profiles: reg.get(req.params.id).profiles }));
  app.get<{ Params: { id: string } }>('/cameras/:id/stream-uri', async (req) => {
    const q = parseOr400(uriQuery, req.query, 'query');
    return { camera: req.params.id, ...(await reg.streamUri(req.params.id, q.profile, q.fresh === '1' || q.fresh === 'true')) };
  });
  // The camera controller's lookup: by device (id or endpoint reference) or by address.
  app.get('/stream-uri', async (req) => {
    const q = parseOr400(uriQuery, req.query, 'query');
    if (!q.device === !q.address) throw new AppError(onvifErrors.BAD_REQUEST, 'query: expected exactly one of device or address');
    const cam = reg.resolve({ device: q.device, address: q.address });
    return { camera: cam.id, ...(await reg.streamUri(cam.id, q.profile, q.fresh === '1' || q.fresh === 'true')) };
  });
  app.post('/cameras', async (req, reply: FastifyReply) => {
    const b = parseOr400(addBody, req.body, 'body');
    const view = await reg.add(b.address, b.username !== undefined ? { username: b.username, password: b.password ?? '' } : undefined);
    return reply.code(201).send(view);
  });
  app.delete<{ Params: { id: string } }>('/cameras/:id', async (req, reply) => {
    reg.remove(req.params.id);
    return reply.code(204).send();
  });
  app.delete('/cameras', async (req, reply) => {
    const q = parseOr400(z.object({ address: z.string().min(1).max(300) }).strict(), req.query, 'query');
    reg.remove(reg.resolve({ address: q.address }).id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>('/cameras/:id/refresh', async (req) => {
    reg.get(req.params.id);
    await reg.refresh(req.params.id);
    return reg.get(req.params.id);
  });
  app.put('/credentials/default', async (req, reply) => {
    const c = parseOr400(credentialsSchema, req.body, 'body');
    await reg.setDefaultCredentials(c);
    return reply.code(204).send();
  });
  app.post('/discovery', async () => {
    const run = await reg.runDiscovery('api');
    return {
      interfaces: run.interfaces, durationMs: run.durationMs, ignoredReplies: run.ignoredReplies,
      devices: run.devices.map((d) => ({ endpointReference: d.endpointReference, answeredFrom: d.answeredFrom, interface: d.interface, xaddrs: d.xaddrs, scopes: d.scopes })),
    };
  });
  app.get('/events', async (req) => {
    const since = Number((req.query as { since?: string }).since ?? 0);
    if (!Number.isSafeInteger(since) || since < 0) throw new AppError(onvifErrors.BAD_REQUEST, 'query.since: expected an integer >= 0');
    return { events: events.since(since) };
  });
}
