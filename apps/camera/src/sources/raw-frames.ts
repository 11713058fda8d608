import type { ReadTarget } from './byte-channel.ts';

/**
 * Raw frames from ffmpeg's second output (rawvideo rgb24 on fd 3) and their pairing with the
 * JPEGs of the first output. Both outputs come from one decode through `split`, so they carry the
 * same frames in the same order: the k-th raw frame belongs to the k-th JPEG.
 */

/**
 * Cuts a byte stream into frames of exactly `frameBytes` bytes: rawvideo has no headers and no
 * markers, so counting bytes is the whole parser. Each frame is one fresh buffer (the receiver keeps
 * it). As a ReadTarget the socket reads straight into the frame (`next`/`wrote`: no copy in JS;
 * measured: copying 64 KB chunks cost the controller ~0.5 ms CPU per 320x320 frame); `push` copies
 * a chunk in.
 */
export class RawFrameAssembler implements ReadTarget {
  private current: Buffer;
  private filled = 0;

  constructor(readonly frameBytes: number, private readonly onFrame: (frame: Buffer) => void) {
    this.current = Buffer.allocUnsafe(frameBytes);
  }

  /** Where the next bytes go: the unfilled rest of the current frame. */
  next(): Uint8Array {
    return this.current.subarray(this.filled);
  }

  /** `n` bytes were written at `next()`. */
  wrote(n: number): void {
    this.filled += n;
    if (this.filled >= this.frameBytes) this.complete();
  }

  private complete(): void {
    const done = this.current;
    this.current = Buffer.allocUnsafe(this.frameBytes);
    this.filled = 0;
    this.onFrame(done);
  }

  /** Takes a chunk; `chunk` may be a borrowed view, it is copied before this returns. */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - off);
      this.current.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === this.frameBytes) this.complete();
    }
  }
}

/** How far one output may run ahead of the other before its oldest frame is dropped. */
const MAX_AHEAD = 4;

/**
 * Pairs frames of two outputs in arrival order. Normally one side is at most a frame ahead (the
 * two pipes are written one after the other per frame); if one runs far ahead, the other lost
 * frames (it should not happen) and its oldest unpaired frames are dropped and reported.
 */
export class FramePairer<A, B> {
  private readonly as: A[] = [];
  private readonly bs: B[] = [];

  constructor(private readonly onPair: (a: A, b: B) => void, private readonly onDrop: (message: string) => void) {}

  pushA(a: A): void {
    this.as.push(a);
    this.flush();
  }

  pushB(b: B): void {
    this.bs.push(b);
    this.flush();
  }

  private flush(): void {
    while (this.as.length > 0 && this.bs.length > 0) this.onPair(this.as.shift()!, this.bs.shift()!);
    if (this.as.length > MAX_AHEAD || this.bs.length > MAX_AHEAD) {
      const side = this.as.length > MAX_AHEAD ? this.as : this.bs;
      side.shift();
      this.onDrop(`one output of ffmpeg ran ${MAX_AHEAD} frames ahead of the other; dropped its oldest frame`);
    }
  }
}
