import { randomBytes } from 'node:crypto';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from '../../../common/src/http-digest.ts';

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
      const c = parseDigestChallenge(wwwAuthenticate);
      if (!c) return false;
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
    const u = new URL(url);
    const cnonce = this.opts.cnonce?.() ?? randomBytes(8).toString('hex');
    return digestAuthorization(c, { method, uri: u.pathname + u.search, username: this.username!, password: this.password, nc: ++this.nc, cnonce });
  }
}

