/**
 * One HTTP GET for probes and scrapes, on a fresh socket each time.
 *
 * Why not fetch: undici keeps sockets alive in a pool, and a pooled socket to a SIGSTOPped server
 * can wedge the next runs. Here `agent: false` + `Connection: close` give every run its own socket,
 * and abort destroys it.
 */
import http from 'node:http';
import https from 'node:https';
import { ProbeFailure } from './common.ts';

export interface GetResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as UTF-8, cut at `maxBytes` (`truncated` then true). */
  body: string;
  truncated: boolean;
}

export interface GetOptions {
  headers?: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** Stop reading after this many bytes (protects the supervisor from a runaway endpoint). */
  maxBytes: number;
}

/** Rejects with the network error (message as Node words it) or the signal's reason. */
export function httpGet(url: string, opts: GetOptions): Promise<GetResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new ProbeFailure(`bad URL "${url}": expected http://host:port/path`));
  }
  const lib = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
  if (!lib) return Promise.reject(new ProbeFailure(`bad URL "${url}": expected http:// or https://`));
  return new Promise<GetResponse>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(opts.signal.reason);
      return;
    }
    const req = lib.request(parsed, {
      method: 'GET',
      agent: false,
      headers: { connection: 'close', 'user-agent': 'edgevisor-probe', ...opts.headers },
      signal: opts.signal,
    });
    req.on('error', (err) => reject(opts.signal.aborted ? opts.signal.reason : err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const finish = () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), truncated });
      };
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = opts.maxBytes - size;
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          truncated = true;
          // Enough read: answer now and drop the rest of the body with the socket.
          finish();
          req.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        if (!truncated) finish();
      });
      res.on('error', (err) => reject(opts.signal.aborted ? opts.signal.reason : err));
      res.on('aborted', () => reject(opts.signal.aborted ? opts.signal.reason : new Error('connection closed before the body was complete')));
    });
    req.end();
  });
}

/** Scrapes a Prometheus text endpoint; non-2xx is a failure naming the status and URL. */
export async function scrapeText(url: string, signal: AbortSignal): Promise<string> {
  const res = await httpGet(url, { signal, maxBytes: 8 * 1024 * 1024 });
  if (res.status < 200 || res.status > 299) throw new ProbeFailure(`status ${res.status} from ${url}, expected 2xx`);
  return res.body;
}
