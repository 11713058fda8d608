/**
 * One HTTP GET for probes and scrapes.
 *
 * Why not fetch or http.request: a probe runs every second for every child, forever, so its cost
 * is the supervisor's idle CPU. Plain HTTP goes over a bare socket that each probe keeps to itself
 * between runs (HTTP/1.1 keep-alive, `Connection` honoured): no agent, no pool shared between
 * probes, so a SIGSTOPped server can only stall its own probe, which then times out. A socket is
 * destroyed on any error, abort or timeout and a fresh one is used next time; a kept socket that
 * the server closed while idle is retried once on a fresh socket, so it never counts as a failure.
 * HTTPS goes through node:https, one connection per run.
 */
import net from 'node:net';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { ProbeFailure } from './common.ts';

export interface GetResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8, cut at `maxBytes` (`truncated` then true). */
  body: string;
  truncated: boolean;
}

/** Where a probe keeps its connection between runs (in its ProbeMemory). */
export interface ConnectionSlot {
  conn?: { socket: net.Socket; key: string; release(): void } | null;
}

export interface GetOptions {
  headers?: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** Stop reading after this many bytes (protects the supervisor from a runaway endpoint). */
  maxBytes: number;
  /** Keep the connection here between runs; without it every run has its own socket. */
  slot?: ConnectionSlot;
}

const HEAD_LIMIT = 64 * 1024;

/** Rejects with the network error (message as Node words it) or the signal's reason. */
export async function httpGet(url: string, opts: GetOptions): Promise<GetResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProbeFailure(`bad URL "${url}": expected http://host:port/path`);
  }
  if (parsed.protocol === 'https:') return httpsGet(parsed, opts);
  if (parsed.protocol !== 'http:') throw new ProbeFailure(`bad URL "${url}": expected http:// or https://`);
  if (opts.signal.aborted) throw opts.signal.reason;

  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port ? Number(parsed.port) : 80;
  const key = `${host}:${port}`;
  let head = `GET ${parsed.pathname}${parsed.search} HTTP/1.1\r\nHost: ${parsed.host}\r\nUser-Agent: edgevisor-probe\r\n`;
  for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
  head += opts.slot ? '\r\n' : 'Connection: close\r\n\r\n';

  const kept = opts.slot?.conn && opts.slot.conn.key === key && !opts.slot.conn.socket.destroyed ? opts.slot.conn.socket : null;
  if (opts.slot?.conn && !kept) dropConnection(opts.slot);
  if (kept) {
    opts.slot!.conn!.release(); // the idle watch stands down while the socket is in use
    try {
      return await exchange(kept, head, opts, key, true);
    } catch (err) {
      if (!(err instanceof StaleConnection)) throw err;
      // The server closed our idle socket: not the child's fault, ask again on a fresh one.
    }
  }
  return exchange(net.connect({ host, port }), head, opts, key, false);
}

/** A reused socket that failed before any byte of an answer: retried, never reported. */
class StaleConnection extends Error {}

/** Closes the connection a probe kept (its child restarted or stopped). */
export function dropConnection(slot: ConnectionSlot): void {
  slot.conn?.release();
  slot.conn?.socket.destroy();
  slot.conn = null;
}

/** One request/response on `socket`; keeps the socket in the slot when both sides allow it. */
function exchange(socket: net.Socket, head: string, opts: GetOptions, key: string, reused: boolean): Promise<GetResponse> {
  return new Promise<GetResponse>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let frame: Frame | null = null;
    const cleanup = () => {
      opts.signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      cleanup();
      socket.destroy();
      if (opts.slot?.conn?.socket === socket) opts.slot.conn = null;
      reject(reused && size === 0 && !opts.signal.aborted ? new StaleConnection() : err);
    };
    const succeed = (res: GetResponse, keep: boolean) => {
      if (done) return;
      done = true;
      cleanup();
      if (keep && opts.slot) {
        armIdle(socket, opts.slot, key);
      } else {
        socket.destroy();
        if (opts.slot?.conn?.socket === socket) opts.slot.conn = null;
      }
      resolve(res);
    };
    const onAbort = () => fail(opts.signal.reason);
    const onError = (err: Error) => fail(opts.signal.aborted ? opts.signal.reason : err);
    const onClose = () => fail(new Error(size === 0 ? 'connection closed without a response' : 'connection closed before the response was complete'));
    const onEnd = () => {
      if (frame && frame.kind === 'eof') {
        const raw = Buffer.concat(chunks);
        succeed(frame.finish(raw.subarray(frame.bodyStart)), false);
      } else onClose();
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      try {
        const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (chunks.length > 1) chunks.splice(0, chunks.length, raw);
        frame ??= readHead(raw, opts.maxBytes);
        if (!frame) {
          if (raw.length > HEAD_LIMIT) fail(new ProbeFailure(`malformed HTTP response: no end of headers in ${raw.length} bytes`));
          return;
        }
        const body = raw.subarray(frame.bodyStart);
        if (frame.kind === 'eof') {
          if (body.length > opts.maxBytes) succeed(frame.finish(body), false);
          return;
        }
        const complete = frame.complete(body);
        if (complete) succeed(frame.finish(complete.body), frame.keepAlive && complete.exact);
        else if (body.length > opts.maxBytes + HEAD_LIMIT) succeed(frame.finish(body), false);
      } catch (err) {
        fail(err);
      }
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    if (socket.connecting) socket.once('connect', () => done || socket.write(head));
    else socket.write(head);
  });
}

