/** Shared shapes of the detection side. Boxes are normalized to the camera frame (0..1). */

/** An axis-aligned box in normalized frame coordinates: x1,y1 top-left, x2,y2 bottom-right. */
export interface Box { x1: number; y1: number; x2: number; y2: number }

/** One detection on one frame. */
export interface Detection extends Box {
  /** Class name: 'motion' for the default model, the model's own names for YOLO files. */
  cls: string;
  /** 0..1. For YOLO the class confidence; for motion see apps/inference/README.md. */
  score: number;
}

/** Per-stage timings of one frame, in seconds (fed to inference_latency_seconds). */
export interface StageTimes { preprocess: number; run: number; postprocess: number }

/**
 * A loaded model. `detect` is called by one camera loop at a time per camera id; per-camera state
 * (the motion background) is keyed by `camera`. Implementations share one ORT session.
 */
export interface Detector {
  readonly kind: 'motion' | 'yolo';
  /** Model input size in pixels. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  detect(camera: string, jpeg: Buffer): Promise<{ detections: Detection[]; times: StageTimes }>;
  /** Forget per-camera state (e.g. after the camera restarted). */
  reset(camera: string): void;
  close(): Promise<void>;
}
