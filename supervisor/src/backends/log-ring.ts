/**
 * A bounded ring of output lines for one unit. Memory stays bounded whatever the child writes:
 * at most `capacity` lines of at most `maxLineBytes` each, plus one partial line per stream that is
 * itself capped (a child printing megabytes without a newline cannot grow it).
 */

/** Longest line kept; the rest of a longer line is dropped and the line marked with a `…`. */
export const MAX_LINE_BYTES = 4096;

/** Where a line came from; shown as its prefix (`stdout| ...`). */
export type LogStream = 'stdout' | 'stderr' | 'edgevisor';

/** A bounded line log (see module doc). */
export interface LogRing {
  /** Feed a raw chunk of a stream; complete lines enter the ring, a trailing partial line waits. */
  write(stream: LogStream, chunk: Buffer | string): void;
  /** Add one whole line (backend notes such as "spawned pid 123"). */
  note(line: string, stream?: LogStream): void;
  /** Push out the partial lines still waiting (call when the streams have ended). */
  flush(): void;
  /** The last `n` lines (all kept lines by default), oldest first. */
  lines(n?: number): string[];
  /** Lines written since creation, including those that fell out of the ring. */
  readonly total: number;
}

interface Pending {
  parts: Buffer[];
  bytes: number;
  truncated: boolean;
}

/** Creates a ring keeping the last `capacity` lines (at least 1). */
export function createLogRing(capacity: number, maxLineBytes = MAX_LINE_BYTES): LogRing {
  const cap = Math.max(1, Math.floor(capacity));
  const slots: (string | undefined)[] = new Array(cap);
  let next = 0; // index of the slot the next line goes to
  let total = 0;
  const pending = new Map<LogStream, Pending>();

  const push = (stream: LogStream, text: string, truncated: boolean) => {
    slots[next] = `${stream}| ${text}${truncated ? '…' : ''}`;
    next = (next + 1) % cap;
    total++;
  };

  const take = (stream: LogStream, p: Pending) => {
    // Decoding once per line (not per chunk) keeps multi-byte characters split across chunks intact;
    // a cut in the middle of one at the cap shows as U+FFFD, which is fine for a log.
    let text = Buffer.concat(p.parts, p.bytes).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    push(stream, text, p.truncated);
    pending.delete(stream);
  };

  const append = (p: Pending, buf: Buffer) => {
    const room = maxLineBytes - p.bytes;
    if (buf.length > room) {
      p.truncated = true;
      buf = buf.subarray(0, Math.max(0, room));
    }
    if (buf.length > 0) {
      p.parts.push(buf);
      p.bytes += buf.length;
    }
  };

  return {
    write(stream, chunk) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        const end = nl === -1 ? buf.length : nl;
        if (end > start || nl !== -1) {
          let p = pending.get(stream);
          if (!p) pending.set(stream, (p = { parts: [], bytes: 0, truncated: false }));
          append(p, buf.subarray(start, end));
          if (nl !== -1) take(stream, p);
        }
        if (nl === -1) break;
        start = nl + 1;
      }
    },
    note(line, stream = 'edgevisor') {
      const buf = Buffer.from(line, 'utf8');
      const truncated = buf.length > maxLineBytes;
      push(stream, truncated ? buf.subarray(0, maxLineBytes).toString('utf8') : line, truncated);
    },
    flush() {
      for (const [stream, p] of [...pending]) take(stream, p);
    },
    lines(n) {
      const kept = Math.min(total, cap);
      const want = n === undefined ? kept : Math.max(0, Math.min(Math.floor(n), kept));
      const out: string[] = [];
      for (let i = want; i > 0; i--) out.push(slots[(next - i + cap) % cap] as string);
      return out;
    },
    get total() {
      return total;
    },
  };
}
