import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { EventDraft, EventType, TreeEvent } from '../core/events.ts';
import type { ChildState } from '../core/lifecycle.ts';
import type { EventStore } from './types.ts';

/** Options of {@link openEventStore}. */
export interface EventStoreOptions {
  /** Keep at most this many of the newest events (default 100 000). */
  retainEvents?: number;
  /** Run retention every this many appends (default 500): one DELETE amortised over many inserts. */
  pruneEvery?: number;
}

interface Row {
  seq: number;
  ts: number;
  type: string;
  child: string;
  from_state: string | null;
  to_state: string | null;
  reason: string;
  data: string | null;
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
  seq        INTEGER PRIMARY KEY,
  ts         INTEGER NOT NULL,
  type       TEXT NOT NULL,
  child      TEXT NOT NULL,
  from_state TEXT,
  to_state   TEXT,
  reason     TEXT NOT NULL,
  data       TEXT
);
`;

function toEvent(row: Row): TreeEvent {
  const ev: TreeEvent = { seq: row.seq, ts: row.ts, type: row.type as EventType, child: row.child, reason: row.reason };
  if (row.from_state !== null) ev.from = row.from_state as ChildState;
  if (row.to_state !== null) ev.to = row.to_state as ChildState;
  if (row.data !== null) ev.data = JSON.parse(row.data) as Record<string, unknown>;
  return ev;
}

/**
 * auto_vacuum=INCREMENTAL, so the vacuum app's `PRAGMA incremental_vacuum` gives freed pages back
 * to the filesystem. A file created without it is switched once with a VACUUM at open (a log of
 * 200 000 events: 0.6 s on the 2-core test VM under load).
 */
function useIncrementalVacuum(db: Database.Database): void {
  if ((db.pragma('auto_vacuum', { simple: true }) as number) === 2) return;
  // After journal_mode=WAL has written the header the pragma alone does not take, even on an
  // empty file: the VACUUM applies it (instant when there is nothing in it yet).
  db.pragma('auto_vacuum = INCREMENTAL');
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 2) db.exec('VACUUM');
}

/**
 * Opens (or creates) the SQLite event log at `path`; `:memory:` works for throwaway use.
 * The directory is created. WAL + synchronous=NORMAL: a crash of the box may lose the last
 * few events but never corrupts the log, and appends stay well under a millisecond.
 *
 * INVARIANTS: a single writer per file (this process). `seq` is assigned here, from an in-memory
 * counter seeded with MAX(seq) at open, so it keeps increasing across reopenings even after
 * retention has deleted the oldest rows (INTEGER PRIMARY KEY with an explicit value never reuses
 * a lower number because we never go below the max).
 */
export function openEventStore(path: string, opts: EventStoreOptions = {}): EventStore {
  const retain = opts.retainEvents ?? 100_000;
  const pruneEvery = Math.max(1, opts.pruneEvery ?? 500);
  if (!Number.isInteger(retain) || retain < 1) throw new RangeError(`retainEvents must be a positive integer, got ${retain}`);
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });

  // timeout: the vacuum app deletes old rows from this file in short batches; wait for its lock.
  const db = new Database(path, { timeout: 5000 });
  try {
    return openOn(db, retain, pruneEvery);
  } catch (err) {
    // A full or read-only disk fails here (WAL, schema): do not leak the handle to a retry loop.
    db.close();
    throw err;
  }
}

function openOn(db: Database.Database, retain: number, pruneEvery: number): EventStore {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  useIncrementalVacuum(db);
  db.exec(schema);

  const insert = db.prepare(
    'INSERT INTO events (seq, ts, type, child, from_state, to_state, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const selectSince = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq ASC LIMIT ?');
  // Deleting by seq bound keeps the prune one indexed range delete on the primary key.
  const prune = db.prepare('DELETE FROM events WHERE seq <= ?');
  const maxSeq = db.prepare('SELECT MAX(seq) AS m FROM events');

  let last = (maxSeq.get() as { m: number | null }).m ?? 0;
  let appendsSincePrune = 0;
  let closed = false;

  const pruneNow = () => {
    appendsSincePrune = 0;
    const bound = last - retain;
    if (bound > 0) prune.run(bound);
  };
  pruneNow();

  return {
    append(draft: EventDraft, at?: number): TreeEvent {
      if (closed) throw new Error('event store is closed');
      // An explicit seq (buffered-store.ts flushing events it numbered while the disk was full)
      // may skip numbers (events it had to drop) but never goes back.
      if (at !== undefined && (!Number.isInteger(at) || at <= last)) throw new RangeError(`append: seq ${at} is not above the last seq ${last}`);
      const seq = at ?? last + 1;
      const ev: TreeEvent = { ...draft, seq, ts: draft.ts ?? Date.now() };
      insert.run(
        seq,
        ev.ts,
        ev.type,
        ev.child,
        ev.from ?? null,
        ev.to ?? null,
        ev.reason,
        ev.data === undefined ? null : JSON.stringify(ev.data),
      );
      last = seq;
      if (++appendsSincePrune >= pruneEvery) pruneNow();
      return ev;
    },
    since(after: number, limit: number): TreeEvent[] {
      if (closed) throw new Error('event store is closed');
      return (selectSince.all(after, Math.max(0, Math.floor(limit))) as Row[]).map(toEvent);
    },
    lastSeq: () => last,
    close() {
      if (closed) return;
      closed = true;
      pruneNow();
      db.close();
    },
  };
}
