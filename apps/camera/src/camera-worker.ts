import { defineWorker, type TypedWorker } from 'edgevisor';
import type { AppError } from '../../common/src/index.ts';
import type { CameraConfig, Failpoint } from './config.ts';
import { toDetectFrame, type DetectFrame } from './detect-frame.ts';
import { basename } from 'node:path';
import { createRingWriter, ringFileName, ringPath, type RingWriter } from './frame-ring.ts';
import { LatestFrame } from './frame-store.ts';
import type { CameraMetrics } from './metrics.ts';
import { sourceFor } from './sources/index.ts';
import type { FrameSource } from './sources/types.ts';
import { TimeRing } from './time-ring.ts';

/** How many frame arrival times the fps meter keeps. */
const RECENT = 64;

/** What GET /cameras shows about a camera's health. */
export type CameraState =
  /** No frame yet since the controller started. */
  | 'waiting'
  /** Frames arrive at about the expected interval. */
  | 'streaming'
  /** The source failed more recently than the last frame; it is retrying with backoff. */
  | 'reconnecting'
  /** No frame for 3 intervals (plus 1 s) and no error reported: the worker may be hung. */
  | 'stalled';

/**
 * A camera worker's own lifecycle, as the supervision tree sees it (`camera/<id>` in the
 * supervisor's tree, `edgevisor status`'s WORKER column):
 * - `connecting`   a run began; no frame yet;
 * - `streaming`    frames arrive;
 * - `reconnecting` the source failed or dropped and retries with backoff.
 */
export const cameraWorkerStates = ['connecting', 'streaming', 'reconnecting'] as const;
export type CameraWorkerState = (typeof cameraWorkerStates)[number];

/**
 * Everything the controller keeps per camera; it outlives worker restarts, so the frame seq,
 * the fps meter and the counters continue across them.
 */
export class CameraRuntime {
  readonly frames = new LatestFrame();
  runs = 0;
  /** Frames delivered since the controller started (all runs). */
  framesTotal = 0;
  /** When the source failed and retried (a reconnect). */
  readonly reconnects = new TimeRing();
  /** When the supervisor restarted the worker because it stopped heartbeating (neither frames nor retries). */
  readonly stalls = new TimeRing();
  /** When the worker was restarted, for any reason. */
  readonly restarts = new TimeRing();
  lastError: { code: string; message: string; at: number } | undefined;
  /**
   * Names this runtime's frame stream (its seq began at 1) in its ring header and in GET /cameras:
   * a new runtime (the controller restarted, or the camera was deleted and added again) has
   * another, so a reader can tell a stream that began again, or a stale or foreign file.
   */
  readonly ringToken = Math.floor(Math.random() * 2 ** 48) + 1;
  /** Arrival times of the last RECENT frames, a ring (no allocation or shifting per frame). */
  private readonly recent = new Float64Array(RECENT);
  private recentCount = 0;

  constructor(readonly config: CameraConfig) {}

  recordFrame(ts: number): void {
    this.framesTotal++;
    this.recent[this.recentCount++ % RECENT] = ts;
  }

  /** Frames per second over the last 5 s (0 when fewer than 2 frames). */
  measuredFps(now = Date.now()): number {
    let n = 0;
    let oldest = now;
    for (let i = 0; i < Math.min(this.recentCount, RECENT); i++) {
      const t = this.recent[i]!;
      if (now - t > 5000) continue;
      n++;
      if (t < oldest) oldest = t;
    }
    if (n < 2) return 0;
    const span = Math.max(now - oldest, 1000 / this.config.fps);
    return Math.round(((n - 1) / span) * 1000 * 10) / 10;
  }

  state(now = Date.now()): CameraState {
    const last = this.frames.latest()?.ts;
    if (this.lastError && (!last || this.lastError.at > last)) return 'reconnecting';
    if (!last) return 'waiting';
    return now - last <= 3000 / this.config.fps + 1000 ? 'streaming' : 'stalled';
  }
}

/** Where a detect camera's worker publishes its frame ring (see frame-ring.ts). */
export interface RingOptions {
  dir: string;
  log: (line: string) => void;
}

/**
 * The supervised worker of one camera, a typed worker (spec/worker-lifecycle.ts): runs its source,
 * keeps the newest frame, counts, reports its state and heartbeats on every frame and every
 * reconnect attempt. Its deadlines (all the camera's `heartbeatTimeoutMs`): no frame for that long
 * after a start (`connecting` maxFor), frames that stop (`streaming` heartbeat), retries that stop
 * (`reconnecting` heartbeat: a worker that is retrying is not hung; one that neither delivers nor
 * retries is). The runtime restarts it with the broken deadline as the reason. There is no limit on
 * reconnecting as such: a camera that is unplugged retries forever, and a restart would not help.
 */
