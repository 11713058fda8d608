import type { FastifyReply } from 'fastify';
import { codes, EdgevisorError } from 'edgevisor';
import { redactSecrets } from './redact.ts';

/**
 * An application-level error with a stable, app-prefixed code (`CAMERA_ERR_NO_FRAME`,
 * `INFERENCE_ERR_MODEL_LOAD`). The supervisor's own codes stay in supervisor/src/errors.ts;
 * apps own theirs so that adding one never touches the supervisor.
 *
 * The message and details are redacted on construction (apps/common/src/redact.ts): a camera URL
 * with a password, an ffmpeg stderr line quoting it, never survives into an error, so no call site
 * can forget. (`cause` keeps the original for debugging in-process; it is never answered or logged.)
 */
export class AppError extends Error {
  readonly code: string;
  readonly details: readonly string[];
  constructor(code: string, message: string, opts: { cause?: unknown; details?: readonly string[] } = {}) {
    super(redactSecrets(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = (opts.details ?? []).map(redactSecrets);
  }
}

/** The JSON body of every error answer: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; details?: readonly string[] };
}

/** Replies with the standard error body. Routes use this for expected failures (404, 503...). */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: readonly string[]): FastifyReply {
  const body: ErrorBody = { error: { code, message: redactSecrets(message), ...(details && details.length ? { details: details.map(redactSecrets) } : {}) } };
  return reply.code(status).type('application/json').send(body);
}

const edgevisorStatus: Partial<Record<string, number>> = {
  [codes.SPEC_INVALID]: 400,
  [codes.BAD_REQUEST]: 400,
  [codes.UNAUTHORIZED]: 401,
  [codes.FORBIDDEN]: 403,
  [codes.UNKNOWN_CHILD]: 404,
  [codes.STATE_CONFLICT]: 409,
};

/**
 * Maps a thrown error to (status, body). Unknown errors are 500 with code `APP_ERR_INTERNAL` and a
 * fixed message: their text may carry server paths or internals (logged, never answered).
 */
export function errorToHttp(err: unknown): { status: number; body: ErrorBody } {
  const { status, body } = mapError(err);
  return { status, body: { error: { ...body.error, message: redactSecrets(body.error.message), ...(body.error.details ? { details: body.error.details.map(redactSecrets) } : {}) } } };
}

function mapError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof EdgevisorError) {
    return { status: edgevisorStatus[err.code] ?? 500, body: { error: { code: err.code, message: err.message, details: err.details } } };
  }
  if (err instanceof AppError) return { status: 500, body: { error: { code: err.code, message: err.message, details: err.details } } };
  const e = err as { statusCode?: number; code?: string; message?: string };
  // Fastify's own errors (validation, 404 route, body too large) carry statusCode + FST_ERR_* code.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: { code: e.code ?? 'APP_ERR_BAD_REQUEST', message: e.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'APP_ERR_INTERNAL', message: 'internal error (logged by the app)' } } };
}
