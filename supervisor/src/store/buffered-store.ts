/**
 * The event log as the supervisor uses it: the SQLite store behind a bounded in-memory buffer, so
 * that a log that cannot be written (disk full, I/O error, read-only volume) never stops the
 * supervision (issue 16, point 2). A failed append is not an error for the caller: the event is
 * numbered as usual, kept in memory, served by since() like a stored one, and written when the
 * disk takes writes again (retried on a timer). Nothing here ever throws to the runtime.
 *
 * INVARIANTS:
 * - seq is assigned here, strictly increasing; the SQLite store is told the seq of every event.
 * - Events are written in seq order: while anything is pending, new events queue behind it.
 * - `pending` holds at most `maxPending` events; past that the oldest are dropped and counted
 *   (seq then has a gap in the log, never a reuse).
 * - Health changes are announced after the append that caused them has returned (microtask), so
 *   an alarm recorded by a listener is numbered after the event that failed.
 * - When the supervisor starts on a log it cannot open or read, the seq base is unknown: events
 *   are numbered from the best guess (the last seq read from the file's bytes, else 0) and, if
 *   the log turns out to hold higher numbers, renumbered above them when written. That is the one
 *   case where a client that saw the in-memory numbers may see an event twice after reconnecting.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { EventDraft, TreeEvent } from '../core/events.ts';
import { openEventStore, type EventStoreOptions } from './sqlite-store.ts';
import type { EventStore } from './types.ts';

/** Whether the log is being written, and what waits in memory. */
export interface StoreHealth {
  /** False while events cannot be written to SQLite. */
  writable: boolean;
  /** Events numbered and kept in memory, not yet written. */
  pending: number;
  /** Events dropped from memory because the buffer was full (since start). */
  dropped: number;
  /** Code of the last write failure (e.g. SQLITE_FULL), never a path. */
  error?: string;
}

/** The supervisor's event log: an EventStore that never throws on append, plus its health. */
export interface BufferedStore extends EventStore {
  health(): StoreHealth;
  /** Called (asynchronously) each time `writable` changes. Returns an unsubscribe function. */
  onHealthChange(listener: (health: StoreHealth) => void): () => void;
  /** Tries to write what is pending now (the timer does it on its own); true when nothing is left. */
  flush(): boolean;
}

/** Options of {@link openBufferedStore}. */
export interface BufferedStoreOptions extends EventStoreOptions {
  /** Events kept in memory while the log cannot be written (default 10 000, about 3 MB). */
  maxPending?: number;
  /** Retry period for writing pending events / reopening the log (default 5 s). */
  retryMs?: number;
  /** Opens the SQLite store (tests inject failures; default openEventStore). */
  open?: (path: string, opts: EventStoreOptions) => EventStore;
}

/** Events kept in memory by default while the log cannot be written. */
export const DEFAULT_MAX_PENDING = 10_000;

/** Written per timer run before yielding, so a long backlog does not stall the event loop. */
const FLUSH_CHUNK = 1_000;
/** The file is read whole to learn its last seq when SQLite cannot open it; not past this size. */
const PEEK_MAX_BYTES = 64 * 1024 * 1024;

/** A short, stable description of a store failure: its code, never a message with a path. */
function failureCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'STORE_ERROR';
}

/**
 * The last seq in a log SQLite cannot open in place (opening needs to write its -shm file): the
 * main file is read into memory and queried there. Undefined when that is not possible, or when
 * a non-empty -wal file may hold later events than the main file.
 */
