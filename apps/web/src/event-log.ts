/**
 * The recent tail of an upstream log (safety events by id, supervisor events by seq), kept in
 * memory by the one shared poller so that N dashboards cost one upstream subscription.
 *
 * INVARIANTS: `items` are in strictly increasing key order; every upstream entry with key >
 * `floor` is in `items` (nothing between floor and the newest item is missing). `floor` is null
 * until the first load. Trimming raises `floor` to the key of the last dropped item, so the
 * invariant holds; a reader whose cursor is below `floor` must page from the upstream itself.
 */
export class TailLog<T> {
  items: T[] = [];
  floor: number | null = null;
  constructor(readonly key: (t: T) => number, private readonly max = 2000) {}

  /** Sets the starting point (everything after `floor` will be appended). */
  reset(floor: number, items: T[] = []): void {
    this.floor = floor;
    this.items = items.filter((t) => this.key(t) > floor);
    this.trim();
  }

  /** The newest key known (floor when empty); null before the first load. */
  get last(): number | null {
    const t = this.items.at(-1);
    return t === undefined ? this.floor : this.key(t);
  }

  /** Appends if newer than the newest; returns whether it was appended. */
  push(t: T): boolean {
    if (this.floor === null) return false;
    const last = this.last!;
    if (this.key(t) <= last) return false;
    this.items.push(t);
    this.trim();
    return true;
  }

  /** Entries with key > cursor, or null when the cursor is older than what is kept. */
  since(cursor: number): T[] | null {
    if (this.floor === null || cursor < this.floor) return null;
    // Binary search: the tail may hold thousands of entries and every reconnect asks.
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.key(this.items[mid]!) <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return this.items.slice(lo);
  }

  /** The newest n entries. */
  newest(n: number): T[] {
    return this.items.slice(Math.max(0, this.items.length - n));
  }

  private trim(): void {
    if (this.items.length <= this.max) return;
    const drop = this.items.splice(0, this.items.length - this.max);
    this.floor = this.key(drop.at(-1)!);
  }
}

/** One parsed SSE frame. */
export interface SseFrame { id?: string; event?: string; data: string }

/** Splits an SSE text stream into frames; feed it chunks, it calls `onFrame` per complete frame. */
export function sseParser(onFrame: (f: SseFrame) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const raw = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const f: SseFrame = { data: '' };
      for (const line of raw.split('\n')) {
        const m = /^(id|event|data): ?(.*)$/.exec(line);
        if (!m) continue;
        if (m[1] === 'data') f.data += (f.data ? '\n' : '') + m[2];
        else f[m[1] as 'id' | 'event'] = m[2];
      }
      if (f.data) onFrame(f);
    }
  };
}

/** A tiny Prometheus text reader: the handful of series the dashboard needs, by name. */
export interface PromSample { name: string; labels: Record<string, string>; value: number }

// Own parser (20 lines) rather than a dependency: we read 3 series of our own inference app's
// output, whose format we control; no library on the registry does only this.
export function parseProm(text: string, names: ReadonlySet<string>): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !names.has(m[1]!)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}
