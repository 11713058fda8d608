/**
 * `http` probe: GET the URL; pass on an accepted status (default any 2xx/3xx) and, if asked, a
 * body containing a substring. A server that accepts the connection and never answers fails by
 * timeout (the socket is destroyed, never reused).
 */
import type { ProbeCheck } from '../spec/types.ts';
import type { ProbeFn } from './types.ts';
import { ProbeFailure, guardProbe } from './common.ts';
import { httpGet, type ConnectionSlot } from './http-get.ts';

export type HttpCheck = Extract<ProbeCheck, { kind: 'http' }>;

/** Enough body to find a health word; the rest is not read. */
const MAX_BODY_BYTES = 256 * 1024;

/** `200-399`, `200`, `200 or 204`, `200, 204 or 301`: the accepted statuses, in words. */
export function describeStatuses(status: readonly number[] | undefined): string {
  if (status === undefined || status.length === 0) return '200-399';
  if (status.length === 1) return String(status[0]);
  return `${status.slice(0, -1).join(', ')} or ${status[status.length - 1]}`;
}

export const httpProbe: ProbeFn<HttpCheck> = (check, target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, async (ctx) => {
    const res = await httpGet(check.url, { signal: ctx.signal, maxBytes: MAX_BODY_BYTES, slot: target.memory as ConnectionSlot, ...(check.headers ? { headers: check.headers } : {}) });
    const accepted = check.status && check.status.length > 0 ? check.status.includes(res.status) : res.status >= 200 && res.status <= 399;
    if (!accepted) throw new ProbeFailure(`status ${res.status}, expected ${describeStatuses(check.status)}`, res.status);
    if (check.bodyContains !== undefined && !res.body.includes(check.bodyContains)) {
      const excerpt = res.body.slice(0, 80).replace(/\s+/g, ' ').trim();
      const where = res.truncated ? ` in the first ${MAX_BODY_BYTES} bytes` : '';
      throw new ProbeFailure(`status ${res.status} but body does not contain "${check.bodyContains}"${where} (body starts "${excerpt}")`, res.status);
    }
    return { value: res.status };
  });
