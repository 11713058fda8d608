/**
 * Fault injection for tests and benchmarks, enabled only by INFERENCE_FAILPOINT:
 *
 *   hang[@DELAY]   a frame never finishes (a never-resolving promise inside the frame, as a stuck
 *                  third-party driver call): the loops stop, /healthz and /metrics still answer.
 *   block[@DELAY]  the main thread blocks inside a frame (Atomics.wait): nothing answers, /healthz dies.
 *   stall[@DELAY]  frames keep running but stop being counted (frames_total, last_frame_timestamp).
 *   slow[@DELAY]   every frame takes SLOW_FRAME_MS (400 ms) longer, as a detector (or its driver)
 *                  that got slow: frames must be dropped and counted, not queued.
 *
 * DELAY (e.g. 5s, 500ms) counts from when the pipeline was created; default 0.
 */
import { processLogger } from '../../common/src/index.ts';

/** A parsed failpoint: what to do and from when (ms after pipeline start). */
export interface Failpoint { kind: 'hang' | 'block' | 'stall' | 'slow'; afterMs: number }

/** What the `slow` failpoint adds to every frame. */
export const SLOW_FRAME_MS = 400;

export function parseFailpoint(text: string): Failpoint {
  const m = /^(hang|block|stall|slow)(?:@(\d+(?:\.\d+)?)(ms|s))?$/.exec(text.trim());
  if (!m) throw new Error('expected hang, block, stall or slow, optionally with a delay: hang@5s, stall@500ms');
  const afterMs = m[2] ? Math.round(Number(m[2]) * (m[3] === 's' ? 1000 : 1)) : 0;
  return { kind: m[1] as Failpoint['kind'], afterMs };
}

/** Armed once per process; the pipeline calls `inFrame()` inside every frame. */
export function createFailpointGate(fp: Failpoint | null, now: () => number = Date.now) {
  const armedAt = now() + (fp?.afterMs ?? 0);
  const active = () => fp !== null && now() >= armedAt;
  return {
    /** True when counting must stop (stall). */
    suppressCounting: () => fp?.kind === 'stall' && active(),
    /** Hangs or blocks when armed; otherwise returns at once. */
    async inFrame(): Promise<void> {
      if (!fp || !active()) return;
      if (fp.kind === 'hang') {
        processLogger().error('INFERENCE_FAILPOINT hang: frame loop stuck');
        await new Promise<never>(() => {});
      }
      if (fp.kind === 'slow') await new Promise((r) => setTimeout(r, SLOW_FRAME_MS));
      if (fp.kind === 'block') {
        processLogger().error('INFERENCE_FAILPOINT block: main thread blocked');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
    },
  };
}
