/** The inference metrics, registered on the app's prom-client registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { GateOutcome } from './model/types.ts';
import { removeSeriesOf } from '../../common/src/index.ts';

/** Rates over the last RATE_WINDOW_S whole seconds, from per-second buckets (a frame costs an add). */
const RATE_WINDOW_S = 10;

/** Per-second counts of one camera's motion runs, detector runs and skipped frames. */
class RateBuckets {
  private readonly secs = new Float64Array(RATE_WINDOW_S + 1);
  private readonly counts = new Float64Array((RATE_WINDOW_S + 1) * 3);
  add(nowMs: number, kind: 0 | 1 | 2): void {
    const sec = Math.floor(nowMs / 1000);
    const slot = sec % (RATE_WINDOW_S + 1);
    if (this.secs[slot] !== sec) {
      this.secs[slot] = sec;
      this.counts.fill(0, slot * 3, slot * 3 + 3);
    }
    this.counts[slot * 3 + kind]! += 1;
  }
  /** Per-second rate of `kind` over the last RATE_WINDOW_S complete seconds. */
  rate(nowMs: number, kind: 0 | 1 | 2): number {
    const now = Math.floor(nowMs / 1000);
    let n = 0;
    for (let slot = 0; slot <= RATE_WINDOW_S; slot++) {
      const age = now - this.secs[slot]!;
      if (age >= 1 && age <= RATE_WINDOW_S) n += this.counts[slot * 3 + kind]!;
    }
    return n / RATE_WINDOW_S;
  }
}

export function createMetrics(registry: Registry) {
  const registers = [registry];
  const frames = new Counter({ name: 'inference_frames_total', help: 'Frames run through the model', labelNames: ['camera'], registers });
  // Per camera: its frame counter's label child (looked up once) and the last frame time, kept in
  // a mutable field and copied into the gauge at scrape time. prom-client hashes the labels on
  // every inc/set, and Gauge.set stores a new {value, labels} object each call; this way a frame
  // costs one counter add and one field write.
  const perCamera = new Map<string, { frames: { inc(): void }; seconds: number }>();
  const motionFrames = new Counter({ name: 'inference_motion_frames_total', help: 'Frames run through the motion model (object detectors behind the motion gate)', labelNames: ['camera'], registers });
  const detectFrames = new Counter({ name: 'inference_detect_frames_total', help: 'Frames run through the object detector', labelNames: ['camera'], registers });
  const skipped = new Counter({ name: 'inference_detect_skipped_total', help: 'Frames the object detector did not run on: no_motion (nothing moved, periodic check not due) or budget (the camera\'s detect fps budget)', labelNames: ['camera', 'reason'], registers });
  const detectorSeconds = new Histogram({
    name: 'inference_detector_seconds', help: 'Object detector time per detected frame (preprocess + run + decode)', registers,
    buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
  });
  const gates = new Map<string, { motion: { inc(): void }; detect: { inc(): void }; noMotion: { inc(): void }; budget: { inc(): void }; rates: RateBuckets }>();
  const gated = () => [...gates.entries()];
  const now = () => Date.now();
  const m = {
    /** Counts one frame through the motion gate of `camera` (cheap enough for every frame). */
    gateDone(camera: string, g: GateOutcome, nowMs: number) {
      let r = gates.get(camera);
      if (!r) {
        gates.set(camera, (r = {
          motion: motionFrames.labels(camera), detect: detectFrames.labels(camera),
          noMotion: skipped.labels(camera, 'no_motion'), budget: skipped.labels(camera, 'budget'), rates: new RateBuckets(),
        }));
      }
      r.motion.inc();
      r.rates.add(nowMs, 0);
      if (g.decision === 'detect') {
        r.detect.inc();
        r.rates.add(nowMs, 1);
        if (g.detectSeconds !== undefined) detectorSeconds.observe(g.detectSeconds);
      } else {
        (g.decision === 'budget' ? r.budget : r.noMotion).inc();
        r.rates.add(nowMs, 2);
      }
    },
    motionFps: new Gauge({
      name: 'inference_motion_fps', help: 'Frames per second through the motion model, per camera (last 10 s)', labelNames: ['camera'], registers,
      collect() { for (const [camera, r] of gated()) this.set({ camera }, r.rates.rate(now(), 0)); },
    }),
    detectFps: new Gauge({
      name: 'inference_detect_fps', help: 'Object detector runs per second, per camera (last 10 s)', labelNames: ['camera'], registers,
      collect() { for (const [camera, r] of gated()) this.set({ camera }, r.rates.rate(now(), 1)); },
    }),
    skippedFps: new Gauge({
      name: 'inference_skipped_fps', help: 'Frames per second the object detector skipped (no motion or budget), per camera (last 10 s)', labelNames: ['camera'], registers,
      collect() { for (const [camera, r] of gated()) this.set({ camera }, r.rates.rate(now(), 2)); },
    }),
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
    cameraLists: new Counter({ name: 'inference_camera_lists_total', help: 'Reads of the camera controller\'s GET /cameras (without CAMERAS), by outcome: complete, incomplete (the controller has not had a whole list from the onvif service yet: no loop stopped), failed (no answer: nothing changed)', labelNames: ['outcome'], registers }),
    cameraLoops: new Gauge({ name: 'inference_camera_loops', help: 'Cameras with a running frame loop', registers }),
  };
  /** Every metric with a `camera` label (whatever its other labels): a removed camera's series go from each. */
  const byCamera = [m.frames, motionFrames, detectFrames, skipped, m.motionFps, m.detectFps, m.skippedFps, m.lastFrame, m.dropped, m.events, m.framePath, m.errors];
  return {
    ...m,
    /**
     * Forgets a camera whose loop has ended (it left the controller's list): every series labelled
     * with it goes from /metrics, so no frozen gauge is left for a staleness probe; a camera that
     * comes back starts its series again from zero.
     */
    async forgetCamera(camera: string): Promise<void> {
      perCamera.delete(camera);
      gates.delete(camera);
      await removeSeriesOf(byCamera, 'camera', camera);
    },
  };
}

export type InferenceMetrics = ReturnType<typeof createMetrics>;
