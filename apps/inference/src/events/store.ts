/**
 * Safety events in SQLite (DATA_DIR/events.db, WAL) so that none is lost while the web app
 * restarts: the web app reads them through this app's GET /events (apps/web keeps no copy), and
 * the vacuum app deletes old ones from the same file (small batches; it never deletes a pinned one).
 *
 * Schema versions (PRAGMA user_version):
 * - 1: the first table (absolute snapshot paths).
 * - 2: `pinned` (an operator keeps the event for an investigation), `snapshot_error` (the event was
 *   stored without its snapshot, e.g. the disk was full), snapshot names relative to
 *   DATA_DIR/snapshots, an index on ts, and auto_vacuum=INCREMENTAL so the vacuum app can give
 *   freed pages back to the filesystem (an existing file is VACUUMed once to switch it).
 */
import Database from 'better-sqlite3';
import { basename } from 'node:path';
import type { Box } from '../model/types.ts';
import { redactSecrets } from '../../../common/src/redact.ts';

/** One stored safety event. `id` increases; use it as the `since` cursor. */
export interface SafetyEvent {
  id: number;
  /** Unix ms of the frame that completed the dwell. */
  ts: number;
  camera: string;
  zone: string;
  cls: string;
  score: number;
  boxes: (Box & { cls: string; score: number })[];
  /** File name of the JPEG (boxes and zone drawn) under DATA_DIR/snapshots/; null if none was written. */
  snapshot: string | null;
  /** Why the snapshot is missing (the event itself was kept), e.g. "no space left on device". */
  snapshotError: string | null;
  /** Unix ms when the episode started (ts - since >= dwell). */
  episodeStart: number;
  /** Pinned events are never deleted by retention or the disk watermark. */
  pinned: boolean;
}

export type NewSafetyEvent = Omit<SafetyEvent, 'id' | 'pinned' | 'snapshotError'> & { snapshotError?: string | null };

/** Filters of {@link EventStore.query}; every field optional. Times are unix ms, inclusive. */
export interface EventQuery {
  camera?: string;
  zone?: string;
  cls?: string;
  from?: number;
  to?: number;
  pinned?: boolean;
  /** Page backwards: only events with id < before. */
  before?: number;
  /** At most this many (default 100). */
  limit?: number;
}

export interface EventStore {
  append(e: NewSafetyEvent): SafetyEvent;
  /** Events with id > since, oldest first, at most `limit`. */
  since(since: number, limit?: number): SafetyEvent[];
  /** The newest `n` events, oldest first (a dashboard opening without a cursor). */
  latest(n: number): SafetyEvent[];
  /** Filtered events, newest first; page on with `before` = the last id returned. */
  query(q: EventQuery): SafetyEvent[];
  get(id: number): SafetyEvent | undefined;
  /** Pins or unpins an event; undefined if there is no such event. */
  setPinned(id: number, pinned: boolean): SafetyEvent | undefined;
  /** Records a snapshot written later (a retry after the disk had space again). */
  setSnapshot(id: number, snapshot: string): void;
  close(): void;
}

interface Row {
  id: number; ts: number; camera: string; zone: string; cls: string; score: number; boxes: string;
  snapshot: string | null; snapshot_error: string | null; episode_start: number; pinned: number;
}

const SCHEMA_VERSION = 2;

