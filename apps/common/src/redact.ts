/**
 * The one redaction every text that can carry a camera URL or credential passes through before it
 * leaves the process: error messages (AppError redacts on construction), HTTP answers (an onSend
 * hook of createAppServer, /healthz and /metrics included), log lines (`redactingLog`), events.
 *
 * Two layers, because neither alone is enough:
 * - patterns: URLs with userinfo (`rtsp://admin:pw@host` -> `rtsp://***@host`, in any scheme,
 *   anywhere in a text), bare `user:pass@host`, secret query parameters (`password=`, `token=`,
 *   ...), Authorization / Basic / Digest / Bearer credentials;
 * - known secrets: the passwords of the loaded configuration (`registerSecret`), replaced in every
 *   spelling they may take in a text (as given, percent-encoded, percent-decoded, JSON-escaped,
 *   base64 of `user:password`), so a tool that prints a decoded password (ffmpeg does with some
 *   errors) cannot leak it either.
 *
 * The registry is process-wide on purpose: a secret must be redacted wherever it shows up, and a
 * new call site that forgets to pass a redactor along is exactly the bug this module exists for.
 * Own code rather than a library: the text is ours (one regex pass per pattern, no allocation when
 * nothing matches), and no maintained package covers URLs + Digest headers + known secrets.
 */

import { lineLogger, processLogger } from './log.ts';

/** What replaces a secret. */
export const REDACTED = '***';

/** Secrets shorter than this are not replaced by value (a 1-3 character password would garble every text); patterns still cover them. */
const MIN_SECRET_LENGTH = 4;

// Characters a secret pattern never crosses: whitespace, quotes and angle brackets end a token in
// logs and JSON, so redacting never breaks the JSON an answer carries.
const STOP = `\\s"'<>\\\\`;

/** `scheme://userinfo@` (userinfo up to the last @ before the host part; `:` optional). */
const URL_USERINFO = new RegExp(`\\b([a-z][a-z0-9+.-]{1,15}://)[^${STOP}/?#]*@`, 'gi');
/** A bare `user:pass@host` (no scheme): `name:secret@`. */
const BARE_USERINFO = new RegExp(`(^|[${STOP}(=,;\\[])[^${STOP}:/@()=,;\\[\\]]+:[^${STOP}/@]+@(?=[\\w\\[])`, 'g');
/**
 * `password=x`, `"passwd":"x"`, `secret: x` (query strings, form bodies, JSON, key=value logs).
 * Names that are only sometimes secret (`token`, `auth`, `sig`, `credentials`) count only as URL or
 * form parameters (`token=x`): as JSON keys they are identifiers here (an ONVIF profile's
 * `"token":"main"`, a camera's `"auth":"ws-security"`, `"credentials":"camera"`). Configured
 * tokens and passwords are redacted by value wherever they appear (registerSecret).
 */
