/** The inference metrics, registered on the app's prom-client registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createMetrics(registry: Registry) {
  const registers = [registry];
  // Last frame time per camera, kept in a mutable field and copied into the gauge at scrape time:
  // prom-client's Gauge.set hashes the labels and stores a new {value, labels} object in its
  // long-lived map on every call; this is a field write per frame.
  const lastFrameAt = new Map<string, { seconds: number }>();
  return {
    /** Records that a frame of `camera` finished at `seconds` (unix); cheap enough for every frame. */
    frameDone(camera: string, seconds: number) {
      const r = lastFrameAt.get(camera);
      if (r) r.seconds = seconds;
      else lastFrameAt.set(camera, { seconds });
    },
    frames: new Counter({ name: 'inference_frames_total', help: 'Frames run through the model', labelNames: ['camera'], registers }),
    lastFrame: new Gauge({
      name: 'inference_last_frame_timestamp_seconds', help: 'Unix time when the last frame finished', labelNames: ['camera'], registers,
      collect() {
        for (const [camera, r] of lastFrameAt) this.set({ camera }, r.seconds);
      },
    }),
    dropped: new Counter({ name: 'inference_dropped_frames_total', help: 'Camera frames skipped because inference was busy (seq gaps)', labelNames: ['camera'], registers }),
    latency: new Histogram({
      name: 'inference_latency_seconds', help: 'Per-frame time by stage', labelNames: ['stage'], registers,
      // From 0.1 ms: the default model runs in ~0.25 ms; YOLO files take tens of ms to seconds.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    events: new Counter({ name: 'inference_events_total', help: 'Safety events raised', labelNames: ['camera', 'zone'], registers }),
    framePath: new Gauge({ name: 'inference_frame_path', help: 'How frames reach inference, per camera: 1 on the path in use (ring = shared-memory frame ring, rgb = frame.rgb over HTTP, jpeg = frame.jpg decoded here)', labelNames: ['camera', 'path'], registers }),
    errors: new Counter({ name: 'inference_frame_errors_total', help: 'Frames that failed (fetch, decode or model)', labelNames: ['camera'], registers }),
  };
}

export type InferenceMetrics = ReturnType<typeof createMetrics>;
