/**
 * HTTP digest authentication as IP cameras speak it (RFC 7616: MD5 or SHA-256, plain or -sess,
 * qop=auth; RFC 2617 style without qop too). The pure parts only: parsing a challenge and
 * computing one Authorization header. The camera app's sources (snapshot, MJPEG) and the onvif
 * app's SOAP client keep their own per-camera state (the last challenge, the nonce count) around it.
 */
import { createHash } from 'node:crypto';

/** A parsed `WWW-Authenticate: Digest ...` challenge. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
  stale?: string;
  [k: string]: string | undefined;
}

/** Parses `Digest realm="x", nonce="y", qop="auth"` (quoted or token values); undefined when it is not a digest challenge (or has no nonce). */
export function parseDigestChallenge(header: string | null | undefined): DigestChallenge | undefined {
  if (!header || !/^\s*digest\s/i.test(header)) return undefined;
  const out: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  const params = header.replace(/^\s*digest\s+/i, '');
  for (let m = re.exec(params); m; m = re.exec(params)) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return out.nonce ? { realm: '', nonce: '', ...out } : undefined;
}

export const md5 = (s: string) => createHash('md5').update(s).digest('hex');
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The `Authorization: Digest ...` value for one request; `nc` is this request's count (1, 2, ...). */
export function digestAuthorization(c: DigestChallenge, r: { method: string; uri: string; username: string; password: string; nc: number; cnonce: string }): string {
  const algorithm = (c.algorithm ?? 'MD5').toUpperCase();
  // Anything but SHA-256 is treated as MD5, which is what cameras that send odd names mean.
  const h = algorithm.startsWith('SHA-256') ? sha256 : md5;
  const qop = c.qop?.split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
  const nc = r.nc.toString(16).padStart(8, '0');
  let ha1 = h(`${r.username}:${c.realm}:${r.password}`);
  if (algorithm.endsWith('-SESS')) ha1 = h(`${ha1}:${c.nonce}:${r.cnonce}`);
  const ha2 = h(`${r.method}:${r.uri}`);
  const response = qop ? h(`${ha1}:${c.nonce}:${nc}:${r.cnonce}:${qop}:${ha2}`) : h(`${ha1}:${c.nonce}:${ha2}`);
  const parts = [`username="${r.username}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${r.uri}"`, `algorithm=${c.algorithm ?? 'MD5'}`, `response="${response}"`];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${r.cnonce}"`);
  if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}
