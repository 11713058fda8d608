import type { FastifyReply } from 'fastify';
import { EdgevisorError, codes, type ErrorCode } from '../errors.ts';

/**
 * Codes only the API produces (the core never needs them). Kept here, next to the status
 * mapping, so that every code a client can see is listed in this file or in ../errors.ts.
 */
export const apiCodes = {
  /** A mutation was asked for but no EDGEVISOR_TECHNICIAN_TOKEN is configured: mutations are off. */
  MUTATIONS_DISABLED: 'EDGEVISOR_ERR_NO_TECHNICIAN_TOKEN',
  /** No such route. */
  ROUTE_NOT_FOUND: 'EDGEVISOR_ERR_ROUTE_NOT_FOUND',
  /** A request body over the API's limit. */
  PAYLOAD_TOO_LARGE: 'EDGEVISOR_ERR_PAYLOAD_TOO_LARGE',
  /** A body of a content-type the API does not take. */
  UNSUPPORTED_MEDIA_TYPE: 'EDGEVISOR_ERR_UNSUPPORTED_MEDIA_TYPE',
  /** A path parameter (a child id) longer than any id. */
  URI_TOO_LONG: 'EDGEVISOR_ERR_URI_TOO_LONG',
  /** Request line + headers over Node's header size limit. */
  HEADERS_TOO_LARGE: 'EDGEVISOR_ERR_HEADERS_TOO_LARGE',
  /** A bug or an unexpected failure; the message is generic, details go to the log. */
  INTERNAL: 'EDGEVISOR_ERR_INTERNAL',
} as const;

export type ApiCode = ErrorCode | (typeof apiCodes)[keyof typeof apiCodes];

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: ApiCode; message: string };
}

/** The one place that decides which HTTP status an error code gets. */
const statusByCode: Partial<Record<ApiCode, number>> = {
  [codes.BAD_REQUEST]: 400,
  [codes.SPEC_INVALID]: 400,
  [codes.UNAUTHORIZED]: 401,
  [codes.FORBIDDEN]: 403,
  [apiCodes.MUTATIONS_DISABLED]: 403,
  [codes.UNKNOWN_CHILD]: 404,
  [apiCodes.ROUTE_NOT_FOUND]: 404,
  [codes.STATE_CONFLICT]: 409,
  [codes.CHILD_EXISTS]: 409,
  [codes.INNER_UNAVAILABLE]: 502,
  [apiCodes.PAYLOAD_TOO_LARGE]: 413,
  [apiCodes.URI_TOO_LONG]: 414,
  [apiCodes.UNSUPPORTED_MEDIA_TYPE]: 415,
  [apiCodes.HEADERS_TOO_LARGE]: 431,
};

export function statusFor(code: ApiCode): number {
  return statusByCode[code] ?? 500;
}

/** An error the API raises itself (auth, bad query...); carries an API code. */
export class ApiError extends Error {
  readonly code: ApiCode;
  constructor(code: ApiCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

export function badRequest(message: string): ApiError {
  return new ApiError(codes.BAD_REQUEST, message);
}

/**
 * Turns anything thrown in a handler into {status, body}. EdgevisorError and ApiError keep their
 * code; fastify's own 4xx (bad JSON, body too large...) keep their status with a stable code; the rest is a 500
 * with a generic message so internals never leak to a client.
 */
export function toErrorAnswer(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof EdgevisorError || err instanceof ApiError) {
    return { status: statusFor(err.code), body: { error: { code: err.code, message: err.message } } };
  }
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // fastify's own 4xx: app.ts maps the known ones first (framework-errors.ts); never quote the rest.
    return { status: statusCode, body: { error: { code: codes.BAD_REQUEST, message: 'bad request' } } };
  }
  return { status: 500, body: { error: { code: apiCodes.INTERNAL, message: 'internal error (see the supervisor log)' } } };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = toErrorAnswer(err);
  return reply.code(status).type('application/json').send(body);
}
