/**
 * Safety events in SQLite (DATA_DIR/events.db, WAL) so that none is lost while the web app
 * restarts: the web app reads them through this app's GET /events?since=ID (apps/web keeps no copy).
 */
import Database from 'better-sqlite3';
import type { Box } from '../model/types.ts';

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
  /** Absolute path of the JPEG with boxes and zone drawn. */
  snapshot: string;
  /** Unix ms when the episode started (ts - since >= dwell). */
  episodeStart: number;
}

export interface EventStore {
  append(e: Omit<SafetyEvent, 'id'>): SafetyEvent;
  /** Events with id > since, oldest first, at most `limit`. */
  since(since: number, limit?: number): SafetyEvent[];
  /** The newest `n` events, oldest first (a dashboard opening without a cursor). */
  latest(n: number): SafetyEvent[];
  get(id: number): SafetyEvent | undefined;
  close(): void;
}

interface Row { id: number; ts: number; camera: string; zone: string; cls: string; score: number; boxes: string; snapshot: string; episode_start: number }

export function openEventStore(path: string): EventStore {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash; only a power cut may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS safety_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL, camera TEXT NOT NULL, zone TEXT NOT NULL, cls TEXT NOT NULL,
    score REAL NOT NULL, boxes TEXT NOT NULL, snapshot TEXT NOT NULL, episode_start INTEGER NOT NULL)`);
  const insert = db.prepare('INSERT INTO safety_events (ts, camera, zone, cls, score, boxes, snapshot, episode_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const select = db.prepare<[number, number], Row>('SELECT * FROM safety_events WHERE id > ? ORDER BY id LIMIT ?');
  const selectLatest = db.prepare<[number], Row>('SELECT * FROM (SELECT * FROM safety_events ORDER BY id DESC LIMIT ?) ORDER BY id');
  const selectOne = db.prepare<[number], Row>('SELECT * FROM safety_events WHERE id = ?');
  const toEvent = (r: Row): SafetyEvent => ({
    id: r.id, ts: r.ts, camera: r.camera, zone: r.zone, cls: r.cls, score: r.score,
    boxes: JSON.parse(r.boxes) as SafetyEvent['boxes'], snapshot: r.snapshot, episodeStart: r.episode_start,
  });
  return {
    append(e) {
      const r = insert.run(e.ts, e.camera, e.zone, e.cls, e.score, JSON.stringify(e.boxes), e.snapshot, e.episodeStart);
      return { ...e, id: Number(r.lastInsertRowid) };
    },
    since(since, limit = 500) {
      return select.all(since, limit).map(toEvent);
    },
    latest(n) {
      return selectLatest.all(n).map(toEvent);
    },
    get(id) {
      const r = selectOne.get(id);
      return r && toEvent(r);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
