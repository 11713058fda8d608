import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../../../common/src/index.ts';
import { cameraErrors, type SourceContext } from './types.ts';

export interface ReconnectOptions {
  initialMs?: number;
  maxMs?: number;
}

/**
 * Runs `connectOnce` again and again until the worker stops, with exponential backoff between
 * attempts (reset after an attempt that delivered a frame). `connectOnce` resolves or rejects
 * when its connection ends; it reports frames through `gotFrame` so the backoff can reset.
 */
export async function runWithReconnect(ctx: SourceContext, connectOnce: (gotFrame: () => void) => Promise<void>, opts: ReconnectOptions = {}): Promise<void> {
  const initialMs = opts.initialMs ?? 250;
  const maxMs = opts.maxMs ?? 5000;
  let backoff = initialMs;
  while (!ctx.signal.aborted) {
    let delivered = false;
    let error: AppError;
    try {
      await connectOnce(() => { delivered = true; });
      error = new AppError(cameraErrors.STREAM_LOST, `camera ${ctx.cameraId}: stream ended`);
    } catch (err) {
      error = err instanceof AppError ? err : new AppError(cameraErrors.STREAM_LOST, `camera ${ctx.cameraId}: ${(err as Error).message}`, { cause: err });
    }
    if (ctx.signal.aborted) return;
    if (delivered) backoff = initialMs;
    ctx.reconnecting(error, backoff);
    try {
      await delay(backoff, undefined, { signal: ctx.signal });
    } catch {
      return; // aborted while waiting
    }
    backoff = Math.min(maxMs, backoff * 2);
  }
}
