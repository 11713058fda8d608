/**
 * Raw detect frames: the whole camera frame letterboxed (aspect kept, centred, black padding) into
 * the detector's input size, as interleaved RGB24. Decoded once where the frames come from, so
 * the inference app hands these bytes to the model as they are (no JPEG decode, no resize there).
 *
 * The geometry is computed here, never read back from a decoder: ffmpeg is told the exact scaled
 * size and padding (see sources/rtsp.ts), sharp likewise, so every path agrees to the pixel.
 */
import sharp from 'sharp';
import type { DetectSize } from './config.ts';

/** Where the frame sits inside the detect frame. Same arithmetic as the inference letterbox. */
export interface DetectGeometry {
  /** Detect frame size (the model input). */
  width: number;
  height: number;
  /** The full frame the picture was scaled from (the JPEG's size). */
  frameWidth: number;
  frameHeight: number;
  /** Detect pixels per frame pixel. */
  scale: number;
  /** Size of the scaled picture inside the detect frame. */
  pictureWidth: number;
  pictureHeight: number;
  /** Left and top padding in detect pixels (the rest of the padding is right/bottom). */
  padX: number;
  padY: number;
}

/** A raw detect frame: `data` is exactly width * height * 3 bytes of RGB24. */
export interface DetectFrame {
  data: Buffer;
  geometry: DetectGeometry;
}

/** Letterbox geometry of a `frameWidth` x `frameHeight` frame in a detect frame of `detect` size. Pure. */
export function detectGeometry(frameWidth: number, frameHeight: number, detect: DetectSize): DetectGeometry {
  const scale = Math.min(detect.width / frameWidth, detect.height / frameHeight);
  const pictureWidth = Math.max(1, Math.min(detect.width, Math.round(frameWidth * scale)));
  const pictureHeight = Math.max(1, Math.min(detect.height, Math.round(frameHeight * scale)));
  return {
    width: detect.width,
    height: detect.height,
    frameWidth,
    frameHeight,
    scale,
    pictureWidth,
    pictureHeight,
    padX: Math.floor((detect.width - pictureWidth) / 2),
    padY: Math.floor((detect.height - pictureHeight) / 2),
  };
}

/** Bytes of one detect frame. */
export const detectFrameBytes = (d: DetectSize) => d.width * d.height * 3;

/** Letterboxes any image sharp reads (a JPEG, or raw RGB with `raw`) into a detect frame. */
export async function toDetectFrame(input: Buffer, detect: DetectSize, raw?: { width: number; height: number; channels: 3 | 4 }): Promise<DetectFrame> {
  let frameWidth = raw?.width;
  let frameHeight = raw?.height;
  if (!frameWidth || !frameHeight) {
    const meta = await sharp(input).metadata();
    if (!meta.width || !meta.height) throw new Error('image has no dimensions');
    frameWidth = meta.width;
    frameHeight = meta.height;
  }
  const g = detectGeometry(frameWidth, frameHeight, detect);
  const { data, info } = await sharp(input, raw ? { raw } : {})
    .removeAlpha()
    .resize(g.pictureWidth, g.pictureHeight, { fit: 'fill', fastShrinkOnLoad: true })
    .extend({
      top: g.padY, left: g.padX,
      bottom: g.height - g.pictureHeight - g.padY, right: g.width - g.pictureWidth - g.padX,
      background: { r: 0, g: 0, b: 0 },
    })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== g.width || info.height !== g.height || info.channels !== 3) {
    throw new Error(`detect frame came out ${info.width}x${info.height}x${info.channels}, expected ${g.width}x${g.height}x3`);
  }
  return { data, geometry: g };
}
