import { AppError } from '../../../common/src/index.ts';
import { HttpAuth } from './http-auth.ts';
import { cameraGet, redact } from './http-get.ts';
import { looksLikeJpeg } from './jpeg-splitter.ts';
import { boundaryOf, MultipartParser } from './multipart.ts';
import { runWithReconnect } from './reconnect.ts';
import { cameraErrors, type FrameSource } from './types.ts';

/**
 * HTTP MJPEG (multipart/x-mixed-replace) with Basic/Digest auth. Every part is a JPEG; the
 * camera's own rate is thinned to the target fps here (parts that come early are dropped).
 * A stream silent for `stallMs` is dropped and reconnected.
 */
export function mjpegSource(cfg: { url: string; username?: string; password?: string }, opts: { stallMs?: number; timeoutMs?: number } = {}): FrameSource {
  return (ctx) => {
    const auth = new HttpAuth(cfg.username, cfg.password);
    const minGapMs = 1000 / ctx.fps;
    return runWithReconnect(ctx, async (gotFrame) => {
      const { res, abort } = await cameraGet(ctx.cameraId, cfg.url, auth, ctx.signal, opts.timeoutMs ?? 5000);
      const boundary = boundaryOf(res.headers.get('content-type'));
      if (!boundary || !res.body) {
        abort();
        throw new AppError(cameraErrors.CONNECT, `camera ${ctx.cameraId}: ${redact(cfg.url)} answered content-type ${JSON.stringify(res.headers.get('content-type'))}, expected multipart/x-mixed-replace; boundary=...`);
      }
      let lastAccepted = 0;
      const parser = new MultipartParser(boundary, (body) => {
        if (!looksLikeJpeg(body)) return ctx.decodeError(`part of ${body.length} bytes is not a JPEG`);
        const now = Date.now();
        // 5% slack: a camera at exactly the target rate must not lose every other frame to jitter.
        if (now - lastAccepted < minGapMs * 0.95) return;
        lastAccepted = now;
        gotFrame();
        ctx.frame(body);
      }, (m) => ctx.decodeError(m));
      const stallMs = opts.stallMs ?? Math.max(5000, 3000 / ctx.fps);
      let lastData = Date.now();
      const watchdog = setInterval(() => { if (Date.now() - lastData > stallMs) abort(); }, 500);
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          lastData = Date.now();
          parser.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
      } catch (err) {
        if (ctx.signal.aborted) return;
        throw new AppError(cameraErrors.STREAM_LOST, `camera ${ctx.cameraId}: ${redact(cfg.url)}: ${Date.now() - lastData >= stallMs ? `no data for ${stallMs}ms` : (err as Error).message}`, { cause: err });
      } finally {
        clearInterval(watchdog);
        abort();
      }
    });
  };
}
