/** Shared shapes of the detection side. Boxes are normalized to the camera frame (0..1). */
import type { Letterbox } from './preprocess.ts';

/** An axis-aligned box in normalized frame coordinates: x1,y1 top-left, x2,y2 bottom-right. */
export interface Box { x1: number; y1: number; x2: number; y2: number }

/** One detection on one frame. */
export interface Detection extends Box {
  /** Class name: 'motion' for the motion model, COCO names (e.g. 'person') for NanoDet and CenterNet, the model's own names for YOLO files. */
  cls: string;
  /** 0..1. For YOLO the class confidence; for motion see apps/inference/README.md. */
  score: number;
}

/** Per-stage timings of one frame, in seconds (fed to inference_latency_seconds). */
export interface StageTimes { preprocess: number; run: number; postprocess: number }

/** A compressed frame (the camera's frame.jpg, or any image sharp reads): decoded by the detector. */
export interface JpegFrame { kind: 'jpeg'; jpeg: Buffer }

/**
 * A decoded frame already at the model's input geometry: interleaved RGB24 (`width * height * 3`
 * bytes), the camera frame letterboxed into it by the camera (its frame.rgb). `letterbox` maps
 * model pixels back to the full frame; its inputWidth/inputHeight equal width/height.
 */
export interface RawFrame {
  kind: 'raw';
  data: Uint8Array;
  width: number;
  height: number;
  letterbox: Letterbox;
  /**
   * The full-resolution JPEG of this same frame, if it can still be had (used only for event
   * snapshots). Undefined result: the snapshot is encoded from `data`.
   */
  jpeg?: () => Promise<Buffer | undefined>;
}

/** What a detector takes. A bare Buffer is a JPEG (the original interface, kept for callers and tests). */
export type FrameInput = JpegFrame | RawFrame | Buffer;

/** Normalises a FrameInput: a bare Buffer becomes a JpegFrame. */
export const asFrame = (f: FrameInput): JpegFrame | RawFrame => (Buffer.isBuffer(f) ? { kind: 'jpeg', jpeg: f } : f);

/** What the motion gate did with one frame (./gate.ts); absent for ungated models. */
export interface GateOutcome {
  /** detect: the detector ran; no_motion: nothing moved and the periodic check is not due; budget: the camera's detect fps budget was used up. */
  decision: 'detect' | 'no_motion' | 'budget';
  /** The motion model saw motion on this frame. */
  motion: boolean;
  /** Time the detector took on this frame (s), when it ran. */
  detectSeconds?: number;
}

/** One frame's result. */
export interface DetectResult { detections: Detection[]; times: StageTimes; gate?: GateOutcome }

/**
 * A loaded model. `detect` is called by one camera loop at a time per camera id; per-camera state
 * (the motion background) is keyed by `camera`. Implementations share one ORT session.
 */
export interface Detector {
  readonly kind: 'motion' | 'yolo' | 'centernet' | 'nanodet';
  /** Model input size in pixels: a camera whose detect size equals it sends raw frames. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** `ts`: the frame's capture time (unix ms; default now), used by the motion gate. */
  detect(camera: string, frame: FrameInput, ts?: number): Promise<DetectResult>;
  /** Forget per-camera state (e.g. after the camera restarted). */
  reset(camera: string): void;
  close(): Promise<void>;
}
