/**
 * Waiting for the next frame of a frame ring (apps/camera/src/frame-ring.ts) without a request per
 * frame and without spinning: the ring has no doorbell, so the reader polls the 64-byte file header,
 * but only around when the next frame is due. After a frame it sleeps until ~80 % of the camera's
 * frame interval, then polls every POLL_MS; a frame is picked up at most POLL_MS after it was
 * published, and an idle camera costs ~1 header read per POLL_MS only in that last part of each interval.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingFrame, RingReader } from '../../camera/src/frame-ring.ts';

/** Poll period once a frame is due: bounds the added latency (the model run is ~0.5-1 ms). */
export const POLL_MS = 3;
/** Fraction of the frame interval slept before polling starts. */
const EARLY = 0.8;
/** How often an idle reader checks whether the ring file was replaced (camera worker restart). */
const REPLACED_CHECK_MS = 250;

export interface RingWaitOptions {
  /** Seq of the last frame run (-1: none yet). */
  after: number;
  /** performance.now() when the last frame was read (undefined: none yet, poll at once). */
  lastReadAt: number | undefined;
  /** The camera's frame interval (1000 / fps). */
  intervalMs: number;
  /** Give up after this long without a new frame (like the HTTP long-poll's wait). */
  waitMs: number;
  signal: AbortSignal;
}

/**
 * The next frame with seq > `after`; 'replaced' when the ring file was replaced or removed (the
 * caller reopens); undefined when `waitMs` passed without a frame, or on abort.
 */
export async function waitRingFrame(reader: RingReader, o: RingWaitOptions): Promise<RingFrame | 'replaced' | undefined> {
  const start = performance.now();
  const deadline = start + o.waitMs;
  let lastCheck = start;
  for (;;) {
    const f = reader.read(o.after);
    if (f) return f;
    if (o.signal.aborted) return undefined;
    const now = performance.now();
    if (now - lastCheck >= REPLACED_CHECK_MS || now >= deadline) {
      lastCheck = now;
      if (reader.replaced()) return 'replaced';
      if (now >= deadline) return undefined;
    }
    const due = o.lastReadAt === undefined ? now : o.lastReadAt + EARLY * o.intervalMs;
    const delay = Math.max(1, Math.min(due > now ? due - now : POLL_MS, deadline - now, REPLACED_CHECK_MS));
    try {
      await sleep(delay, undefined, { signal: o.signal });
    } catch {
      return undefined;
    }
  }
}