/**
 * Watch a kept socket while it sits idle: if the server closes it (keep-alive timeout, restart),
 * forget it. A probe's socket lives until then or until the probe is released (child stopping).
 */
function armIdle(socket: net.Socket, slot: ConnectionSlot, key: string): void {
  const forget = () => {
    release();
    if (slot.conn?.socket === socket) slot.conn = null;
    socket.destroy();
  };
  const release = () => {
    socket.off('end', forget);
    socket.off('error', forget);
    socket.off('close', forget);
  };
  socket.on('end', forget);
  socket.on('error', forget);
  socket.on('close', forget);
  slot.conn = { socket, key, release };
}

interface Frame {
  kind: 'length' | 'chunked' | 'eof';
  bodyStart: number;
  keepAlive: boolean;
  /** The body if complete (`exact`: nothing extra after it). */
  complete(body: Buffer): { body: Buffer; exact: boolean } | null;
  finish(body: Buffer): GetResponse;
}

/** The response head, once it is all there: how the body is framed and whether to keep the socket. */
function readHead(raw: Buffer, maxBytes: number): Frame | null {
  const sep = raw.indexOf('\r\n\r\n');
  if (sep < 0) return null;
  const lines = raw.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw new ProbeFailure(`malformed HTTP status line "${(lines[0] ?? '').slice(0, 80)}"`);
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = Number(m[2]);
  const connection = String(headers['connection'] ?? '').toLowerCase();
  const keepAlive = m[1] === '1.1' ? connection !== 'close' : connection === 'keep-alive';
  const finish = (body: Buffer): GetResponse => ({ status, headers, body: body.subarray(0, maxBytes).toString('utf8'), truncated: body.length > maxBytes });
  const bodyStart = sep + 4;
  if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
    return { kind: 'chunked', bodyStart, keepAlive, finish, complete: dechunk };
  }
  const lengthHeader = headers['content-length'];
  if (lengthHeader !== undefined || status === 204 || status === 304) {
    const length = lengthHeader === undefined ? 0 : Number(lengthHeader);
    if (!Number.isInteger(length) || length < 0) throw new ProbeFailure(`malformed Content-Length "${lengthHeader}"`);
    return { kind: 'length', bodyStart, keepAlive, finish, complete: (b) => (b.length >= length ? { body: b.subarray(0, length), exact: b.length === length } : null) };
  }
  return { kind: 'eof', bodyStart, keepAlive: false, finish, complete: () => null };
}

/** Decodes a chunked body; null until the last (zero) chunk and its trailer have arrived. */
function dechunk(buf: Buffer): { body: Buffer; exact: boolean } | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const len = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(len)) throw new ProbeFailure('malformed chunked body');
    if (len === 0) {
      const end = buf.indexOf('\r\n\r\n', eol) >= 0 ? buf.indexOf('\r\n\r\n', eol) + 4 : buf.indexOf('\r\n', eol + 2) === eol + 2 ? eol + 4 : -1;
      if (end < 0) return null;
      return { body: Buffer.concat(parts), exact: end === buf.length };
    }
    if (buf.length < eol + 2 + len + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + len));
    at = eol + 2 + len + 2;
  }
}

function httpsGet(parsed: URL, opts: GetOptions): Promise<GetResponse> {
  return new Promise<GetResponse>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(opts.signal.reason);
      return;
    }
    const req = https.request(parsed, {
      method: 'GET',
      agent: false,
      headers: { connection: 'close', 'user-agent': 'edgevisor-probe', ...opts.headers },
      signal: opts.signal,
    });
    req.on('error', (err) => reject(opts.signal.aborted ? opts.signal.reason : err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > opts.maxBytes) req.destroy();
      });
      const finish = () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.subarray(0, opts.maxBytes).toString('utf8'), truncated: body.length > opts.maxBytes });
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', (err) => reject(opts.signal.aborted ? opts.signal.reason : err));
    });
    req.end();
  });
}

/** Scrapes a Prometheus text endpoint; non-2xx is a failure naming the status and URL. */
export async function scrapeText(url: string, signal: AbortSignal, slot?: ConnectionSlot): Promise<string> {
  const res = await httpGet(url, { signal, maxBytes: 8 * 1024 * 1024, ...(slot ? { slot } : {}) });
  if (res.status < 200 || res.status > 299) throw new ProbeFailure(`status ${res.status} from ${url}, expected 2xx`);
  return res.body;
}
