import { AppError, redactUrl } from '../../../common/src/index.ts';
import { HttpAuth } from './http-auth.ts';
import { cameraErrors } from './types.ts';

/**
 * GET with camera auth and a timeout on the response headers. The returned body may stream on;
 * `signal` (the worker's) still aborts it. Throws AppError AUTH or CONNECT with the camera id
 * and URL in the message.
 */
export async function cameraGet(cameraId: string, url: string, auth: HttpAuth, signal: AbortSignal, headersTimeoutMs: number): Promise<{ res: Response; abort: () => void }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(new Error(`no response within ${headersTimeoutMs}ms`)), headersTimeoutMs);
    const abort = () => { ctl.abort(); signal.removeEventListener('abort', onAbort); };
    let res: Response;
    try {
      const authorization = auth.header('GET', url);
      res = await fetch(url, { signal: ctl.signal, headers: authorization ? { authorization } : {} });
    } catch (err) {
      abort();
      const reason = ctl.signal.reason instanceof Error ? ctl.signal.reason.message : (err as Error).message;
      throw new AppError(cameraErrors.CONNECT, `camera ${cameraId}: GET ${redact(url)} failed: ${reason}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 401) {
      await res.body?.cancel().catch(() => undefined);
      abort();
      const challenge = res.headers.get('www-authenticate');
      if (!auth.hasCredentials) {
        throw new AppError(cameraErrors.AUTH, `camera ${cameraId}: ${redact(url)} requires authentication (${challenge?.split(' ')[0] ?? 'unknown scheme'}); set source username and password`);
      }
      if (auth.learn(challenge)) continue;
      throw new AppError(cameraErrors.AUTH, `camera ${cameraId}: ${redact(url)} rejected the username/password (HTTP 401, ${challenge?.split(' ')[0] ?? 'no challenge'})`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      abort();
      throw new AppError(cameraErrors.CONNECT, `camera ${cameraId}: GET ${redact(url)} answered HTTP ${res.status}, expected 200`);
    }
    return { res, abort };
  }
  throw new AppError(cameraErrors.AUTH, `camera ${cameraId}: ${redact(url)} kept asking for authentication`);
}

/** A URL without credentials, for messages (the common redaction; AppError redacts again anyway). */
export const redact = redactUrl;
