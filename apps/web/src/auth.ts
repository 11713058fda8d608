/**
 * Who is asking, and may they. Operators (viewers) see everything and change nothing; a technician
 * signs in with the site's technician token or an install-time password and gets a session cookie
 * (HttpOnly, SameSite=Strict, expiring). Mutations also need same-origin (Sec-Fetch-Site / Origin)
 * and the session's CSRF token in `x-csrf-token`. Hosts are checked against an allow-list so a
 * rebound DNS name cannot read the API from a browser (IP literals cannot be rebound).
 *
 * Sessions are stateless HMAC-signed cookies (key in DATA_DIR, 0600), so they survive a web app
 * restart; sign-out revokes a session's nonce in memory until it expires.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../../common/src/index.ts';
import { matchPassword, type PasswordEntry, type Role } from './passwords.ts';

export interface AuthOptions {
  technicianToken?: string;
  viewerToken?: string;
  passwords: readonly PasswordEntry[];
  requireSignin: boolean;
  sessionTtlMs: number;
  /** HMAC key of the session cookies. */
  secret: Buffer;
  /** Host names (no port) accepted besides IP literals and localhost. */
  allowedHosts: readonly string[];
}

export interface Session { role: Role; expiresAt: number; nonce: string; csrf: string }

export const COOKIE = 'edgevisor_session';
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const b64 = (b: Buffer) => b.toString('base64url');

export function createAuth(o: AuthOptions) {
  const tech = o.technicianToken ? digest(o.technicianToken) : null;
  const viewer = o.viewerToken ? digest(o.viewerToken) : null;
  const revoked = new Map<string, number>();
  const failures = new Map<string, { n: number; since: number }>();
  const hosts = new Set(['localhost', ...o.allowedHosts.map((h) => h.toLowerCase())]);
  const mac = (s: string) => b64(createHmac('sha256', o.secret).update(s).digest());

  const issue = (role: Role, now = Date.now()): { cookie: string; session: Session } => {
    const nonce = b64(randomBytes(12));
    const expiresAt = now + o.sessionTtlMs;
    const body = `${role}.${expiresAt}.${nonce}`;
    return { cookie: `${body}.${mac(body)}`, session: { role, expiresAt, nonce, csrf: mac(`csrf:${nonce}`) } };
  };

  const read = (raw: string | undefined, now = Date.now()): Session | null => {
    if (!raw || raw.length > 200) return null;
    const m = /^(viewer|technician)\.(\d{1,15})\.([\w-]{16})\.([\w-]{43})$/.exec(raw);
    if (!m) return null;
    const expect = Buffer.from(mac(`${m[1]}.${m[2]}.${m[3]}`));
    const got = Buffer.from(m[4]!);
    if (expect.length !== got.length || !timingSafeEqual(expect, got)) return null;
    const expiresAt = Number(m[2]);
    if (expiresAt <= now || revoked.has(m[3]!)) return null;
    return { role: m[1] as Role, expiresAt, nonce: m[3]!, csrf: mac(`csrf:${m[3]}`) };
  };

  /** Which role a presented secret grants (the highest it matches), or null. */
  const signIn = async (secret: string): Promise<Role | null> => {
    const d = digest(secret);
    // Both token comparisons always run, so the timing does not say which matched.
    const isTech = tech !== null && timingSafeEqual(d, tech);
    const isViewer = viewer !== null && timingSafeEqual(d, viewer);
    const pw = o.passwords.length ? await matchPassword(o.passwords, secret) : [];
    if (isTech || pw.includes('technician')) return 'technician';
    if (isViewer || pw.includes('viewer')) return 'viewer';
    return null;
  };

  /** Host allow-list: a rebound name cannot pass; IP literals and localhost always can. */
  const hostAllowed = (host: string | undefined): boolean => {
    if (!host) return false;
    const h = host.toLowerCase();
    const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.replace(/:\d+$/, '');
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':')) return true;
    return hosts.has(name) || name.endsWith('.localhost');
  };

  /** Same-origin check for a state-changing request (sign-in included). Null when fine. */
  const crossSite = (req: FastifyRequest): string | null => {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${site}`;
    const origin = req.headers.origin;
    if (typeof origin === 'string') {
      let oh: string;
      try { oh = new URL(origin).host; } catch { return 'Origin is not a URL'; }
      if (oh.toLowerCase() !== String(req.headers.host ?? '').toLowerCase()) return 'Origin is another site';
    }
    return null;
  };

  const tooManyFailures = (ip: string, now = Date.now()): boolean => {
    const f = failures.get(ip);
    if (!f || now - f.since > 60_000) return false;
    return f.n >= 10;
  };
  const noteFailure = (ip: string, now = Date.now()) => {
    const f = failures.get(ip);
    if (!f || now - f.since > 60_000) failures.set(ip, { n: 1, since: now });
    else f.n++;
    if (failures.size > 10_000) failures.clear();
  };

  return {
    issue, read, signIn, hostAllowed, crossSite, tooManyFailures, noteFailure,
    requireSignin: o.requireSignin,
    technicianSignInPossible: tech !== null || o.passwords.some((p) => p.role === 'technician'),
    revoke(s: Session) {
      revoked.set(s.nonce, s.expiresAt);
      const now = Date.now();
      for (const [n, exp] of revoked) if (exp <= now) revoked.delete(n);
    },
    /** The session of a request (cookie), or null. */
    session(req: FastifyRequest): Session | null {
      return read((req.cookies as Record<string, string | undefined> | undefined)?.[COOKIE]);
    },
    /** The role a request acts with: its session's, else viewer unless the site needs sign-in. */
    role(req: FastifyRequest): Role | null {
      const s = read((req.cookies as Record<string, string | undefined> | undefined)?.[COOKIE]);
      if (s) return s.role;
      return o.requireSignin ? null : 'viewer';
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;

/**
 * Route onRequest hooks (they run before a body is read, so junk from a stranger is refused
 * unparsed): `viewer` (any role; sign-in when required), `technician` (+ CSRF and same-origin on
 * mutations).
 */
export function guards(auth: Auth) {
  const viewer = async (req: FastifyRequest, reply: FastifyReply) => {
    const role = auth.role(req);
    if (!role) return sendError(reply, 401, 'WEB_ERR_SIGNIN_REQUIRED', 'this site needs a sign-in to view the dashboard');
    req.webRole = role;
  };
  const technician = async (req: FastifyRequest, reply: FastifyReply) => {
    const s = auth.session(req);
    if (!s) return sendError(reply, 401, 'WEB_ERR_SIGNIN_REQUIRED', 'sign in as a technician first');
    if (s.role !== 'technician') return sendError(reply, 403, 'WEB_ERR_TECHNICIAN_ONLY', 'this action needs a technician; you are signed in as a viewer');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const why = auth.crossSite(req);
      if (why) return sendError(reply, 403, 'WEB_ERR_CROSS_SITE', `refused a cross-site request (${why})`);
      const token = req.headers['x-csrf-token'];
      const a = Buffer.from(typeof token === 'string' ? token : '');
      const b = Buffer.from(s.csrf);
      if (a.length !== b.length || !timingSafeEqual(a, b)) return sendError(reply, 403, 'WEB_ERR_CSRF', 'missing or wrong x-csrf-token header (GET /api/session gives it)');
    }
    req.webRole = 'technician';
  };
  return { viewer, technician };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the web app's guards. */
    webRole?: Role;
  }
}
