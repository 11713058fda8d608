import { CliError, exitCodes } from './errors.ts';

/** A tiny HTTP client for the control API: bearer token, timeout, one-line errors. */
export interface ApiClient {
  readonly baseUrl: string;
  get<T>(path: string): Promise<T>;
  /** POST; with `body`, sent as JSON. */
  post<T>(path: string, body?: unknown): Promise<T>;
  delete<T>(path: string): Promise<T>;
  /** Opens a streaming GET (SSE). Only the wait for the response headers is bounded. */
  stream(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response>;
}

export interface ClientOptions {
  baseUrl: string;
  token?: string;
  /** Per call (default 5 s): a supervisor that does not answer in that time is reported down. */
  timeoutMs?: number;
}

const causeText: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Why fetch failed, in a few words ("connection refused", "no answer within 5s"). */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; message?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000}s`;
  const code = e?.cause?.code ?? e?.code;
  if (code && causeText[code]) return causeText[code]!;
  return e?.cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** Exit code for an API error status: 400 is the user's input (1), the rest refusals (2). */
function exitFor(status: number): number {
  return status === 400 ? exitCodes.usage : exitCodes.refused;
}

export function createApiClient(opts: ClientOptions): ApiClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  // x-edgevisor-via: the event log records that an action came from the CLI.
  const auth: Record<string, string> = { 'x-edgevisor-via': 'cli', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };

  const unreachable = (err: unknown) =>
    new CliError(`cannot reach the supervisor at ${baseUrl} (${describeFetchError(err, timeoutMs)})`, exitCodes.unreachable);

  const refusal = async (res: Response): Promise<CliError> => {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // Not our API's JSON (a proxy page?): the status line says enough.
    }
    if (res.status === 401 && !opts.token) message += ' (set EDGEVISOR_TOKEN)';
    return new CliError(message, exitFor(res.status));
  };

  const call = async <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> => {
    let res: Response;
    const signal = AbortSignal.timeout(timeoutMs);
    const json = body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    try {
      res = await fetch(baseUrl + path, { method, headers: { accept: 'application/json', ...auth, ...json.headers }, body: json.body, signal });
    } catch (err) {
      throw unreachable(err);
    }
    if (!res.ok) throw await refusal(res);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw unreachable(err);
    }
  };

  return {
    baseUrl,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    delete: (path) => call('DELETE', path),
    async stream(path, headers, signal) {
      // Our own controller: the timeout must bound only the wait for headers, not the body,
      // which is meant to stay open for hours.
      const ctl = new AbortController();
      const forward = () => ctl.abort(signal.reason);
      signal.addEventListener('abort', forward, { once: true });
      const timer = setTimeout(() => ctl.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
      let res: Response;
      try {
        res = await fetch(baseUrl + path, { headers: { accept: 'text/event-stream', ...auth, ...headers }, signal: ctl.signal });
      } catch (err) {
        signal.removeEventListener('abort', forward);
        if (signal.aborted) throw err;
        throw unreachable(ctl.signal.reason ?? err);
      } finally {
        clearTimeout(timer);
      }
      if (!res.ok) throw await refusal(res);
      return res;
    },
  };
}
