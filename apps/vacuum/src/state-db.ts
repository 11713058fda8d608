/**
 * The vacuum's own SQLite (state_db, default DATA_DIR/vacuum/vacuum.db): the events a technician
 * reads (every run, every watermark deletion, alarms; GET /events) and the volume samples the
 * write rate is measured from (so a restart does not forget the rate).
 *
 * Best effort by design: the vacuum matters most when a disk is full, and its own log may sit on
 * that disk. A failed write never fails a run; events stay in a bounded memory ring (and are
 * printed as JSON log lines), and vacuum_state_write_errors_total counts the failures.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Sample } from './volumes.ts';

/** An event of the vacuum, as GET /events returns it. */
export interface VacuumEvent {
  id: number;
  ts: number;
  /** run: a run finished; watermark: deleted for space; alarm: still full with nothing deletable; run_failed; run_skipped. */
  type: 'run' | 'watermark' | 'alarm' | 'run_failed' | 'run_skipped' | 'journal';
  level: 'info' | 'warning' | 'alarm';
  message: string;
  data?: Record<string, unknown>;
}

export interface StateDb {
  record(e: Omit<VacuumEvent, 'id' | 'ts'> & { ts?: number }): VacuumEvent;
  /** Events with id > since, oldest first. */
  events(since: number, limit: number): VacuumEvent[];
  addSample(volume: string, s: Sample): void;
  samples(volume: string, sinceTs: number): Sample[];
  writeErrors(): number;
  close(): void;
}

const RING = 1000;
const KEEP_EVENTS = 20_000;
const KEEP_SAMPLES_MS = 24 * 3_600_000;

export function openStateDb(path: string, log: (e: VacuumEvent) => void = () => {}): StateDb {
  let db: Database.Database | undefined;
  let errors = 0;
  const ring: VacuumEvent[] = [];
  const mem = new Map<string, Sample[]>();
  let nextId = 1;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: 2000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL, data TEXT);
      CREATE TABLE IF NOT EXISTS samples (volume TEXT NOT NULL, ts INTEGER NOT NULL, used_bytes INTEGER NOT NULL, PRIMARY KEY (volume, ts)) WITHOUT ROWID;`);
    nextId = ((db.prepare('SELECT MAX(id) AS m FROM events').get() as { m: number | null }).m ?? 0) + 1;
    for (const r of db.prepare('SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id').all(RING) as Row[]) ring.push(toEvent(r));
  } catch {
    errors++;
    try { db?.close(); } catch { /* already unusable */ }
    db = undefined;
  }
  const guard = (fn: (d: Database.Database) => void) => {
    if (!db) return;
    try { fn(db); } catch { errors++; }
  };
  return {
    record(e) {
      const ev: VacuumEvent = { id: nextId++, ts: e.ts ?? Date.now(), type: e.type, level: e.level, message: e.message, ...(e.data ? { data: e.data } : {}) };
      ring.push(ev);
      if (ring.length > RING) ring.shift();
      log(ev);
      guard((d) => {
        d.prepare('INSERT INTO events (id, ts, type, level, message, data) VALUES (?, ?, ?, ?, ?, ?)').run(ev.id, ev.ts, ev.type, ev.level, ev.message, ev.data ? JSON.stringify(ev.data) : null);
        if (ev.id % 100 === 0) d.prepare('DELETE FROM events WHERE id <= ?').run(ev.id - KEEP_EVENTS);
      });
      return ev;
    },
    events(since, limit) {
      if (db) {
        try { return (db.prepare('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(since, limit) as Row[]).map(toEvent); } catch { errors++; }
      }
      return ring.filter((e) => e.id > since).slice(0, limit);
    },
    addSample(volume, s) {
      const list = mem.get(volume) ?? [];
      list.push(s);
      while (list.length && list[0]!.ts < s.ts - KEEP_SAMPLES_MS) list.shift();
      mem.set(volume, list);
      guard((d) => {
        d.prepare('INSERT OR REPLACE INTO samples (volume, ts, used_bytes) VALUES (?, ?, ?)').run(volume, s.ts, s.usedBytes);
        d.prepare('DELETE FROM samples WHERE volume = ? AND ts < ?').run(volume, s.ts - KEEP_SAMPLES_MS);
      });
    },
    samples(volume, sinceTs) {
      if (db) {
        try {
          return (db.prepare('SELECT ts, used_bytes AS usedBytes FROM samples WHERE volume = ? AND ts >= ? ORDER BY ts').all(volume, sinceTs) as Sample[]);
        } catch { errors++; }
      }
      return (mem.get(volume) ?? []).filter((s) => s.ts >= sinceTs);
    },
    writeErrors: () => errors,
    close() {
      if (db?.open) db.close();
    },
  };
}

interface Row { id: number; ts: number; type: VacuumEvent['type']; level: VacuumEvent['level']; message: string; data: string | null }
function toEvent(r: Row): VacuumEvent {
  return { id: r.id, ts: r.ts, type: r.type, level: r.level, message: r.message, ...(r.data ? { data: JSON.parse(r.data) as Record<string, unknown> } : {}) };
}
