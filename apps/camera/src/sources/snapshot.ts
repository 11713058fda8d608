import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../../../common/src/index.ts';
import { HttpAuth } from './http-auth.ts';
import { cameraGet, redact } from './http-get.ts';
import { looksLikeJpeg } from './jpeg-splitter.ts';
import { runWithReconnect } from './reconnect.ts';
import { cameraErrors, type FrameSource } from './types.ts';

/**
 * HTTP JPEG snapshot polled at the target fps (fixed-rate schedule: a slow answer shortens the
 * next wait instead of lowering the rate). A failed request counts as a reconnect.
 */
export function snapshotSource(cfg: { url: string; username?: string; password?: string }, opts: { timeoutMs?: number } = {}): FrameSource {
  return (ctx) => {
    const auth = new HttpAuth(cfg.username, cfg.password);
    const periodMs = 1000 / ctx.fps;
    const timeoutMs = opts.timeoutMs ?? Math.max(2000, 2 * periodMs);
    return runWithReconnect(ctx, async (gotFrame) => {
      let next = Date.now();
      while (!ctx.signal.aborted) {
        const { res, abort } = await cameraGet(ctx.cameraId, cfg.url, auth, ctx.signal, timeoutMs);
        let body: Buffer;
        try {
          body = Buffer.from(await res.arrayBuffer());
        } catch (err) {
          if (ctx.signal.aborted) return;
          throw new AppError(cameraErrors.STREAM_LOST, `camera ${ctx.cameraId}: ${redact(cfg.url)}: body failed: ${(err as Error).message}`, { cause: err });
        } finally {
          abort();
        }
        if (looksLikeJpeg(body)) {
          gotFrame();
          ctx.frame(body);
        } else {
          ctx.decodeError(`snapshot of ${body.length} bytes (${res.headers.get('content-type')}) is not a JPEG`);
        }
        next += periodMs;
        const wait = next - Date.now();
        if (wait < -periodMs) next = Date.now(); // fell behind: do not burst to catch up
        try {
          await delay(Math.max(0, wait), undefined, { signal: ctx.signal });
        } catch {
          return;
        }
      }
    });
  };
}
