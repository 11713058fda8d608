import type { DetectFrame } from './detect-frame.ts';

/** One decoded frame: a complete JPEG, numbered per camera, and its raw detect frame if configured. */
export interface Frame {
  jpeg: Buffer;
  /** The same picture as `jpeg`, letterboxed to the camera's detect size (RGB24); only with `detect`. */
  raw?: DetectFrame;
  /** Increases by 1 per frame for the life of the process (across worker restarts). */
  seq: number;
  /** Unix ms when the frame arrived. */
  ts: number;
}

/**
 * Latest-frame slot of one camera: only the newest frame is kept; readers either take it or
 * wait for the next one. Nothing is queued, so a slow reader can never hold memory.
 *
 * INVARIANTS:
 * - `latest` only moves forward (seq strictly increases).
 * - every waiter is settled exactly once: by the next frame, its timeout, or close().
 * - a frame's jpeg and raw are the same picture (one seq, one ts): they are stored together.
 */
export class LatestFrame {
  private current: Frame | undefined;
  private seq = 0;
  private readonly listeners = new Set<(f: Frame) => void>();

  latest(): Frame | undefined {
    return this.current;
  }

  put(jpeg: Buffer, raw?: DetectFrame, ts = Date.now()): Frame {
    const f: Frame = raw ? { jpeg, raw, seq: ++this.seq, ts } : { jpeg, seq: ++this.seq, ts };
    this.current = f;
    // Copy: a listener may unsubscribe (or subscribe) while we iterate. No listeners, no copy.
    if (this.listeners.size > 0) for (const l of [...this.listeners]) l(f);
    return f;
  }

  /** Called on every new frame; returns an unsubscribe function. */
  subscribe(listener: (f: Frame) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * The newest frame with seq > `after`: at once if there is one, else the next one to arrive
   * within `waitMs`; undefined on timeout or abort.
   */
  next(after: number, waitMs: number, signal?: AbortSignal): Promise<Frame | undefined> {
    if (this.current && this.current.seq > after) return Promise.resolve(this.current);
    if (waitMs <= 0 || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const finish = (f: Frame | undefined) => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(f);
      };
      const onAbort = () => finish(undefined);
      const unsubscribe = this.subscribe((f) => finish(f));
      const timer = setTimeout(() => finish(undefined), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
