/**
 * Folding a typed worker's state changes into few `worker_state` events. Pure.
 *
 * The first change after a quiet window is an event at once; changes within `windowMs` of the last
 * event are held and folded into one event at the end of the window ("streaming -> reconnecting,
 * 7 changes in 1.0 s"), so a camera flapping ten times a second costs the log one event a second,
 * while the snapshot always shows the live state.
 */

export interface StateFold {
  /** When the last event was emitted (-Infinity: never). */
  readonly lastEmitAt: number;
  /** The state the last event (or the run's start) left the worker in. */
  readonly emitted: string;
  /** Changes held since then. */
  readonly pending: { readonly to: string; readonly changes: number } | null;
}

/** What to record: the state the log last showed, the state now, and how many changes it covers. */
export interface FoldedChange {
  from: string;
  to: string;
  changes: number;
}

export const FOLD_WINDOW_MS = 1000;

export function freshFold(initial: string): StateFold {
  return { lastEmitAt: -Infinity, emitted: initial, pending: null };
}

/**
 * A change to `to` at `now`. Returns the event to emit now (or null) and, when a change is held,
 * when to call `flushFold`.
 */
export function foldChange(fold: StateFold, to: string, now: number, windowMs = FOLD_WINDOW_MS): { fold: StateFold; emit: FoldedChange | null; flushAt: number | null } {
  if (!fold.pending && now - fold.lastEmitAt >= windowMs) {
    return { fold: { lastEmitAt: now, emitted: to, pending: null }, emit: { from: fold.emitted, to, changes: 1 }, flushAt: null };
  }
  const pending = { to, changes: (fold.pending?.changes ?? 0) + 1 };
  return { fold: { ...fold, pending }, emit: null, flushAt: fold.lastEmitAt + windowMs };
}

/** The held changes as one event (or null if none are held). */
export function flushFold(fold: StateFold, now: number): { fold: StateFold; emit: FoldedChange | null } {
  if (!fold.pending) return { fold, emit: null };
  const emit = { from: fold.emitted, to: fold.pending.to, changes: fold.pending.changes };
  return { fold: { lastEmitAt: now, emitted: fold.pending.to, pending: null }, emit };
}

/** The event's reason: "connecting -> streaming", "streaming -> reconnecting (5 changes in 1.0 s)". */
export function foldedReason(c: FoldedChange, windowMs = FOLD_WINDOW_MS): string {
  const head = c.from === c.to ? `${c.to} again` : `${c.from} -> ${c.to}`;
  return c.changes === 1 ? head : `${head} (${c.changes} changes in ${(windowMs / 1000).toFixed(1)} s)`;
}
