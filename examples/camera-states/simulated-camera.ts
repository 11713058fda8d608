/**
 * A simulated camera worker for the example: a typed worker (connecting, streaming,
 * reconnecting) with deadlines, whose runs follow a script of faults, so the example shows each
 * kind of deadline break and the restart that follows. No network and no ffmpeg: "frames" are
 * timer ticks; the real camera worker is apps/camera/src/camera-worker.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { defineWorker } from 'edgevisor';

/** What one run of a camera does. */
export type RunScript =
  /** Connects in 300 ms and streams until stopped. */
  | 'healthy'
  /** Streams for a while, then its frames stop: the driver is stuck, nothing more arrives. */
  | 'freezes'
  /** Never gets past connecting: the camera accepts the connection and sends nothing. */
  | 'never-connects'
  /** Streams, drops, then keeps retrying without ever getting a frame again. */
  | 'reconnect-loop';

export const CAMERA_DEADLINES = {
  connecting: { maxFor: '2s' },
  streaming: { heartbeat: '1s' },
  transitions: { 'reconnecting->streaming': '3s' },
} as const;

/** `script[i]` is run i+1 (the last entry repeats). */
export function simulatedCamera(script: readonly RunScript[]) {
  let run = 0;
  return defineWorker({
    states: ['connecting', 'streaming', 'reconnecting'],
    initial: 'connecting',
    deadlines: CAMERA_DEADLINES,
    async run({ signal, heartbeat, setState }) {
      const what = script[Math.min(run++, script.length - 1)]!;
      const opts = { signal };
      try {
        if (what === 'never-connects') return await delay(3_600_000, undefined, opts);
        await delay(300, undefined, opts);
        setState('streaming');
        for (let frame = 0; ; frame++) {
          if (what === 'freezes' && frame === 15) return await delay(3_600_000, undefined, opts);
          if (what === 'reconnect-loop' && frame === 10) break;
          heartbeat(); // one frame
          await delay(100, undefined, opts);
        }
        // reconnect-loop: the stream dropped; retry every 500 ms, never successfully.
        for (;;) {
          setState('reconnecting');
          heartbeat();
          await delay(500, undefined, opts);
          setState('connecting');
          await delay(200, undefined, opts);
        }
      } catch (err) {
        if (signal.aborted) return; // stopped as asked
        throw err;
      }
    },
  });
}