export function createCameraWorker(cam: CameraRuntime, metrics: CameraMetrics, opts: { failpoint?: Failpoint; source?: FrameSource; ring?: RingOptions; framesStopped?: () => boolean } = {}): TypedWorker<CameraWorkerState> {
  const { id } = cam.config;
  const labels = { camera: id };
  const source = opts.source ?? sourceFor(cam.config.source);
  const hangAfter = opts.failpoint?.kind === 'hang' && opts.failpoint.camera === id ? opts.failpoint.afterFrames : undefined;

  let ring: RingWriter | undefined;
  const deliver = (jpeg: Buffer, raw: DetectFrame | undefined, heartbeat: () => void) => {
    const f = cam.frames.put(jpeg, raw);
    if (ring && raw) {
      try {
        ring.write(f.seq, f.ts, raw);
      } catch (err) {
        // The HTTP frame.rgb still serves this camera; the inference loop falls back to it.
        opts.ring?.log(`camera ${id}: frame ring ${basename(ring.path)} failed, raw frames over HTTP only: ${describeFsError(err)}`);
        ring.close();
        ring = undefined;
      }
    }
    cam.recordFrame(f.ts);
    metrics.frameArrived(id, f.ts);
    heartbeat();
  };

  const limit = cam.config.heartbeatTimeoutMs;
  return defineWorker({
    states: cameraWorkerStates,
    initial: 'connecting',
    deadlines: { connecting: { maxFor: limit }, streaming: { heartbeat: limit }, reconnecting: { heartbeat: limit } },
    run: async ({ signal, heartbeat: beat, setState }) => {
      if (cam.runs++ > 0) metrics.workerRestarts.inc(labels);
      // Reported only when it changes: frames come 5-30 times a second.
      let state: CameraWorkerState = 'connecting';
      const enter = (next: CameraWorkerState) => {
        if (state === next) return;
        state = next;
        setState(next);
      };
      const heartbeat = () => {
        enter('streaming');
        beat();
      };
      // The source gets its own signal so the hang failpoint can stop it without ending the run.
      const inner = new AbortController();
      const onAbort = () => inner.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      let framesThisRun = 0;
      let hung: (() => void) | undefined;
      const hang = new Promise<void>((resolve) => { hung = resolve; });
      const { detect } = cam.config;
      // A fresh ring per run, renamed into place: a reader notices the new inode and reopens.
      if (detect && opts.ring) {
        try {
          ring = createRingWriter(ringPath(opts.ring.dir, id), detect, cam.ringToken);
        } catch (err) {
          opts.ring.log(`camera ${id}: cannot create frame ring ${ringFileName(id)} in FRAMES_DIR, raw frames over HTTP only: ${describeFsError(err)}`);
        }
      }
      // Sources that cannot make the detect frame in their own decode (mjpeg, snapshot) hand over
      // JPEGs; they are decoded here once each, newest first: while one decodes, a newer JPEG
      // replaces any waiting one (latest-frame semantics, nothing queues).
      const decoder = detect ? createDetectDecoder((jpeg, raw) => deliver(jpeg, raw, heartbeat), (jpeg) => toDetectFrame(jpeg, detect), () => metrics.decodeErrors.inc(labels)) : undefined;
      try {
        const sourceDone = source({
          cameraId: id,
          fps: cam.config.fps,
          width: cam.config.width,
          height: cam.config.height,
          ...(detect ? { detect } : {}),
          signal: inner.signal,
          frame(jpeg, raw) {
            if (opts.framesStopped?.()) {
              // Runtime failpoint stop-frames: the source is alive (heartbeats) but no frame gets
              // through, as a camera that connects and sends nothing usable: only throughput sees it.
              heartbeat();
              return;
            }
            if (hangAfter !== undefined && framesThisRun >= hangAfter) {
              // FAILPOINT hang: stop delivering and heartbeating, like a driver stuck in a call.
              inner.abort();
              return;
            }
            framesThisRun++;
            if (decoder && !raw) decoder.push(jpeg);
            else deliver(jpeg, raw, heartbeat);
          },
          reconnecting(err: AppError, delayMs: number) {
            cam.lastError = { code: err.code, message: `${err.message} (retry in ${delayMs}ms)`, at: Date.now() };
            cam.reconnects.add(cam.lastError.at);
            metrics.reconnects.inc(labels);
            metrics.sourceErrors.inc({ camera: id, code: err.code });
            enter('reconnecting');
            beat();
          },
          decodeError() {
            metrics.decodeErrors.inc(labels);
          },
        });
        await sourceDone;
        if (!signal.aborted && hangAfter !== undefined) {
          // Blocked until the supervisor gives up on us and aborts the run.
          signal.addEventListener('abort', () => hung?.(), { once: true });
          await hang;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        inner.abort();
        decoder?.close();
        ring?.close();
        ring = undefined;
      }
    },
  });
}

/**
 * One decode at a time, newest JPEG first; older waiting JPEGs are dropped. A JPEG that does not
 * decode is a decode error and no frame (a frame of a detect camera always has its raw frame).
 */
function createDetectDecoder(
  deliver: (jpeg: Buffer, raw: DetectFrame) => void,
  decode: (jpeg: Buffer) => Promise<DetectFrame>,
  onError: (message: string) => void,
): { push(jpeg: Buffer): void; close(): void } {
  let waiting: Buffer | undefined;
  let busy = false;
  let closed = false;
  const run = async (jpeg: Buffer) => {
    busy = true;
    for (let next: Buffer | undefined = jpeg; next && !closed; next = waiting, waiting = undefined) {
      try {
        const raw = await decode(next);
        if (!closed) deliver(next, raw);
      } catch (err) {
        onError((err as Error).message);
      }
    }
    busy = false;
  };
  return {
    push(jpeg) {
      if (closed) return;
      if (busy) waiting = jpeg;
      else void run(jpeg);
    },
    close() {
      closed = true;
      waiting = undefined;
    },
  };
}

/** An fs error without the server path it names (log lines carry no server paths): `ENOSPC: no space left on device`. */
function describeFsError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = String(e?.message ?? err);
  return typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) ? msg.split(',')[0]! : msg.replace(/(['"]?)\/[^\s'"]+\1/g, '<path>');
}
