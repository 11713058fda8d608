/**
 * HTTP to the other apps (supervisor control API, camera controller, inference), each call with a
 * timeout. An UpstreamError's `message` is safe for a browser: it names the app, never its URL, a
 * token or a server path; `detail` (URL, cause) is for the web app's own log only.
 */
import { AppError } from '../../common/src/index.ts';

/** Which app a call went to. */
export type Upstream = 'supervisor' | 'camera' | 'inference' | 'vacuum';

export class UpstreamError extends Error {
  constructor(
    readonly upstream: Upstream,
    message: string,
    /** The upstream's HTTP status, when it answered. A 4xx is the caller's mistake, not an outage. */
    readonly status?: number,
    /** The upstream's error body (code, message) when it answered with one. */
    readonly body?: { code?: string; message?: string },
    /** For the log: URL and cause. Never sent to a client. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
  /** True when the upstream refused the request itself (4xx): not counted as an upstream error. */
  get clientMistake(): boolean {
    return this.status !== undefined && this.status >= 400 && this.status < 500;
  }
}

export interface UpstreamClient {
  readonly name: Upstream;
  /** Absolute URL for a path (for streaming proxies); never shown to a client. */
  url(path: string): string;
  /** A request answered 2xx, else UpstreamError. `onRequest` counts every call (metrics, bench). */
  request(path: string, init?: { method?: string; headers?: Record<string, string>; timeoutMs?: number; body?: string }): Promise<Response>;
  json<T>(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<T>;
  readonly headers: Record<string, string>;
}

export function upstreamClient(name: Upstream, baseUrl: string, o: { timeoutMs: number; headers?: Record<string, string>; onRequest?: (u: Upstream) => void }): UpstreamClient {
  const base = baseUrl.replace(/\/+$/, '');
  const headers = o.headers ?? {};
  const request: UpstreamClient['request'] = async (path, init = {}) => {
    o.onRequest?.(name);
    const timeoutMs = init.timeoutMs ?? o.timeoutMs;
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers: { ...headers, ...init.headers }, body: init.body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'not reachable';
      throw new UpstreamError(name, `the ${name} app is unavailable (${why})`, undefined, undefined, `${base}${path.split('?')[0]}: ${e.cause?.message ?? e.message}`);
    }
    if (res.status >= 200 && res.status < 300) return res;
    const text = await res.text().catch(() => '');
    let body: { code?: string; message?: string } | undefined;
    try {
      body = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      body = undefined;
    }
    throw new UpstreamError(name, `the ${name} app answered ${res.status}`, res.status, body, `${base}${path.split('?')[0]}: ${res.status} ${text.slice(0, 200)}`);
  };
  return {
    name,
    headers,
    url: (path) => `${base}${path}`,
    request,
    async json<T>(path: string, init?: { method?: string; headers?: Record<string, string> }) {
      const res = await request(path, init);
      try {
        return (await res.json()) as T;
      } catch (err) {
        // A 2xx that is not JSON is a fault of the other app, not of the client: a 5xx, logged with this as its cause.
        throw new AppError('WEB_ERR_UPSTREAM_BAD_ANSWER', `the ${name} app answered ${path.split('?')[0]} with something that is not JSON`, { cause: err });
      }
    },
  };
}

/**
 * Reads the supervisor's tokens from an env-style file (`EDGEVISOR_TECHNICIAN_TOKEN=...`, as
 * `npm start` writes var/tokens.env). A missing file gives no tokens (read-only dashboard).
 */
export function parseTokenFile(text: string): { viewer?: string; technician?: string } {
  const out: { viewer?: string; technician?: string } = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?(EDGEVISOR_VIEWER_TOKEN|EDGEVISOR_TECHNICIAN_TOKEN)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) continue;
    const v = m[2]!.replace(/^["']|["']$/g, '');
    if (m[1] === 'EDGEVISOR_VIEWER_TOKEN') out.viewer = v;
    else out.technician = v;
  }
  return out;
}
