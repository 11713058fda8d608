// HTTP digest (RFC 7616, MD5 and SHA-256, qop=auth) for the cameras that refuse WS-Security.
// Small and local: the camera app's copy lives in another app, and apps share only apps/common.
import { createHash, randomBytes } from 'node:crypto';

/** A parsed `WWW-Authenticate: Digest ...` challenge. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
  [k: string]: string | undefined;
}

/** Parses `Digest realm="x", nonce="y", qop="auth"`; undefined when it is not a digest challenge. */
export function parseDigestChallenge(header: string | null): DigestChallenge | undefined {
  if (!header || !/^\s*digest\s/i.test(header)) return undefined;
  const out: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  const params = header.replace(/^\s*digest\s+/i, '');
  for (let m = re.exec(params); m; m = re.exec(params)) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return out.nonce ? { realm: '', nonce: '', ...out } : undefined;
}

/**
 * One camera's digest state: the last challenge, reused for the next requests (nc counts up), so
 * a camera known to want digest costs one round trip per call instead of the 401 + retry the
 * `onvif` package makes every time.
 */
export class DigestSession {
  private nc = 0;
  constructor(readonly challenge: DigestChallenge, private readonly username: string, private readonly password: string) {}

  authorization(method: string, uri: string): string {
    const c = this.challenge;
    const alg = (c.algorithm ?? 'MD5').toUpperCase();
    const h = (s: string) => createHash(alg.startsWith('SHA-256') ? 'sha256' : 'md5').update(s).digest('hex');
    const qop = c.qop?.split(',').map((q) => q.trim()).find((q) => q === 'auth');
    const nc = (++this.nc).toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    let ha1 = h(`${this.username}:${c.realm}:${this.password}`);
    if (alg.endsWith('-SESS')) ha1 = h(`${ha1}:${c.nonce}:${cnonce}`);
    const ha2 = h(`${method}:${uri}`);
    const response = qop ? h(`${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${c.nonce}:${ha2}`);
    const parts = [`username="${this.username}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${uri}"`, `algorithm=${c.algorithm ?? 'MD5'}`, `response="${response}"`];
    if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
    if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
    return `Digest ${parts.join(', ')}`;
  }
}
