/**
 * JSON log lines (pino, also fastify's own logger) for the supervisor and, through
 * apps/common/src/log.ts (which adds the camera-credential redaction), every app.
 *
 * Every line has `time` (ISO), `level` (a word: info, warn, error...), `app`, `msg`, and where it
 * applies `child` (the supervisor's child id, or the camera id of a camera worker), `reqId` and
 * `err` ({type, message, code, stack, cause}; the stack with file names only, no server paths).
 *
 * Destination: pino's default, a synchronous sonic-boom on fd 1 (stdout). No transport and no
 * worker thread (one more thing that could hang unsupervised); synchronous so the lines written
 * just before process.exit (drain, start failed) are never lost. Cost measured in
 * test/bench/log.bench.ts (docs/benchmarks.md).
 *
 * pino and fastify are loaded when first used (createRequire, as the Docker client loads
 * dockerode): importing the public entry stays as light as before for library users.
 */
import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import type { TreeEvent } from './core/events.ts';
import type { DestinationStream, LevelWithSilent, Logger as PinoLogger } from 'pino';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, LogController as FastifyLogController } from 'fastify';

const load = createRequire(import.meta.url);

/** A pino logger (`logger.info({ fields }, 'message')`, `logger.child({ child: 'camera' })`). */
export type Logger = PinoLogger;

export { LOG_LEVELS, parseLogLevel } from './log-level.ts';

/** How {@link createLogger} builds a logger. */
export interface LoggerOptions {
  /** `web`, `camera`, `inference`, `onvif`, `vacuum`, `supervisor` (or a test's name). */
  app: string;
  /** Default `info`. */
  level?: LevelWithSilent;
  /** Where lines go (default stdout, synchronously). A test passes its own stream to read them. */
  destination?: DestinationStream;
  /** More fixed fields on every line (`child`). */
  base?: Record<string, unknown>;
  /** Applied to each whole serialized line before it is written (the apps' redaction). */
  rewriteLine?: (line: string) => string;
}

/** A pino logger writing JSON lines (see the module doc). */
export function createLogger(opts: LoggerOptions): Logger {
  const { pino } = load('pino') as typeof import('pino');
  const options = {
    level: opts.level ?? 'info',
    base: { app: opts.app, ...opts.base },
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError },
    ...(opts.rewriteLine ? { hooks: { streamWrite: opts.rewriteLine } } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** Longest request id accepted from a client (`x-request-id`); a longer or odd one is replaced. */
export const MAX_REQUEST_ID = 64;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * The request id of an incoming request: the client's `x-request-id` when it is short (at most 64
 * characters) and safe (letters, digits, `.`, `_`, `:`, `-`: nothing a log viewer or a header
 * could misread), else a fresh one.
 */
export function requestIdFor(header: string | string[] | undefined, fresh: () => string = freshRequestId): string {
  const h = Array.isArray(header) ? header[0] : header;
  return h !== undefined && h.length <= MAX_REQUEST_ID && SAFE_ID.test(h) ? h : fresh();
}

let counter = 0;
const prefix = Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0');
/** `r` + 6 random hex digits (per process) + a 6-digit counter: unique in a process, rarely across restarts. */
export function freshRequestId(): string {
  counter = (counter + 1) % 0x1000000;
  return `r${prefix}${counter.toString(16).padStart(6, '0')}`;
}

/** Absolute paths in a stack frame (`at f (/srv/edgevisor/apps/web/src/app.ts:12:3)`) cut to the file name. */
const STACK_PATH = /(\(|\bat )(?:file:\/\/)?(?:\/[^\s()/:]+)+\/([^\s()/:]+(?::\d+){0,2})/g;
const MAX_CAUSES = 5;

/** The `err` field: type, message, code, stack (file names only) and the cause chain. */
export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: unknown; statusCode?: unknown; details?: unknown };
  const out: Record<string, unknown> = { type: e.name, message: e.message };
  if (e.code !== undefined) out['code'] = e.code;
  if (typeof e.statusCode === 'number') out['statusCode'] = e.statusCode;
  if (Array.isArray(e.details) && e.details.length) out['details'] = e.details;
  if (e.stack) out['stack'] = e.stack.replace(STACK_PATH, '$1$2');
  if (e.cause !== undefined && depth < MAX_CAUSES) out['cause'] = serializeError(e.cause, depth + 1);
  return out;
}

/**
 * What fastify logs per request. Its default (two info lines per request) would drown a log in
 * probe and frame polls: here one line per completed request, at `debug` for a GET/HEAD that
 * succeeded (LOG_LEVEL=debug shows them) and for a 401/403 (refusals are counted and logged rate
 * limited where they matter: a flood of them must not flood the log), `info` for an action
 * (POST...) or another 4xx, `warn` for a 5xx (the error handler has logged the cause at `error`).
 */
let RequestLog: (new () => FastifyLogController) | undefined;
const requestLog = () => (RequestLog ??= class extends (load('fastify') as typeof import('fastify')).LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const level = status >= 500 || error ? 'warn'
      : status === 401 || status === 403 ? 'debug'
      : status >= 400 || (request.method !== 'GET' && request.method !== 'HEAD') ? 'info' : 'debug';
    const path = request.url.split('?')[0]!.slice(0, 200);
    reply.log[level]({ method: request.method, path, status, ms: Math.round(reply.elapsedTime * 10) / 10 }, `${request.method} ${path} -> ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd());
  }
  override routeNotFound(): void {}
});

/**
 * Fastify options that make `logger` its logger: `reqId` on every request line, taken from an
 * incoming `x-request-id` when short and safe (requestIdFor), and one line per request (RequestLog).
 * Register `echoRequestId` on the instance to send the id back.
 */
export function fastifyLogging(logger: Logger) {
  return {
    loggerInstance: logger as FastifyBaseLogger,
    requestIdHeader: false as const,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFor(req.headers['x-request-id']),
    logController: new (requestLog())(),
  };
}

/** An onRequest hook: every answer carries `x-request-id` (the one its log lines have). */
export async function echoRequestId(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  void reply.header('x-request-id', req.id);
}

/** The level of a tree event's line: trouble as warn, a root that gave up (alarm) as error. */
export function eventLevel(ev: TreeEvent): 'info' | 'warn' | 'error' {
  if (ev.type === 'alarm' || ev.to === 'failed') return 'error';
  if (ev.type === 'exit' || ev.type === 'restart' || ev.type === 'escalation' || (ev.type === 'probe' && ev.data?.['ok'] === false) || ev.to === 'unhealthy') return 'warn';
  return 'info';
}

/** Logs one tree event: `child`, `event` (its type), `seq`, `from`/`to`, `data`; msg is the reason. */
export function logEvent(logger: Logger, ev: TreeEvent): void {
  const change = ev.from || ev.to ? `${ev.from ?? '?'} -> ${ev.to ?? '?'}: ` : '';
  logger[eventLevel(ev)](
    { child: ev.child, event: ev.type, seq: ev.seq, ...(ev.from ? { from: ev.from } : {}), ...(ev.to ? { to: ev.to } : {}), ...(ev.data ? { data: ev.data } : {}) },
    `${ev.type}: ${change}${ev.reason}`,
  );
}
