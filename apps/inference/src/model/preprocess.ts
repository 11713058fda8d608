/**
 * Frame -> model tensor: letterbox (keep aspect, pad with grey 114 as ultralytics does) to the model
 * input with sharp, then interleaved RGB uint8 -> planar float32 NCHW in 0..1.
 */
import sharp from 'sharp';
import type { Box } from './types.ts';

/** Where the frame landed inside the model input; used to map boxes back to the frame. */
export interface Letterbox {
  frameWidth: number;
  frameHeight: number;
  /** Model-input pixels per frame pixel. */
  scale: number;
  padX: number;
  padY: number;
  inputWidth: number;
  inputHeight: number;
}

export interface Preprocessed { data: Float32Array; letterbox: Letterbox }

const PAD = { r: 114, g: 114, b: 114 };

/** Computes the letterbox geometry (pure; exported for tests). */
export function letterboxFor(frameWidth: number, frameHeight: number, inputWidth: number, inputHeight: number): Letterbox {
  const scale = Math.min(inputWidth / frameWidth, inputHeight / frameHeight);
  const w = Math.round(frameWidth * scale);
  const h = Math.round(frameHeight * scale);
  return { frameWidth, frameHeight, scale, padX: Math.floor((inputWidth - w) / 2), padY: Math.floor((inputHeight - h) / 2), inputWidth, inputHeight };
}

/** Decodes a JPEG (or any image sharp reads) into a letterboxed NCHW float32 tensor. */
export async function preprocess(image: Buffer, inputWidth: number, inputHeight: number, out?: Float32Array): Promise<Preprocessed> {
  const meta = await sharp(image).metadata();
  if (!meta.width || !meta.height) throw new Error('frame has no dimensions');
  const lb = letterboxFor(meta.width, meta.height, inputWidth, inputHeight);
  const w = Math.round(meta.width * lb.scale);
  const h = Math.round(meta.height * lb.scale);
  const { data } = await sharp(image)
    .removeAlpha()
    .resize(w, h, { fit: 'fill', kernel: 'linear' })
    .extend({ top: lb.padY, left: lb.padX, bottom: inputHeight - h - lb.padY, right: inputWidth - w - lb.padX, background: PAD })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = inputWidth * inputHeight;
  const t = out ?? new Float32Array(3 * plane);
  const inv = 1 / 255;
  for (let i = 0, p = 0; p < plane; p++, i += 3) {
    t[p] = data[i]! * inv;
    t[plane + p] = data[i + 1]! * inv;
    t[2 * plane + p] = data[i + 2]! * inv;
  }
  return { data: t, letterbox: lb };
}

/** Maps a box in model-input pixels back to normalized frame coordinates, clamped to 0..1. */
export function unletterbox(b: Box, lb: Letterbox): Box {
  const fx = (x: number) => clamp01((x - lb.padX) / lb.scale / lb.frameWidth);
  const fy = (y: number) => clamp01((y - lb.padY) / lb.scale / lb.frameHeight);
  return { x1: fx(b.x1), y1: fy(b.y1), x2: fx(b.x2), y2: fy(b.y2) };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
