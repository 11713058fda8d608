/**
 * Motion-gated detection, as Frigate does it: the cheap motion model (~1 ms) runs on every frame;
 * the object detector (~50 ms) only when something moved since its last run, and at least every
 * `maxIntervalMs` (a person standing still in a zone fades out of the motion background within
 * about a second, but must not be forgotten), never more often than the camera's detect fps budget.
 *
 * Between detector runs the last detections are held: no motion means nothing moved, so what was
 * there is still there (at most `maxIntervalMs` old); a frame skipped for the budget is at most one
 * detect interval old. Every frame therefore carries the objects plus the motion boxes (class
 * `motion`), so zone rules on `person` and on `motion` both work on every frame.
 *
 * INVARIANTS: as for every Detector, one camera's frames come one at a time (its loop awaits each);
 * state is per camera, the decision is the pure `decideGate`.
 */
import type { Detection, Detector, FrameInput, GateOutcome } from './types.ts';

/** When the detector may and must run, per camera. */
export interface GatePolicy {
  /** Shortest time between two detector runs of one camera: 1000 / detect fps. */
  minIntervalMs: number;
  /** Longest time without a detector run while nothing moves (the periodic check). */
  maxIntervalMs: number;
}

/** What the gate remembers of one camera. */
export interface GateState { lastDetectAt: number | undefined; motionPending: boolean }

/**
 * Pure: should this frame (at `now`, with or without motion) go to the detector? Motion that fell
 * inside the budget is remembered and served by the next frame the budget allows.
 */
export function decideGate(p: GatePolicy, s: GateState, motion: boolean, now: number): GateOutcome['decision'] {
  if (s.lastDetectAt === undefined) return 'detect';
  const since = now - s.lastDetectAt;
  // A clock that went backwards (a camera restart's timestamps): start over rather than stall.
  if (since < 0) return 'detect';
  // 10 % slack: frames of a 5 fps camera arrive 200 ms apart give or take a few ms; a 5 fps budget
  // must take each of them, not every other one.
  if (since < p.minIntervalMs * 0.9) return motion || s.motionPending ? 'budget' : 'no_motion';
  if (motion || s.motionPending || since >= p.maxIntervalMs) return 'detect';
  return 'no_motion';
}

/** The two models and the policy of one gated detector. */
export interface GatedOptions {
  motion: Detector;
  detector: Detector;
  policy: GatePolicy;
  /** Motion boxes below this score do not open the gate (default 0: any motion blob). */
  minMotionScore?: number;
}

interface CameraGate extends GateState { held: Detection[] }

/** The motion model and the detector as one Detector (kind and input size of the detector). */
export function createGatedDetector(o: GatedOptions): Detector {
  if (o.motion.inputWidth !== o.detector.inputWidth || o.motion.inputHeight !== o.detector.inputHeight) {
    throw new Error(`motion model ${o.motion.inputWidth}x${o.motion.inputHeight} and detector ${o.detector.inputWidth}x${o.detector.inputHeight} must take the same frames`);
  }
  const cams = new Map<string, CameraGate>();
  const minScore = o.minMotionScore ?? 0;
  return {
    kind: o.detector.kind,
    inputWidth: o.detector.inputWidth,
    inputHeight: o.detector.inputHeight,
    async detect(camera, frame: FrameInput, ts = Date.now()) {
      let g = cams.get(camera);
      if (!g) cams.set(camera, (g = { lastDetectAt: undefined, motionPending: false, held: [] }));
      const m = await o.motion.detect(camera, frame, ts);
      const motion = m.detections.some((d) => d.score >= minScore);
      const decision = decideGate(o.policy, g, motion, ts);
      const times = { ...m.times };
      let detectSeconds: number | undefined;
      if (decision === 'detect') {
        const d = await o.detector.detect(camera, frame, ts);
        g.held = d.detections;
        g.lastDetectAt = ts;
        g.motionPending = false;
        times.preprocess += d.times.preprocess;
        times.run += d.times.run;
        times.postprocess += d.times.postprocess;
        detectSeconds = d.times.preprocess + d.times.run + d.times.postprocess;
      } else if (motion) {
        g.motionPending = true;
      }
      const gate: GateOutcome = { decision, motion, ...(detectSeconds !== undefined ? { detectSeconds } : {}) };
      return { detections: g.held.length ? [...g.held, ...m.detections] : m.detections, times, gate };
    },
    reset(camera) {
      cams.delete(camera);
      o.motion.reset(camera);
      o.detector.reset(camera);
    },
    async close() {
      await Promise.all([o.motion.close(), o.detector.close()]);
    },
  };
}