/** Creates or migrates the schema. Exported for the vacuum app, which opens the same file. */
export function migrateEventsDb(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= SCHEMA_VERSION) return;
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'safety_events'").get() !== undefined;
  if (!exists) {
    // auto_vacuum must be set before the first table is created; once journal_mode=WAL has
    // written the header, the pragma alone no longer takes: the VACUUM of the empty file applies it.
    db.pragma('auto_vacuum = INCREMENTAL');
    if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 2) db.exec('VACUUM');
    db.exec(`CREATE TABLE safety_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      ts INTEGER NOT NULL, camera TEXT NOT NULL, zone TEXT NOT NULL, cls TEXT NOT NULL,
      score REAL NOT NULL, boxes TEXT NOT NULL, snapshot TEXT, snapshot_error TEXT,
      episode_start INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0)`);
  } else {
    // Version 1: snapshot was an absolute path and NOT NULL. SQLite cannot drop NOT NULL in place,
    // so the table is copied once (inside one transaction: a crash leaves version 1 as it was).
    db.transaction(() => {
      db.exec(`CREATE TABLE safety_events_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL, camera TEXT NOT NULL, zone TEXT NOT NULL, cls TEXT NOT NULL,
        score REAL NOT NULL, boxes TEXT NOT NULL, snapshot TEXT, snapshot_error TEXT,
        episode_start INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0)`);
      const rows = db.prepare<[], { id: number; snapshot: string }>('SELECT id, snapshot FROM safety_events').all();
      db.exec(`INSERT INTO safety_events_v2 (id, ts, camera, zone, cls, score, boxes, snapshot, episode_start)
        SELECT id, ts, camera, zone, cls, score, boxes, snapshot, episode_start FROM safety_events`);
      const rename = db.prepare('UPDATE safety_events_v2 SET snapshot = ? WHERE id = ?');
      for (const r of rows) rename.run(basename(r.snapshot), r.id);
      db.exec('DROP TABLE safety_events; ALTER TABLE safety_events_v2 RENAME TO safety_events');
    })();
    // Switching auto_vacuum on an existing file takes one VACUUM (outside a transaction).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  }
  db.exec('CREATE INDEX IF NOT EXISTS safety_events_ts ON safety_events (ts)');
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

export function openEventStore(path: string): EventStore {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash; only a power cut may lose the last commits.
  db.pragma('synchronous = NORMAL');
  migrateEventsDb(db);
  // A v2 file created before the fix above has auto_vacuum off: switched once, here, at the
  // inference app's own start (before it writes), never by the vacuum app under a live writer.
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== 2) {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  }
  const insert = db.prepare('INSERT INTO safety_events (ts, camera, zone, cls, score, boxes, snapshot, snapshot_error, episode_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const select = db.prepare<[number, number], Row>('SELECT * FROM safety_events WHERE id > ? ORDER BY id LIMIT ?');
  const selectLatest = db.prepare<[number], Row>('SELECT * FROM (SELECT * FROM safety_events ORDER BY id DESC LIMIT ?) ORDER BY id');
  const selectOne = db.prepare<[number], Row>('SELECT * FROM safety_events WHERE id = ?');
  const pin = db.prepare<[number, number]>('UPDATE safety_events SET pinned = ? WHERE id = ?');
  const snap = db.prepare<[string, number]>('UPDATE safety_events SET snapshot = ?, snapshot_error = NULL WHERE id = ?');
  const toEvent = (r: Row): SafetyEvent => ({
    id: r.id, ts: r.ts, camera: r.camera, zone: r.zone, cls: r.cls, score: r.score,
    boxes: JSON.parse(r.boxes) as SafetyEvent['boxes'], snapshot: r.snapshot, snapshotError: r.snapshot_error,
    episodeStart: r.episode_start, pinned: r.pinned === 1,
  });
  // Filtered queries: few distinct shapes, so statements are prepared once per shape and kept.
  const queries = new Map<string, Database.Statement<unknown[], Row>>();
  return {
    append(e) {
      // Event texts are answered and shown on the dashboard: the error passes the one redaction.
      const snapshotError = e.snapshotError == null ? null : redactSecrets(e.snapshotError);
      const r = insert.run(e.ts, e.camera, e.zone, e.cls, e.score, JSON.stringify(e.boxes), e.snapshot, snapshotError, e.episodeStart);
      return { ...e, snapshotError, id: Number(r.lastInsertRowid), pinned: false };
    },
    since(since, limit = 500) {
      return select.all(since, limit).map(toEvent);
    },
    latest(n) {
      return selectLatest.all(n).map(toEvent);
    },
    query(q) {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (sql: string, v: unknown) => { where.push(sql); args.push(v); };
      if (q.camera !== undefined) add('camera = ?', q.camera);
      if (q.zone !== undefined) add('zone = ?', q.zone);
      if (q.cls !== undefined) add('cls = ?', q.cls);
      if (q.from !== undefined) add('ts >= ?', q.from);
      if (q.to !== undefined) add('ts <= ?', q.to);
      if (q.pinned !== undefined) add('pinned = ?', q.pinned ? 1 : 0);
      if (q.before !== undefined) add('id < ?', q.before);
      const sql = `SELECT * FROM safety_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      let stmt = queries.get(sql);
      if (!stmt) queries.set(sql, (stmt = db.prepare<unknown[], Row>(sql)));
      return stmt.all(...args, q.limit ?? 100).map(toEvent);
    },
    get(id) {
      const r = selectOne.get(id);
      return r && toEvent(r);
    },
    setPinned(id, pinned) {
      if (pin.run(pinned ? 1 : 0, id).changes === 0) return undefined;
      return this.get(id);
    },
    setSnapshot(id, snapshot) {
      snap.run(snapshot, id);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
