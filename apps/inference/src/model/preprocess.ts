/**
 * The JPEG fallback path (a camera without a detect size equal to the model input; the production
 * path is raw frames from the camera, see RawFrame in ./types.ts), plus the small helpers raw
 * frames need. Frame -> model tensor: letterbox (keep aspect, pad with grey 114 as ultralytics does) to the model
 * input, interleaved RGB uint8 -> planar float32 NCHW in 0..1.
 *
 * Hot path (every frame of every camera), so: the frame size comes from the JPEG header in JS (no
 * second sharp pipeline for metadata); sharp decodes straight to the scaled size (libjpeg DCT
 * scaling, `fastShrinkOnLoad`) and outputs raw pixels, nothing else; the letterbox padding is written
 * by the conversion loop into the caller's reused Float32Array, so there is no sharp `extend` and no
 * per-frame allocation of the 1.2 MB tensor. Measured: apps/inference/README.md, "Performance".
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

const PAD = 114 / 255;

// Frames are new buffers every time: libvips' operation cache can never hit, it only costs memory
// and a lookup per frame. Process-wide, which is what we want for this app.
sharp.cache(false);

/** Computes the letterbox geometry (pure; exported for tests). */
export function letterboxFor(frameWidth: number, frameHeight: number, inputWidth: number, inputHeight: number): Letterbox {
  const scale = Math.min(inputWidth / frameWidth, inputHeight / frameHeight);
  const w = Math.round(frameWidth * scale);
  const h = Math.round(frameHeight * scale);
  return { frameWidth, frameHeight, scale, padX: Math.floor((inputWidth - w) / 2), padY: Math.floor((inputHeight - h) / 2), inputWidth, inputHeight };
}

/**
 * Width and height from a JPEG's SOFn header, or null if `buf` is not a JPEG (or is truncated
 * before its frame header). Walks the marker segments; never reads past the buffer. Pure.
 */
export function jpegSize(buf: Uint8Array): { width: number; height: number } | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1]!;
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; } // no length
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan data before any SOF
    const len = (buf[i + 2]! << 8) | buf[i + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC): [len][precision][height][width]
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > buf.length) return null;
      const height = (buf[i + 5]! << 8) | buf[i + 6]!;
      const width = (buf[i + 7]! << 8) | buf[i + 8]!;
      return width > 0 && height > 0 ? { width, height } : null;
    }
    i += 2 + len;
  }
  return null;
}

async function imageSize(image: Buffer): Promise<{ width: number; height: number }> {
  const fromHeader = jpegSize(image);
  if (fromHeader) return fromHeader;
  // Not a JPEG (a PNG in a test, say): ask sharp, which costs one more pipeline.
  const meta = await sharp(image).metadata();
  if (!meta.width || !meta.height) throw new Error('frame has no dimensions');
  return { width: meta.width, height: meta.height };
}

/** Decodes `image` straight to the letterboxed picture size (no padding): interleaved pixels. */
async function decodeScaled(image: Buffer, inputWidth: number, inputHeight: number): Promise<{ data: Buffer; channels: number; w: number; h: number; lb: Letterbox }> {
  const { width, height } = await imageSize(image);
  const lb = letterboxFor(width, height, inputWidth, inputHeight);
  const w = Math.round(width * lb.scale);
  const h = Math.round(height * lb.scale);
  const { data, info } = await sharp(image)
    // 'linear' only matters when the DCT shrink does not land exactly on w x h (e.g. 1920 -> 320).
    .resize(w, h, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== w || info.height !== h) throw new Error(`preprocess: decoded ${info.width}x${info.height}, expected ${w}x${h}`);
  return { data, channels: info.channels, w, h, lb };
}

/**
 * Decodes a JPEG (or any image sharp reads) into a letterboxed NCHW float32 tensor. Pass `out`
 * (3 * inputWidth * inputHeight floats) to reuse one buffer per camera: it is fully overwritten,
 * padding included. The caller must not hand `out` to a model run that is still in flight.
 */
export async function preprocess(image: Buffer, inputWidth: number, inputHeight: number, out?: Float32Array): Promise<Preprocessed> {
  const plane = inputWidth * inputHeight;
  if (out && out.length !== 3 * plane) throw new Error(`preprocess: out has ${out.length} floats, expected ${3 * plane}`);
  const { data, channels, w, h, lb } = await decodeScaled(image, inputWidth, inputHeight);
  const t = out ?? new Float32Array(3 * plane);
  fillPadding(t, lb, w, h);
  writePlanes(t, data, channels, w, h, lb, plane);
  return { data: t, letterbox: lb };
}

/**
 * The JPEG fallback for uint8 NHWC models: decodes into `out` (inputWidth * inputHeight * 3 bytes,
 * reused per camera) as the camera's frame.rgb would look: letterboxed, black padding, RGB24.
 * Row copies only (memcpy); no per-pixel JS for RGB images.
 */
