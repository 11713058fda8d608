import { createHash, randomBytes } from 'node:crypto';

/**
 * HTTP authentication as IP cameras do it: Basic, or Digest per RFC 7616 (MD5 or SHA-256, plain
 * or -sess, qop=auth; RFC 2617 style without qop is accepted too). One `HttpAuth` per camera keeps the last digest
 * challenge, so polling a snapshot costs one request per frame instead of two.
 */
export class HttpAuth {
  private challenge: DigestChallenge | undefined;
  private basic = false;
  private nc = 0;

  /** `opts.cnonce` replaces the random client nonce (tests check RFC 7616's worked examples). */
  constructor(private readonly username?: string, private readonly password = '', private readonly opts: { cnonce?: () => string } = {}) {}

  get hasCredentials(): boolean {
    return this.username !== undefined;
  }

  /** The Authorization header for a request, if we know the scheme already. */
  header(method: string, url: string): string | undefined {
    if (!this.username) return undefined;
    if (this.basic) return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    if (this.challenge) return this.digest(method, url, this.challenge);
    return undefined;
  }

  /**
   * Learns from a 401's WWW-Authenticate header. Returns true when a retry with new credentials
   * makes sense (a new scheme, or a stale nonce); false when the credentials themselves failed.
   */
  learn(wwwAuthenticate: string | null): boolean {
    if (!this.username || !wwwAuthenticate) return false;
    if (/^\s*digest\s/i.test(wwwAuthenticate)) {
      const c = parseChallenge(wwwAuthenticate);
      const retry = !this.challenge || c.stale === 'true' || c.nonce !== this.challenge.nonce;
      this.challenge = c;
      this.basic = false;
      this.nc = 0;
      return retry;
    }
    if (/^\s*basic/i.test(wwwAuthenticate)) {
      const retry = !this.basic;
      this.basic = true;
      return retry;
    }
    return false;
  }

  private digest(method: string, url: string, c: DigestChallenge): string {
    const uri = (() => { const u = new URL(url); return u.pathname + u.search; })();
    const algorithm = (c.algorithm ?? 'MD5').toUpperCase();
    // RFC 7616: MD5 or SHA-256, each optionally "-sess"; anything else is treated as MD5, which
    // is what cameras that send odd names mean.
    const h = algorithm.startsWith('SHA-256') ? sha256 : md5;
    const qop = c.qop?.split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
    const cnonce = this.opts.cnonce?.() ?? randomBytes(8).toString('hex');
    const nc = (++this.nc).toString(16).padStart(8, '0');
    let ha1 = h(`${this.username}:${c.realm}:${this.password}`);
    if (algorithm.endsWith('-SESS')) ha1 = h(`${ha1}:${c.nonce}:${cnonce}`);
    const ha2 = h(`${method}:${uri}`);
    const response = qop ? h(`${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${c.nonce}:${ha2}`);
    const parts = [`username="${this.username}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${uri}"`, `algorithm=${c.algorithm ?? 'MD5'}`, `response="${response}"`];
    if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
    if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
    return `Digest ${parts.join(', ')}`;
  }
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
  stale?: string;
  [k: string]: string | undefined;
}

/** Parses `Digest realm="x", nonce="y", qop="auth"` (quoted or token values). */
export function parseChallenge(header: string): DigestChallenge {
  const out: Record<string, string> = {};
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  const params = header.replace(/^\s*digest\s+/i, '');
  for (let m = re.exec(params); m; m = re.exec(params)) {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  }
  return { realm: '', nonce: '', ...out };
}

export const md5 = (s: string) => createHash('md5').update(s).digest('hex');
export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
