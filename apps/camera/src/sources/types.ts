import type { AppError } from '../../../common/src/index.ts';
import type { DetectSize } from '../config.ts';
import type { DetectFrame } from '../detect-frame.ts';

/** Stable error codes of camera sources (shown in GET /cameras and counted in metrics). */
export const cameraErrors = {
  /** The camera rejected our credentials (or asked for some and we have none). */
  AUTH: 'CAMERA_ERR_AUTH',
  /** Connecting failed, or the camera answered with an unexpected HTTP status. */
  CONNECT: 'CAMERA_ERR_CONNECT',
  /** A stream that was delivering frames ended or went silent. */
  STREAM_LOST: 'CAMERA_ERR_STREAM_LOST',
  /** Bytes that are not a JPEG frame (bad part, truncated frame, decoder error). */
  DECODE: 'CAMERA_ERR_DECODE',
  /** No frame has arrived yet (HTTP 503 from frame.jpg). */
  NO_FRAME: 'CAMERA_ERR_NO_FRAME',
  UNKNOWN_CAMERA: 'CAMERA_ERR_UNKNOWN_CAMERA',
  /** frame.rgb was asked of a camera without a `detect` size (HTTP 404). */
  NO_DETECT: 'CAMERA_ERR_NO_DETECT',
} as const;

/** What a source gets from its worker. Sources never touch metrics or the frame store. */
export interface SourceContext {
  cameraId: string;
  fps: number;
  width: number;
  height: number;
  /**
   * The camera's detect size, if configured. A source that can make the raw detect frame in the
   * same decode (rtsp, synthetic) passes it with the JPEG; the others pass the JPEG alone and the
   * worker decodes it once with sharp.
   */
  detect?: DetectSize;
  /** Aborted when the worker stops: the source must release everything (sockets, ffmpeg). */
  signal: AbortSignal;
  /** A complete JPEG frame, with its raw detect frame when the source made one (same picture). */
  frame(jpeg: Buffer, raw?: DetectFrame): void;
  /** The connection failed or dropped and the source is about to retry after `delayMs`. */
  reconnecting(err: AppError, delayMs: number): void;
  /** A frame-level problem that did not end the connection. */
  decodeError(message: string): void;
}

/**
 * Runs until `ctx.signal` aborts (then resolves). Reconnects by itself with backoff, so it only
 * rejects on a bug. Each kind lives in its own module.
 */
export type FrameSource = (ctx: SourceContext) => Promise<void>;
