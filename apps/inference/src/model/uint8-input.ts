/**
 * The uint8 NHWC [1,H,W,3] input of the object detectors (NanoDet, CenterNet: both cast to float
 * inside their graphs). A raw detect frame at the model size is the tensor as it is (no copy);
 * a JPEG is decoded and letterboxed into the camera's own scratch buffer.
 */
import * as ort from 'onnxruntime-node';
import { checkRawSize, preprocessRgb, type Letterbox } from './preprocess.ts';
import type { JpegFrame, RawFrame } from './types.ts';

/** A camera's scratch input: reused for every JPEG frame of that camera. */
export interface Uint8Scratch { rgb: Uint8Array; rgbTensor: ort.Tensor }

export function uint8Scratch(width: number, height: number): Uint8Scratch {
  const rgb = new Uint8Array(3 * width * height);
  return { rgb, rgbTensor: new ort.Tensor('uint8', rgb, [1, height, width, 3]) };
}

export async function uint8Input(frame: RawFrame | JpegFrame, width: number, height: number, scratch: Uint8Scratch): Promise<{ tensor: ort.Tensor; letterbox: Letterbox }> {
  if (frame.kind === 'raw') {
    checkRawSize(frame, width, height);
    return { tensor: new ort.Tensor('uint8', frame.data, [1, height, width, 3]), letterbox: frame.letterbox };
  }
  return { letterbox: await preprocessRgb(frame.jpeg, width, height, scratch.rgb), tensor: scratch.rgbTensor };
}
