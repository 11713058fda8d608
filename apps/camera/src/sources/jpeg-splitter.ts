/**
 * Splits a byte stream of concatenated JPEGs (ffmpeg `-f image2pipe -c:v mjpeg`) at SOI/EOI
 * markers. Entropy-coded JPEG data stuffs 0xFF as FF 00, so FF D9 only appears as a real EOI
 * (ffmpeg's output has no embedded thumbnails).
 *
 * INVARIANTS: `pending` never exceeds `maxFrameBytes` (overflow drops it and reports garbage).
 */
export class JpegSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Where the EOI search resumes, so each byte is scanned about once. */
  private scanFrom = 0;

  constructor(
    private readonly onFrame: (jpeg: Buffer) => void,
    private readonly onGarbage: (message: string) => void,
    private readonly maxFrameBytes = 8 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.pending.length < 2) return;
      if (this.pending[0] !== 0xff || this.pending[1] !== 0xd8) {
        const soi = this.pending.indexOf(SOI);
        this.onGarbage(`skipped ${soi < 0 ? this.pending.length : soi} bytes before a JPEG start marker`);
        if (soi < 0) return this.reset();
        this.pending = this.pending.subarray(soi);
        this.scanFrom = 0;
      }
      const eoi = this.pending.indexOf(EOI, Math.max(2, this.scanFrom));
      if (eoi < 0) {
        if (this.pending.length > this.maxFrameBytes) {
          this.onGarbage(`frame larger than ${this.maxFrameBytes} bytes without an end marker`);
          return this.reset();
        }
        this.scanFrom = this.pending.length - 1;
        return;
      }
      const end = eoi + 2;
      // Copy: the frame outlives this chunk, and subarray would pin the whole concat buffer.
      this.onFrame(Buffer.from(this.pending.subarray(0, end)));
      this.pending = this.pending.subarray(end);
      this.scanFrom = 0;
    }
  }

  private reset(): void {
    this.pending = Buffer.alloc(0);
    this.scanFrom = 0;
  }
}

const SOI = Buffer.from([0xff, 0xd8]);
const EOI = Buffer.from([0xff, 0xd9]);

/** Cheap validity check of a whole JPEG: SOI at the start, EOI at the end. */
export function looksLikeJpeg(b: Buffer): boolean {
  return b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}
