/** The boundary of a `multipart/x-mixed-replace; boundary=...` content type, without leading `--`. */
export function boundaryOf(contentType: string | null): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const b = m?.[1] ?? m?.[2];
  // Some cameras put the dashes into the parameter itself.
  return b?.replace(/^--/, '');
}

/**
 * Parses an MJPEG multipart stream into part bodies. Uses Content-Length when the part has one
 * (most cameras), else the next boundary. Bodies are handed out as they complete.
 *
 * INVARIANTS: buffered bytes never exceed `maxPartBytes` + one chunk.
 */
export class MultipartParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly delimiter: Buffer;

  constructor(
    boundary: string,
    private readonly onPart: (body: Buffer, headers: Record<string, string>) => void,
    private readonly onGarbage: (message: string) => void,
    private readonly maxPartBytes = 8 * 1024 * 1024,
  ) {
    this.delimiter = Buffer.from(`--${boundary}`);
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.parseOne()) { /* keep going while whole parts are buffered */ }
    if (this.buf.length > this.maxPartBytes) {
      this.onGarbage(`multipart part larger than ${this.maxPartBytes} bytes`);
      this.buf = Buffer.alloc(0);
    }
  }

  private parseOne(): boolean {
    const start = this.buf.indexOf(this.delimiter);
    if (start < 0) return false;
    const headerEnd = this.buf.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) return false;
    const headers: Record<string, string> = {};
    for (const line of this.buf.subarray(start + this.delimiter.length, headerEnd).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const bodyStart = headerEnd + 4;
    const len = Number(headers['content-length']);
    let bodyEnd: number;
    let next: number;
    if (Number.isInteger(len) && len >= 0) {
      if (this.buf.length < bodyStart + len) return false;
      bodyEnd = bodyStart + len;
      next = bodyEnd;
    } else {
      const d = this.buf.indexOf(this.delimiter, bodyStart);
      if (d < 0) return false;
      bodyEnd = d;
      next = d;
      // The CRLF before the delimiter belongs to the delimiter, not to the body.
      if (this.buf[bodyEnd - 2] === 0x0d && this.buf[bodyEnd - 1] === 0x0a) bodyEnd -= 2;
    }
    this.onPart(Buffer.from(this.buf.subarray(bodyStart, bodyEnd)), headers);
    this.buf = this.buf.subarray(next);
    return true;
  }
}