export async function preprocessRgb(image: Buffer, inputWidth: number, inputHeight: number, out: Uint8Array): Promise<Letterbox> {
  if (out.length !== 3 * inputWidth * inputHeight) throw new Error(`preprocessRgb: out has ${out.length} bytes, expected ${3 * inputWidth * inputHeight}`);
  const { data, channels, w, h, lb } = await decodeScaled(image, inputWidth, inputHeight);
  out.fill(0);
  const rowOut = inputWidth * 3;
  for (let y = 0; y < h; y++) {
    const dst = (y + lb.padY) * rowOut + lb.padX * 3;
    if (channels === 3) {
      out.set(data.subarray(y * w * 3, (y + 1) * w * 3), dst);
      continue;
    }
    for (let x = 0, i = y * w * channels; x < w; x++, i += channels) {
      const o = dst + x * 3;
      if (channels >= 3) { out[o] = data[i]!; out[o + 1] = data[i + 1]!; out[o + 2] = data[i + 2]!; }
      else out[o] = out[o + 1] = out[o + 2] = data[i]!;
    }
  }
  return lb;
}

/**
 * Interleaved RGB24 (a raw detect frame, already letterboxed at the model size) -> planar float32
 * in 0..1, for float NCHW models (YOLO exports). One tight loop into the caller's reused array.
 */
export function rgbToNchw(src: Uint8Array, width: number, height: number, out: Float32Array): void {
  const plane = width * height;
  if (src.length !== 3 * plane || out.length !== 3 * plane) throw new Error(`rgbToNchw: expected ${3 * plane} bytes and floats, got ${src.length} and ${out.length}`);
  const inv = 1 / 255;
  const g = plane;
  const b = 2 * plane;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    out[p] = src[i]! * inv;
    out[g + p] = src[i + 1]! * inv;
    out[b + p] = src[i + 2]! * inv;
  }
}

/** Throws a clear error unless a raw frame has exactly the model's input geometry. */
export function checkRawSize(f: { width: number; height: number; data: Uint8Array }, inputWidth: number, inputHeight: number): void {
  if (f.width !== inputWidth || f.height !== inputHeight || f.data.length !== 3 * inputWidth * inputHeight) {
    throw new Error(`raw frame is ${f.width}x${f.height} (${f.data.length} bytes); the model takes ${inputWidth}x${inputHeight} RGB24 (${3 * inputWidth * inputHeight} bytes): set the camera's detect size to the model input`);
  }
}

/** Grey 114 around the picture, in all three planes (contiguous runs: cheap `fill`s). */
function fillPadding(t: Float32Array, lb: Letterbox, w: number, h: number): void {
  const W = lb.inputWidth;
  const plane = W * lb.inputHeight;
  const right = W - w - lb.padX;
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    t.fill(PAD, base, base + lb.padY * W);
    t.fill(PAD, base + (lb.padY + h) * W, base + plane);
    if (lb.padX === 0 && right === 0) continue;
    for (let y = lb.padY; y < lb.padY + h; y++) {
      t.fill(PAD, base + y * W, base + y * W + lb.padX);
      t.fill(PAD, base + y * W + lb.padX + w, base + (y + 1) * W);
    }
  }
}

/** Interleaved uint8 (grey, grey+alpha, RGB or RGBA) -> planar RGB floats inside the letterbox. */
function writePlanes(t: Float32Array, px: Uint8Array, channels: number, w: number, h: number, lb: Letterbox, plane: number): void {
  const inv = 1 / 255;
  const g = plane;
  const b = 2 * plane;
  for (let y = 0; y < h; y++) {
    let p = (y + lb.padY) * lb.inputWidth + lb.padX;
    let i = y * w * channels;
    const end = p + w;
    if (channels >= 3) {
      for (; p < end; p++, i += channels) {
        t[p] = px[i]! * inv;
        t[g + p] = px[i + 1]! * inv;
        t[b + p] = px[i + 2]! * inv;
      }
    } else {
      for (; p < end; p++, i += channels) t[p] = t[g + p] = t[b + p] = px[i]! * inv;
    }
  }
}

/** Maps a box in model-input pixels back to normalized frame coordinates, clamped to 0..1. */
export function unletterbox(b: Box, lb: Letterbox): Box {
  return unletterboxXY(b.x1, b.y1, b.x2, b.y2, lb);
}

/** `unletterbox` of the box (x1, y1)-(x2, y2), without a box object to pass in. */
export function unletterboxXY(x1: number, y1: number, x2: number, y2: number, lb: Letterbox): Box {
  const sx = lb.scale * lb.frameWidth;
  const sy = lb.scale * lb.frameHeight;
  return { x1: clamp01((x1 - lb.padX) / sx), y1: clamp01((y1 - lb.padY) / sy), x2: clamp01((x2 - lb.padX) / sx), y2: clamp01((y2 - lb.padY) / sy) };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