const SECRET_PARAM = new RegExp(
  `\\b((?:(?:pass(?:word|wd)?|pwd|secret|access_token|refresh_token|api_?key|signature)(?:"\\s*:\\s*"|=|:\\s*)|(?:token|auth|sig|credentials?)=))[^${STOP}&;,]+`,
  'gi',
);
/** Authorization headers and bare scheme credentials: `Basic dXNlcjpwdw==`, `Digest username="a", response="..."`, `Bearer x`. */
const AUTH_HEADER = /\b((?:proxy-)?authorization\s*[:=]\s*)(?:Basic|Bearer|Digest)?[^\r\n"\\,]*/gi;
const AUTH_SCHEME = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{6,}/g;
/** Digest credentials (the response hash can be cracked offline, the username helps): `response="..."`. */
const DIGEST_PARAM = /\b(response|username|cnonce)=(\\?"?)[^"\\,\s]*/gi;

/** Every word the parameter and header patterns begin with (a superset: a hit only means "look closer"). */
const KEYWORDS = /pass|pwd|secret|token|api_?key|auth|sig|credential|basic|bearer|digest|response=|username=|cnonce=/i;

const known = new Set<string>();
let knownRe: RegExp | undefined;

/** Registers a secret (a password, a token) to be replaced wherever it appears, in all its spellings. */
export function registerSecret(secret: string | undefined | null, username?: string): void {
  if (!secret) return;
  const bases = [secret];
  try { bases.push(decodeURIComponent(secret)); } catch { /* not percent-encoded */ }
  const forms = new Set<string>();
  for (const b of bases) {
    const enc = encodeURIComponent(b);
    // Upper- and lower-case hex escapes are both valid percent-encodings.
    for (const f of [b, enc, enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), JSON.stringify(b).slice(1, -1)]) forms.add(f);
  }
  if (username !== undefined) {
    forms.add(Buffer.from(`${username}:${secret}`).toString('base64'));
    try { forms.add(Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(secret)}`).toString('base64')); } catch { /* not encoded */ }
  }
  let added = false;
  for (const f of forms) if (f.length >= MIN_SECRET_LENGTH && !known.has(f)) { known.add(f); added = true; }
  if (added) knownRe = undefined;
}

/** Registers the password of a URL's userinfo (`rtsp://user:pass@host/...`), if it has one. */
export function registerUrlSecrets(url: string): void {
  try {
    const u = new URL(url);
    if (u.password) registerSecret(u.password, u.username);
    for (const [k, v] of u.searchParams) if (/pass|pwd|token|secret|key|sig|auth/i.test(k)) registerSecret(v);
  } catch { /* not a URL: patterns still apply */ }
}

/**
 * Registers every secret found in a parsed config value: fields named like a password, token or
 * secret, and the userinfo of every URL string. Walks the whole value, so a source kind added
 * later (with its own credential fields) is covered without touching this module.
 */
export function registerSecretsIn(value: unknown, depth = 0): void {
  if (depth > 32 || value === null || typeof value !== 'object') {
    if (typeof value === 'string' && value.includes('://')) registerUrlSecrets(value);
    return;
  }
  const obj = value as Record<string, unknown>;
  const user = typeof obj.username === 'string' ? obj.username : typeof obj.user === 'string' ? obj.user : undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string' && /^(pass(word|wd)?|pwd|secret|token|api_?key)$/i.test(k)) registerSecret(v, user);
    else registerSecretsIn(v, depth + 1);
  }
}

/** Forgets every registered secret (tests only). */
export function clearSecrets(): void {
  known.clear();
  knownRe = undefined;
}

function knownPattern(): RegExp | undefined {
  if (known.size === 0) return undefined;
  // Longest first, so a secret that contains another is replaced whole.
  knownRe ??= new RegExp([...known].sort((a, b) => b.length - a.length).map(escapeRe).join('|'), 'g');
  return knownRe;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A text with every credential replaced by `***`. Cheap when there is nothing to replace. */
export function redactSecrets(text: string): string {
  if (!text) return text;
  let out = text;
  const kr = knownPattern();
  if (kr) out = out.replace(kr, REDACTED);
  // Quick pre-checks keep the common case (no @, no '=' or ':') to a few indexOf calls.
  if (out.includes('@')) {
    out = out.replace(URL_USERINFO, `$1${REDACTED}@`);
    out = out.replace(BARE_USERINFO, `$1${REDACTED}@`);
  }
  // One scan for any keyword the remaining patterns start with; most texts have none.
  if (!KEYWORDS.test(out)) return out;
  out = out.replace(SECRET_PARAM, `$1${REDACTED}`);
  out = out.replace(AUTH_HEADER, `$1${REDACTED}`).replace(AUTH_SCHEME, `$1 ${REDACTED}`).replace(DIGEST_PARAM, `$1=$2${REDACTED}`);
  return out;
}

/** A URL for messages: without userinfo and secret parameters (`rtsp://***@host/path`). */
export function redactUrl(url: string): string {
  return redactSecrets(url);
}

/** True if the text still holds a registered secret or a credential pattern (tests, assertions). */
export function containsSecret(text: string): boolean {
  return redactSecrets(text) !== text;
}

/**
 * A log function whose every line is redacted first; `sink` defaults to the process's JSON logger
 * (log.ts: the line becomes `msg`, its level from its words; that logger redacts again, whole).
 */
export function redactingLog(sink?: (line: string) => void): (line: string) => void {
  const out = sink ?? ((line: string) => lineLogger(processLogger())(line));
  return (line) => out(redactSecrets(line));
}
