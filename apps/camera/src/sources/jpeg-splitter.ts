/**
 * Splits a byte stream of concatenated JPEGs (ffmpeg `-f image2pipe -c:v mjpeg`) at SOI/EOI
 * markers. Entropy-coded JPEG data stuffs 0xFF as FF 00, so FF D9 only appears as a real EOI
 * (ffmpeg's output has no embedded thumbnails).
 *
 * It runs for every chunk of every RTSP camera, so it costs little per frame: each byte is
 * searched once (a marker split across two chunks is caught by remembering whether the previous
 * chunk ended in 0xFF), the pieces of a frame in progress are kept as a list of views, and a
 * frame is copied at most once (by the concat that joins its pieces). A frame that lies inside
 * one chunk is handed out as a view of that chunk, without a copy. Callers must therefore push
 * chunks they do not reuse (stream 'data' chunks are fresh buffers, at most 64 KiB from a pipe),
 * and a frame may pin the one chunk it came from, never a growing buffer.
 *
 * INVARIANTS:
 * - bytes held (`held`) never exceed `maxFrameBytes`: a frame that would is dropped and reported.
 * - `onFrame` only gets buffers that start with FF D8, end with FF D9 and are at most
 *   `maxFrameBytes` long.
 * - a run of skipped bytes is reported once (at the next start marker, or every `maxFrameBytes`
 *   bytes), not once per chunk. An oversized frame is reported when dropped; the rest of it, up
 *   to the next start marker, only for every further `maxFrameBytes`.
 */
export class JpegSplitter {
  /** Pieces of the frame in progress from earlier chunks; empty when not inside a frame. */
  private parts: Buffer[] = [];
  /** Bytes in `parts`. */
  private held = 0;
  /** Inside a frame: the last byte held is a 0xFF that may begin the EOI. */
  private tailFF = false;
  /** Outside a frame: the previous chunk ended in a 0xFF that may begin an SOI. */
  private garbageFF = false;
  /** Garbage bytes skipped and not reported yet. */
  private skipped = 0;
  /** The skipped bytes are the rest of a dropped oversized frame (already reported). */
  private droppingTail = false;

  constructor(
    private readonly onFrame: (jpeg: Buffer) => void,
    private readonly onGarbage: (message: string) => void,
    private readonly maxFrameBytes = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      // This chunk's piece of the current frame starts at `segStart`; EOI is searched from `from`.
      let segStart = pos;
      let from = pos;
      if (this.parts.length === 0) {
        const start = this.findStart(chunk, pos);
        if (!start) return;
        [segStart, from] = start;
      }
      const end = this.findEnd(chunk, from);
      if (end < 0) return this.hold(chunk.subarray(segStart));
      const size = this.held + end - segStart;
      const piece = chunk.subarray(segStart, end);
      let frame = piece;
      if (this.held > 0) {
        this.parts.push(piece);
        frame = Buffer.concat(this.parts, size);
      }
      this.parts = [];
      this.held = 0;
      this.tailFF = false;
      if (size > this.maxFrameBytes) this.onGarbage(`frame of ${size} bytes is larger than ${this.maxFrameBytes} bytes; dropped`);
      else this.onFrame(frame);
      pos = end;
    }
  }

  /** The index just past the EOI in `chunk` (searching from `from`), or -1. */
  private findEnd(chunk: Buffer, from: number): number {
    // The FF of the marker ended the previous chunk.
    if (this.tailFF && from === 0 && chunk[0] === 0xd9) return 1;
    const eoi = chunk.indexOf(EOI, from);
    return eoi < 0 ? -1 : eoi + 2;
  }

  /**
   * Outside a frame: skips garbage up to the next SOI. Returns [where this chunk's piece of the
   * frame starts, where to search for its EOI], or undefined when this chunk has no SOI.
   */
  private findStart(chunk: Buffer, pos: number): [number, number] | undefined {
    if (this.garbageFF) {
      this.garbageFF = false;
      if (chunk[pos] === 0xd8) {
        // The 0xFF that ended the previous chunk was counted as garbage but opens this frame.
        this.skipped = Math.max(0, this.skipped - 1);
        this.reportSkipped();
        this.parts = [SOI_FF];
        this.held = 1;
        return [pos, pos + 1];
      }
    }
    const soi = chunk.indexOf(SOI, pos);
    if (soi < 0) {
      this.skip(chunk.length - pos);
      this.garbageFF = chunk[chunk.length - 1] === 0xff;
      return undefined;
    }
    this.skip(soi - pos);
    this.reportSkipped();
    // FF D8 FF D9 is the shortest frame: the EOI search starts right after the SOI.
    return [soi, soi + 2];
  }

  /** Keeps a piece of the frame in progress, or starts dropping the frame when it gets too big. */
  private hold(piece: Buffer): void {
    if (this.held + piece.length > this.maxFrameBytes) {
      this.parts = [];
      this.held = 0;
      this.tailFF = false;
      this.onGarbage(`frame larger than ${this.maxFrameBytes} bytes without an end marker; dropped`);
      // Resynchronise at the next SOI (not EOI): that loses nothing after a truncated frame.
      this.droppingTail = true;
      this.skipped = 0;
      return;
    }
    this.parts.push(piece);
    this.held += piece.length;
    this.tailFF = piece[piece.length - 1] === 0xff;
  }

  private skip(n: number): void {
    this.skipped += n;
    if (this.skipped < this.maxFrameBytes) return;
    this.onGarbage(this.droppingTail
      ? `dropped ${this.skipped} more bytes of an oversized frame, still no JPEG start marker`
      : `skipped ${this.skipped} bytes, still no JPEG start marker`);
    this.skipped = 0;
  }

  /** At a start marker: reports the garbage before it, unless it was the tail of a dropped frame. */
  private reportSkipped(): void {
    if (this.skipped > 0 && !this.droppingTail) this.onGarbage(`skipped ${this.skipped} bytes before a JPEG start marker`);
    this.skipped = 0;
    this.droppingTail = false;
  }
}

const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);
const SOI_FF = Buffer.from([0xff]);

/** Cheap validity check of a whole JPEG: SOI at the start, EOI at the end. */
export function looksLikeJpeg(b: Buffer): boolean {
  return b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}