function peekLastSeq(path: string): number | undefined {
  try {
    if (!existsSync(path)) return 0;
    if (statSync(path).size > PEEK_MAX_BYTES) return undefined;
    if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) return undefined;
    const bytes = readFileSync(path);
    if (bytes.length === 0) return 0;
    // The header says WAL mode; as an in-memory copy it must be read as a rollback-journal file.
    bytes[18] = 1;
    bytes[19] = 1;
    const db = new Database(bytes, { readonly: true });
    try {
      const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
      return has ? ((db.prepare('SELECT MAX(seq) AS m FROM events').get() as { m: number | null }).m ?? 0) : 0;
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}

/** Opens the supervisor's event log at `path`. Never throws for an unwritable disk. */
export function openBufferedStore(path: string, opts: BufferedStoreOptions = {}): BufferedStore {
  const maxPending = Math.max(1, opts.maxPending ?? DEFAULT_MAX_PENDING);
  const retryMs = Math.max(10, opts.retryMs ?? 5_000);
  const open = opts.open ?? openEventStore;
  const storeOpts: EventStoreOptions = { retainEvents: opts.retainEvents, pruneEvery: opts.pruneEvery };
  const listeners = new Set<(h: StoreHealth) => void>();

  let inner: EventStore | null = null;
  let error: string | undefined;
  let writable = true;
  let announced = true;
  let dropped = 0;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const pending: TreeEvent[] = [];

  const tryOpen = (): boolean => {
    try {
      inner = open(path, storeOpts);
      return true;
    } catch (err) {
      error = failureCode(err);
      return false;
    }
  };

  let last: number;
  let baseKnown = true;
  if (tryOpen()) last = inner!.lastSeq();
  else {
    writable = false;
    const peeked = peekLastSeq(path);
    baseKnown = peeked !== undefined;
    last = peeked ?? 0;
  }

  const health = (): StoreHealth => ({ writable, pending: pending.length, dropped, ...(error !== undefined && !writable ? { error } : {}) });
  /** Changes of `writable` not yet told to listeners, in order (each is told, even a short blip). */
  const toAnnounce: StoreHealth[] = [];
  const announce = () => {
    toAnnounce.push(health());
    if (toAnnounce.length > 1) return;
    queueMicrotask(() => {
      for (const h of toAnnounce.splice(0)) {
        if (announced === h.writable) continue;
        announced = h.writable;
        for (const l of [...listeners]) {
          try {
            l(h);
          } catch {
            // a listener's bug must not break the log
          }
        }
      }
    });
  };
  const scheduleRetry = (ms = retryMs) => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      if (!flushChunk(FLUSH_CHUNK)) scheduleRetry(pending.length > 0 && writableNow ? 0 : retryMs);
    }, ms);
    timer.unref();
  };
  /** True while the last attempt succeeded (a chunk limit, not a failure, left events behind). */
  let writableNow = false;

  /** Writes one event to SQLite; false (and records why) when it cannot. */
  const write = (ev: TreeEvent): boolean => {
    const s = inner!;
    try {
      s.append(ev, ev.seq);
      return true;
    } catch (err) {
      // The insert may have gone through before a later step (retention) failed: then it is stored.
      if (s.lastSeq() >= ev.seq) return true;
      error = failureCode(err);
      return false;
    }
  };

  /** Writes up to `max` pending events; true when nothing is pending any more. */
  const flushChunk = (max: number): boolean => {
    writableNow = false;
    if (closed) return pending.length === 0;
    if (!inner && !tryOpen()) return false;
    const s = inner!;
    const base = s.lastSeq();
    if (pending.length > 0 && (!baseKnown || pending[0]!.seq <= base)) {
      // The log holds numbers we did not know of at start: move the backlog above them.
      pending.forEach((ev, i) => (ev.seq = base + 1 + i));
      last = Math.max(last, base + pending.length);
    }
    baseKnown = true;
    let n = 0;
    while (pending.length > 0 && n < max) {
      const ev = pending[0]!;
      if (ev.seq > s.lastSeq() && !write(ev)) return false;
      pending.shift();
      n++;
    }
    writableNow = true;
    if (pending.length > 0) return false;
    if (!writable) {
      writable = true;
      error = undefined;
      announce();
    }
    return true;
  };

  if (!writable) {
    // Started on a log that cannot be opened: say so to the first listeners, and keep trying.
    announced = true;
    announce();
    scheduleRetry();
  }

  return {
    append(draft: EventDraft): TreeEvent {
      const seq = ++last;
      const ev: TreeEvent = { ...draft, seq, ts: draft.ts ?? Date.now() };
      if (closed) return ev;
      if (inner && pending.length === 0 && writable && write(ev)) return ev;
      pending.push({ ...ev }); // a copy: a later renumbering must not change what was broadcast
      if (pending.length > maxPending) {
        pending.shift();
        dropped++;
      }
      if (writable) {
        writable = false;
        announce();
      }
      scheduleRetry();
      return ev;
    },
    since(after: number, limit: number): TreeEvent[] {
      const max = Math.max(0, Math.floor(limit));
      let rows: TreeEvent[] = [];
      if (inner && !closed) {
        try {
          rows = inner.since(after, max);
        } catch {
          rows = []; // an unreadable log still serves what memory holds
        }
      }
      if (rows.length >= max || pending.length === 0) return rows;
      const from = Math.max(after, rows.length ? rows[rows.length - 1]!.seq : after);
      for (const ev of pending) {
        if (rows.length >= max) break;
        if (ev.seq > from) rows.push({ ...ev });
      }
      return rows;
    },
    lastSeq: () => last,
    health,
    onHealthChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    flush: () => flushChunk(Number.MAX_SAFE_INTEGER),
    close() {
      if (closed) return;
      flushChunk(Number.MAX_SAFE_INTEGER);
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        inner?.close();
      } catch {
        // closing a log on a full disk may fail its last checkpoint; the WAL keeps what was written
      }
    },
  };
}
