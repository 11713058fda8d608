/**
 * A small HTTP fuzzer for the apps: random methods, paths built from the app's own routes with
 * hostile segments, junk query strings and bodies, sent over real HTTP (node:http, so malformed
 * percent-encodings and odd methods go out as written). Deterministic from a seed; every answer is
 * handed to `check`, which collects what is wrong.
 */
import { request } from 'node:http';

/** A seeded PRNG (mulberry32): the same seed replays the same requests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Hostile path segments and query values. */
export const JUNK = [
  '', '0', '-1', '1', '2', '1e400', '9'.repeat(400), '99999999999999999999', 'NaN', 'Infinity', '0x10', ' ', '%20', '%00', '%', '%zz', '%E0%A4%A',
  '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f', '<script>alert(1)</script>', "'; DROP TABLE safety_events; --", '{"a":1}', '[]', 'null',
  'true', '\u00e9\u00e8', '%F0%9F%92%A5', 'a'.repeat(5000), 'x'.repeat(70), '__proto__', 'constructor', 'synthetic-1', 'door', 'cam1',
];

/** Requests every fuzz run sends once: framework-level refusals (bad URL, too-long segment, 431). */
export const FIXED_HOSTILE: readonly { method: string; path: string }[] = [
  { method: 'GET', path: `/cameras/${'a'.repeat(5000)}/frame.jpg` },
  { method: 'GET', path: `/events/${'9'.repeat(5000)}/pin` },
  { method: 'GET', path: '/%zz' },
  { method: 'GET', path: '/cameras/%/frame.jpg' },
  { method: 'GET', path: `/x?${'a=1&'.repeat(20_000)}` },
  { method: 'GET', path: `/${'../'.repeat(50)}etc/passwd` },
  { method: 'GET', path: '/healthz?strict=1' },
];

export const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND'];

export interface FuzzAnswer { method: string; path: string; status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request; resolves with the answer (status 0 when the connection failed or timed out). */
export function send(base: URL, method: string, path: string, body?: { type: string; data: string | Buffer }, timeoutMs = 10_000): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {};
    if (body) { headers['content-type'] = body.type; headers['content-length'] = Buffer.byteLength(body.data); }
    // node refuses spaces and non-ASCII in a request line: encode those, keep malformed % escapes as they are.
    const wire = path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
    const req = request({ host: base.hostname, port: base.port, method, path: wire, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // A stream (stream.mjpeg) never ends: a few KB are enough to inspect.
        if (size < 200_000) chunks.push(c);
        else res.destroy();
      });
      const done = () => resolve({ method, path, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') });
      res.on('end', done);
      res.on('close', done);
      if (/multipart\/x-mixed-replace/.test(String(res.headers['content-type']))) setTimeout(() => res.destroy(), 300);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ method, path, status: 0, headers: {}, body: String(err) }));
    req.end(body?.data);
  });
}

/** A random request against `routes` (templates with `:id`). */
export function randomRequest(rnd: () => number, routes: readonly string[], queryKeys: readonly string[]): { method: string; path: string; body?: { type: string; data: string | Buffer } } {
  const method = pick(rnd, METHODS);
  let path = pick(rnd, routes).replace(/:id/g, () => (rnd() < 0.3 ? pick(rnd, ['1', '2', 'synthetic-1', 'door', 'cam1']) : pick(rnd, JUNK)));
  if (rnd() < 0.15) path += pick(rnd, ['/', '//', '/x', '.json', '%2f..', '?']);
  if (rnd() < 0.7) {
    const n = 1 + Math.floor(rnd() * 4);
    const qs: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = rnd() < 0.8 ? pick(rnd, queryKeys) : pick(rnd, JUNK).slice(0, 50);
      qs.push(rnd() < 0.1 ? k : `${k}=${pick(rnd, JUNK)}`);
    }
    path += (path.includes('?') ? '&' : '?') + qs.join('&');
  }
  if (!path.startsWith('/')) path = `/${path}`;
  let body: { type: string; data: string | Buffer } | undefined;
  if (method !== 'GET' && method !== 'HEAD' && rnd() < 0.6) {
    body = pick(rnd, [
      { type: 'application/json', data: '{"pinned": true' },
      { type: 'application/json', data: '{"__proto__": {"polluted": 1}}' },
      { type: 'application/json', data: JSON.stringify({ a: 'b'.repeat(2_000_000) }) },
      { type: 'application/json', data: '[' .repeat(10_000) },
      { type: 'text/plain', data: 'hello' },
      { type: 'application/x-www-form-urlencoded', data: 'a=1&b=%zz' },
      { type: 'application/octet-stream', data: Buffer.alloc(4096, 0xff) },
    ]);
  }
  return { method, path, ...(body ? { body } : {}) };
}

/** What every answer must not contain: a stack trace, a source path, or any of `secrets`. */
export function answerProblems(a: FuzzAnswer, secrets: readonly string[], serverPaths: readonly string[], allow5xx: (a: FuzzAnswer) => boolean): string[] {
  const out: string[] = [];
  const where = `${a.method} ${a.path.slice(0, 120)} -> ${a.status}`;
  if (a.status === 0) out.push(`${where}: no answer (${a.body.slice(0, 100)})`);
  if (a.status >= 500 && !allow5xx(a)) out.push(`${where}: 5xx ${a.body.slice(0, 200)}`);
  const text = a.body + JSON.stringify(a.headers);
  if (/\n\s+at [^\n]+[:(]\d+:\d+\)?/.test(text) || /\.ts:\d+:\d+/.test(text)) out.push(`${where}: a stack trace: ${a.body.slice(0, 200)}`);
  for (const s of secrets) if (text.includes(s)) out.push(`${where}: the secret ${JSON.stringify(s)} is in the answer`);
  for (const p of serverPaths) if (text.includes(p)) out.push(`${where}: the server path ${p} is in the answer`);
  if (a.status >= 400 && a.method !== 'HEAD' && !a.path.startsWith('/healthz') && a.body && (!a.headers['content-type']?.toString().includes('json') || !/^\{"error":\{"code":"[A-Z0-9_]+","message":/.test(a.body))) {
    out.push(`${where}: an error that is not JSON ({error:{code,message}}): ${a.body.slice(0, 100)}`);
  }
  return out;
}

/** Every spelling a password may take in a text: plain, percent-encoded (both cases), base64 of user:password. */
export function secretForms(user: string, password: string): string[] {
  const enc = encodeURIComponent(password);
  return [...new Set([password, enc, enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), Buffer.from(`${user}:${password}`).toString('base64')])];
}
