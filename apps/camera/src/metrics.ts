import { Counter, Gauge, type Registry } from 'prom-client';
import { removeSeriesOf } from '../../common/src/index.ts';

/** The camera controller's metrics, all labelled by `camera` (its id). */
export interface CameraMetrics {
  /** Counts one frame of `camera` that arrived at `tsMs`. The per-frame path: see createCameraMetrics. */
  frameArrived(camera: string, tsMs: number): void;
  frames: Counter<'camera'>;
  lastFrameTs: Gauge<'camera'>;
  reconnects: Counter<'camera'>;
  decodeErrors: Counter<'camera'>;
  workerRestarts: Counter<'camera'>;
  /** Connection/auth failures by stable code (CAMERA_ERR_AUTH, ...). */
  sourceErrors: Counter<'camera' | 'code'>;
  /** Frames an MJPEG client did not get because it was still busy with an earlier one. */
  streamSkipped: Counter<'camera'>;
  streamClients: Gauge<'camera'>;
  /**
   * A camera that left the controller (a discovered camera the onvif service forgot, or one
   * deleted by hand), once its worker stopped: its series go (but camera_stream_clients, which
   * its last MJPEG clients still count down), so nothing reads a frozen timestamp as a dead
   * camera, and a controller whose last camera left exports no frame counter at all (a probe
   * with `absent: pass` passes; frozen counters would read as a stall). A summed counter that
   * lost a camera reads as a reset to the throughput probe: its window starts again.
   */
  forget(camera: string): Promise<void>;
}

/** Frames of one camera as plain numbers; `reported` is what camera_frames_total already shows. */
interface FrameCount { frames: number; reported: number; lastTsMs: number }

/**
 * The per-frame counters (frames, last frame time) are plain numbers, copied into prom-client
 * when /metrics is scraped: a labelled prom-client update hashes its labels every call, and at
 * 10-30 frames per second per camera that was a fifth of the controller's own CPU per frame.
 * Rare events (reconnects, errors) update prom-client directly.
 */
export function createCameraMetrics(registry: Registry, cameraIds: readonly string[]): CameraMetrics {
  const registers = [registry];
  const counts = new Map<string, FrameCount>();
  const countOf = (camera: string): FrameCount => {
    let c = counts.get(camera);
    if (!c) counts.set(camera, (c = { frames: 0, reported: 0, lastTsMs: 0 }));
    return c;
  };
  const m: CameraMetrics = {
    frameArrived(camera, tsMs) {
      const c = countOf(camera);
      c.frames++;
      c.lastTsMs = tsMs;
    },
    frames: new Counter({
      name: 'camera_frames_total', help: 'Frames received per camera', labelNames: ['camera'], registers,
      collect() {
        for (const [camera, c] of counts) {
          if (c.frames > c.reported) this.inc({ camera }, c.frames - c.reported);
          c.reported = c.frames;
        }
      },
    }),
    lastFrameTs: new Gauge({
      name: 'camera_last_frame_timestamp_seconds', help: 'Unix time of the newest frame per camera', labelNames: ['camera'], registers,
      collect() {
        for (const [camera, c] of counts) if (c.lastTsMs > 0) this.set({ camera }, c.lastTsMs / 1000);
      },
    }),
    reconnects: new Counter({ name: 'camera_reconnects_total', help: 'Reconnect attempts after a failed or dropped stream', labelNames: ['camera'], registers }),
    decodeErrors: new Counter({ name: 'camera_decode_errors_total', help: 'Undecodable frames or parts, decoder errors', labelNames: ['camera'], registers }),
    workerRestarts: new Counter({ name: 'camera_worker_restarts_total', help: 'Restarts of the camera worker by the supervisor', labelNames: ['camera'], registers }),
    sourceErrors: new Counter({ name: 'camera_source_errors_total', help: 'Source failures by error code', labelNames: ['camera', 'code'], registers }),
    streamSkipped: new Counter({ name: 'camera_stream_skipped_frames_total', help: 'Frames skipped for slow MJPEG clients', labelNames: ['camera'], registers }),
    streamClients: new Gauge({ name: 'camera_stream_clients', help: 'Connected MJPEG clients', labelNames: ['camera'], registers }),
    async forget(camera) {
      counts.delete(camera);
      await removeSeriesOf([m.frames, m.lastFrameTs, m.reconnects, m.decodeErrors, m.workerRestarts, m.sourceErrors, m.streamSkipped], 'camera', camera);
    },
  };
  // Series exist from the start, so a camera that never delivers shows 0 rather than nothing.
  for (const camera of cameraIds) {
    countOf(camera);
    m.frames.inc({ camera }, 0);
    m.reconnects.inc({ camera }, 0);
    m.decodeErrors.inc({ camera }, 0);
    m.workerRestarts.inc({ camera }, 0);
    m.streamSkipped.inc({ camera }, 0);
    m.streamClients.set({ camera }, 0);
  }
  return m;
}
