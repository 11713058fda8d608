import { Counter, Gauge, type Registry } from 'prom-client';

/** The camera controller's metrics, all labelled by `camera` (its id). */
export interface CameraMetrics {
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
}

export function createCameraMetrics(registry: Registry, cameraIds: readonly string[]): CameraMetrics {
  const registers = [registry];
  const m: CameraMetrics = {
    frames: new Counter({ name: 'camera_frames_total', help: 'Frames received per camera', labelNames: ['camera'], registers }),
    lastFrameTs: new Gauge({ name: 'camera_last_frame_timestamp_seconds', help: 'Unix time of the newest frame per camera', labelNames: ['camera'], registers }),
    reconnects: new Counter({ name: 'camera_reconnects_total', help: 'Reconnect attempts after a failed or dropped stream', labelNames: ['camera'], registers }),
    decodeErrors: new Counter({ name: 'camera_decode_errors_total', help: 'Undecodable frames or parts, decoder errors', labelNames: ['camera'], registers }),
    workerRestarts: new Counter({ name: 'camera_worker_restarts_total', help: 'Restarts of the camera worker by the supervisor', labelNames: ['camera'], registers }),
    sourceErrors: new Counter({ name: 'camera_source_errors_total', help: 'Source failures by error code', labelNames: ['camera', 'code'], registers }),
    streamSkipped: new Counter({ name: 'camera_stream_skipped_frames_total', help: 'Frames skipped for slow MJPEG clients', labelNames: ['camera'], registers }),
    streamClients: new Gauge({ name: 'camera_stream_clients', help: 'Connected MJPEG clients', labelNames: ['camera'], registers }),
  };
  // Series exist from the start, so a camera that never delivers shows 0 rather than nothing.
  for (const camera of cameraIds) {
    m.frames.inc({ camera }, 0);
    m.reconnects.inc({ camera }, 0);
    m.decodeErrors.inc({ camera }, 0);
    m.workerRestarts.inc({ camera }, 0);
    m.streamSkipped.inc({ camera }, 0);
    m.streamClients.set({ camera }, 0);
  }
  return m;
}
