/**
 * Timestamps of recent happenings (reconnects, stalls, restarts) in a fixed ring, for "how many in
 * the last hour" without unbounded memory: 1024 slots of 8 bytes per kind and camera. A camera that
 * reconnects more often than that in an hour shows 1024 (`capped`), which already says "unusable".
 */
export class TimeRing {
  private readonly ts: Float64Array;
  private n = 0;

  constructor(readonly capacity = 1024) {
    this.ts = new Float64Array(capacity);
  }

  add(t: number): void {
    this.ts[this.n++ % this.capacity] = t;
  }

  /** How many were added at or after `since` (at most `capacity`). */
  countSince(since: number): number {
    let c = 0;
    for (let i = 0; i < Math.min(this.n, this.capacity); i++) if (this.ts[i]! >= since) c++;
    return c;
  }

  /** Every slot holds one of the window's timestamps: the true count may be higher. */
  capped(since: number): boolean {
    return this.n >= this.capacity && this.countSince(since) === this.capacity;
  }
}
