/**
 * Errors raised before a route runs (by Node's HTTP parser or by fastify itself) answered with
 * the API's `{error:{code,message}}` contract and a stable code, like every other error. Without
 * this, a bad URL, a too-long parameter or oversized headers got fastify's or Node's own bodies.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { codes } from '../errors.ts';
import { apiCodes, type ApiCode, type ErrorBody } from './errors.ts';

/** The API takes no request bodies worth more than this (manual actions carry none). */
export const apiBodyLimit = 16 * 1024;

/** fastify's own 4xx codes -> our code and status (the status is the one fastify chose). */
const byFastifyCode: Record<string, { code: ApiCode; status: number; message?: string }> = {
  FST_ERR_BAD_URL: { code: codes.BAD_REQUEST, status: 400, message: 'the URL is not valid (bad percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { code: apiCodes.URI_TOO_LONG, status: 414, message: 'a path parameter is too long (at most 100 characters)' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: codes.BAD_REQUEST, status: 400, message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: codes.BAD_REQUEST, status: 400, message: 'the body is empty but content-type says JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: apiCodes.PAYLOAD_TOO_LARGE, status: 413 },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: apiCodes.UNSUPPORTED_MEDIA_TYPE, status: 415, message: 'unsupported content-type: send no body, or application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: codes.BAD_REQUEST, status: 400, message: 'the content-length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { code: codes.BAD_REQUEST, status: 400, message: 'the content-type header is not valid' },
};

/** Maps a fastify/HTTP-level 4xx error to a status and body, or undefined when it is not one. */
export function frameworkAnswer(err: unknown, bodyLimit: number): { status: number; body: ErrorBody } | undefined {
  const e = err as Partial<FastifyError> | null;
  const known = typeof e?.code === 'string' ? byFastifyCode[e.code] : undefined;
  if (known) {
    const message = known.code === apiCodes.PAYLOAD_TOO_LARGE ? `the body is too large (at most ${bodyLimit} bytes)` : known.message ?? 'bad request';
    return { status: known.status, body: { error: { code: known.code, message } } };
  }
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Another fastify 4xx: keep its status, never its message (it may quote internals).
    return { status, body: { error: { code: codes.BAD_REQUEST, message: 'bad request' } } };
  }
  return undefined;
}

/** fastify's `frameworkErrors` option: bad URL, too-long parameter. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const a = frameworkAnswer(err, 0) ?? { status: 400, body: { error: { code: codes.BAD_REQUEST, message: 'bad request' } } };
  void reply.code(a.status).type('application/json').send(a.body);
}

/**
 * fastify's `clientErrorHandler`: Node's HTTP parser refused the request (headers or URL over
 * the header size limit, a malformed request line). Answered on the raw socket, then closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : err.code === 'HPE_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason = tooLarge ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  const body: ErrorBody = {
    error: tooLarge
      ? { code: apiCodes.HEADERS_TOO_LARGE, message: 'the request line and headers are too large (at most 16 KB)' }
      : { code: codes.BAD_REQUEST, message: status === 408 ? 'the request took too long to arrive' : 'malformed HTTP request' },
  };
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}
