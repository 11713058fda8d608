/**
 * Real data for the vacuum tests and bench: an events.db written through the inference app's own
 * store (or bulk-inserted for the bench), snapshot files next to it, a supervisor log through the
 * supervisor's store, app log files with chosen ages. And the checks every test makes: rows and
 * files agree.
 */
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { openEventStore as openSupervisorStore } from '../../supervisor/src/store/sqlite-store.ts';
import { vacuumFileFromObject, type VacuumConfig } from '../../apps/vacuum/src/config.ts';

export const DAY = 86_400_000;

export interface FillOptions {
  count: number;
  now: number;
  /** Oldest event this many days before now; the rest evenly spread up to now. */
  spanDays: number;
  classes?: readonly string[];
  snapshotBytes?: number;
  /** Every n-th event (by index) is pinned. */
  pinEvery?: number;
}

/** Fills DIR/events.db and DIR/snapshots through the real inference store. Returns ids oldest first. */
export function fillSafetyEvents(dir: string, o: FillOptions): number[] {
  const snaps = join(dir, 'snapshots');
  mkdirSync(snaps, { recursive: true });
  let store = openEventStore(join(dir, 'events.db'));
  const classes = o.classes ?? ['person', 'forklift', 'motion'];
  const body = Buffer.alloc(o.snapshotBytes ?? 2000, 0xab);
  const ids: number[] = [];
  const step = (o.spanDays * DAY) / o.count;
  for (let i = 0; i < o.count; i++) {
    // Closing checkpoints and removes the WAL: one commit per event grows it by ~16 kB each, which
    // would not fit on the small volumes the watermark test fills.
    if (i > 0 && i % 50 === 0) { store.close(); store = openEventStore(join(dir, 'events.db')); }
    const ts = Math.round(o.now - o.spanDays * DAY + i * step);
    const snapshot = `cam-zone-${ts}-${i}.jpg`;
    writeFileSync(join(snaps, snapshot), body);
    const e = store.append({ ts, camera: 'cam', zone: 'zone', cls: classes[i % classes.length]!, score: 0.9, boxes: [{ x1: 0.1, y1: 0.1, x2: 0.3, y2: 0.3, cls: 'person', score: 0.9 }], snapshot, episodeStart: ts - 1000 });
    if (o.pinEvery && i % o.pinEvery === 0) store.setPinned(e.id, true);
    ids.push(e.id);
  }
  store.close();
  return ids;
}

/** Supervisor events through the supervisor's own store, ts spread over spanDays. */
export function fillSupervisorEvents(path: string, count: number, now: number, spanDays: number): void {
  const store = openSupervisorStore(path, { retainEvents: count * 2 });
  const step = (spanDays * DAY) / count;
  for (let i = 0; i < count; i++) store.append({ ts: Math.round(now - spanDays * DAY + i * step), type: 'transition', child: 'camera', from: 'running', to: 'backoff', reason: `crashed: exit code 1 (${i})` } as never);
  store.close();
}

/** Log files named app-N.log whose mtime is N days ago, plus keep.txt (not matching the pattern). */
export function fillLogs(dir: string, ages: readonly number[], now: number): void {
  mkdirSync(dir, { recursive: true });
  for (const d of ages) {
    const p = join(dir, `app-${d}.log`);
    writeFileSync(p, 'x'.repeat(5000));
    utimesSync(p, new Date(now - d * DAY), new Date(now - d * DAY));
  }
  writeFileSync(join(dir, 'keep.txt'), 'not a log');
  utimesSync(join(dir, 'keep.txt'), new Date(now - 400 * DAY), new Date(now - 400 * DAY));
}

export interface EventRow { id: number; ts: number; cls: string; snapshot: string | null; pinned: number; snapshot_error: string | null }

export function readEvents(db: string): EventRow[] {
  const d = new Database(db, { readonly: true });
  try { return d.prepare('SELECT id, ts, cls, snapshot, pinned, snapshot_error FROM safety_events ORDER BY id').all() as EventRow[]; } finally { d.close(); }
}

export function journalSize(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    const has = d.prepare("SELECT 1 FROM sqlite_master WHERE name = 'vacuum_journal'").get();
    return has ? (d.prepare('SELECT count(*) AS n FROM vacuum_journal').get() as { n: number }).n : 0;
  } finally { d.close(); }
}

/** Rows whose snapshot file is missing, and files no row names. */
export function inconsistencies(dir: string): { rowsWithoutFile: number[]; filesWithoutRow: string[] } {
  const rows = readEvents(join(dir, 'events.db'));
  const files = new Set(readdirSync(join(dir, 'snapshots')));
  const named = new Set(rows.map((r) => r.snapshot).filter((s): s is string => s !== null));
  return {
    rowsWithoutFile: rows.filter((r) => r.snapshot !== null && !existsSync(join(dir, 'snapshots', r.snapshot))).map((r) => r.id),
    filesWithoutRow: [...files].filter((f) => !named.has(f)),
  };
}

/** A full VacuumConfig from the YAML-shaped object (paths relative to dataDir). */
export function vacuumConfig(obj: Record<string, unknown>, dataDir: string): VacuumConfig {
  return { ...vacuumFileFromObject(obj, dataDir), port: 0, host: '127.0.0.1', dataDir, failpoint: null };
}
