/** The inference metrics, registered on the app's prom-client registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createMetrics(registry: Registry) {
  const registers = [registry];
  const frames = new Counter({ name: 'inference_frames_total', help: 'Frames run through the model', labelNames: ['camera'], registers });
  // Per camera: its frame counter's label child (looked up once) and the last frame time, kept in
  // a mutable field and copied into the gauge at scrape time. prom-client hashes the labels on
  // every inc/set, and Gauge.set stores a new {value, labels} object each call; this way a frame
  // costs one counter add and one field write.
  const perCamera = new Map<string, { frames: { inc(): void }; seconds: number }>();
  return {
    /** Counts a finished frame of `camera` at `seconds` (unix); cheap enough for every frame. */
    frameDone(camera: string, seconds: number) {
      let r = perCamera.get(camera);
      if (!r) perCamera.set(camera, (r = { frames: frames.labels(camera), seconds }));
      r.frames.inc();
      r.seconds = seconds;
    },
    frames,
    lastFrame: new Gauge({
      name: 'inference_last_frame_timestamp_seconds', help: 'Unix time when the last frame finished', labelNames: ['camera'], registers,
      collect() {
        for (const [camera, r] of perCamera) this.set({ camera }, r.seconds);
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
