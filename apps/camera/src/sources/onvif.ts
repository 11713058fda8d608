import { setTimeout as delay } from 'node:timers/promises';
import { AppError, deadline } from '../../../common/src/index.ts';
import type { OnvifSourceConfig } from '../config.ts';
import { rtspSource } from './rtsp.ts';
import { cameraErrors, type FrameSource } from './types.ts';

/** How long one question to the ONVIF service may take. */
const LOOKUP_TIMEOUT_MS = 3000;

/**
 * An ONVIF camera: its RTSP URI comes from the ONVIF service (apps/onvif, `ONVIF_URL`), the
 * stream itself is decoded by the rtsp source. When the stream fails, the service is asked again
 * with `fresh=1` (it asks the camera: a rebooted camera may hand out another URI); a new URI
 * replaces the stream, the same one lets the rtsp source reconnect as usual. While the service
 * is down the last good URI keeps being used (the stream does not depend on the service).
 * Credentials for the RTSP server, if any, stay in this process (the service hands out URIs
 * without them).
 */
export function onvifSource(cfg: OnvifSourceConfig, opts: { stallMs?: number; maxBackoffMs?: number } = {}): FrameSource {
  return async (ctx) => {
    let current: string | undefined = cfg.streamUri;
    let fromService = false;
    let backoff = 250;
    while (!ctx.signal.aborted) {
      try {
        current = await lookup(cfg, !!current, ctx.signal);
        fromService = true;
      } catch (err) {
        if (ctx.signal.aborted) return;
        if (!current) {
          // Nothing to stream from yet: report and try again (as a reconnect does).
          ctx.reconnecting(err as AppError, backoff);
          try { await delay(backoff, undefined, { signal: ctx.signal }); } catch { return; }
          backoff = Math.min(opts.maxBackoffMs ?? 5000, backoff * 2);
          continue;
        }
      }
      backoff = 250;
      const uri = current!;
      const inner = new AbortController();
      const onAbort = () => inner.abort();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let asking = false;
      await rtspSource(withCredentials(uri, cfg), opts)({
        ...ctx,
        signal: inner.signal,
        reconnecting: (err, delayMs) => {
          ctx.reconnecting(err, delayMs);
          if (asking || !fromService && !cfg.device && !cfg.address) return;
          asking = true;
          lookup(cfg, true, inner.signal).then((next) => {
            // Another URI (the camera rebooted): leave this stream, the loop starts the new one.
            if (next !== uri) { current = next; inner.abort(); }
          }, () => { /* service down or camera silent: keep the last good URI */ }).finally(() => { asking = false; });
        },
      });
      ctx.signal.removeEventListener('abort', onAbort);
    }
  };
}

/** GET <ONVIF_URL>/stream-uri?device=|address=&profile=&fresh= -> the RTSP URI. */
async function lookup(cfg: OnvifSourceConfig, fresh: boolean, signal: AbortSignal): Promise<string> {
  if (!cfg.serviceUrl || (!cfg.device && !cfg.address)) throw new AppError(cameraErrors.CONNECT, 'no ONVIF service to ask (ONVIF_URL unset)');
  const q = new URLSearchParams();
  if (cfg.device) q.set('device', cfg.device);
  else q.set('address', cfg.address!);
  if (cfg.profile) q.set('profile', cfg.profile);
  if (fresh) q.set('fresh', '1');
  // A held timer (common/deadline.ts), not AbortSignal.any([.., AbortSignal.timeout()]).
  const dl = deadline(LOOKUP_TIMEOUT_MS, signal);
  let res: Response;
  let body: { uri?: string; error?: { code: string; message: string } };
  try {
    res = await fetch(`${cfg.serviceUrl.replace(/\/$/, '')}/stream-uri?${q}`, { signal: dl.signal });
    body = (await res.json().catch(() => ({}))) as typeof body;
  } catch (err) {
    throw new AppError(cameraErrors.CONNECT, `ONVIF service unreachable: ${dl.expired() ? `no answer within ${LOOKUP_TIMEOUT_MS} ms` : (err as Error).message}`, { cause: err });
  } finally {
    dl.clear();
  }
  if (!res.ok || !body.uri) throw new AppError(cameraErrors.CONNECT, `ONVIF service: ${body.error?.code ?? `HTTP ${res.status}`}: ${body.error?.message ?? 'no stream URI'}`);
  if (!/^rtsps?:\/\//.test(body.uri)) throw new AppError(cameraErrors.CONNECT, 'ONVIF service handed out a URI that is not rtsp://');
  return body.uri;
}

function withCredentials(uri: string, cfg: OnvifSourceConfig): string {
  if (!cfg.username) return uri;
  const u = new URL(uri);
  u.username = encodeURIComponent(cfg.username);
  u.password = encodeURIComponent(cfg.password ?? '');
  return u.toString();
}
