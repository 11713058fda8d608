/**
 * Safety events (the inference app's events.db) and their snapshot files: retention by age (per
 * class if configured), oldest-first deletion for the disk watermark, the orphan sweep.
 *
 * Crash-safe order (INVARIANTS):
 * 1. one short transaction on events.db deletes a batch of rows (re-checking `pinned = 0`, so an
 *    event pinned a moment ago is kept) AND records their file names in `vacuum_journal`;
 * 2. the files are unlinked;
 * 3. their journal entries are deleted.
 * A SIGKILL after 1 leaves files that are named in the journal: the next run unlinks them first.
 * No row ever points to a deleted file, no pinned event loses its snapshot, and no file outlives
 * its row past the next run. Files that lost their row some other way (a crash of the inference
 * app between writing the file and the row) are swept as orphans after a grace period; rows whose
 * file is gone are kept and marked (snapshot null, snapshot_error set), never deleted.
 *
 * Writers are not stalled: batches of batch_size rows per transaction, a pause between batches,
 * busy_timeout on both sides (inference opens the file with a 5 s timeout).
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { migrateEventsDb } from '../../../inference/src/events/store.ts';
import type { SafetyEventsConfig } from '../config.ts';
import { failpointPause, type Failpoint } from '../failpoint.ts';
import type { Reason, Tally } from '../report.ts';
import type { Pacer } from './pacer.ts';
import { maintainDb } from './sqlite-maint.ts';

/** What every source gets for one run. */
export interface RunCtx {
  dryRun: boolean;
  now: number;
  batchSize: number;
  pauseMs: number;
  walTruncateBytes: number;
  /** Every write to a database another app writes goes through it (see pacer.ts). */
  pacer: Pacer;
  tally: Tally;
  failpoint: Failpoint | null;
  /** Test seam: called with a batch's ids after they were selected, before their DELETE. */
  beforeDelete?: (ids: readonly number[]) => void | Promise<void>;
}

/** Outcome of a watermark pass over one source. */
export interface WatermarkResult { count: number; bytes: number; exhausted: boolean; oldestTs?: number; newestTs?: number }

export interface SafetySource {
  /** Unlinks the files an interrupted run journaled; returns how many entries it finished. */
  finishJournal(): Promise<number>;
  retention(): Promise<void>;
  /** Orphan files and rows without their file; returns the rows repaired. */
  sweep(): Promise<number>;
  /** Deletes the oldest deletable events until `needBytes` are accounted for. */
  watermark(needBytes: number): Promise<WatermarkResult>;
  maintain(): Promise<void>;
  close(): void;
}

interface Candidate { id: number; ts: number; snapshot: string | null; bytes: number }

const ROW_BYTES = `(length(boxes) + length(camera) + length(zone) + length(cls) + coalesce(length(snapshot), 0) + coalesce(length(snapshot_error), 0) + 48)`;
/** A snapshot name from a row is only ever a plain file name in the folder (never ../ or a path). */
const safeName = (n: string) => n === basename(n) && n !== '.' && n !== '..' && !n.includes('\0');

/** Bytes a file occupies on disk, or undefined when it does not exist. */
function fileBytes(path: string): number | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st?.isFile() ? (st.blocks !== undefined ? st.blocks * 512 : st.size) : undefined;
}

function unlinkQuiet(path: string): void {
  try { unlinkSync(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
}

/** Opens the source; null when the database does not exist yet (inference has not started). */
export function openSafetySource(cfg: SafetyEventsConfig, ctx: RunCtx): SafetySource | null {
  if (fileBytes(cfg.db) === undefined) return null;
  const db = new Database(cfg.db, { timeout: 5000, readonly: ctx.dryRun, fileMustExist: true });
  if (!ctx.dryRun) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Checkpoints are ours to time (after each batch, below): left to SQLite, the commit that
    // crosses 1000 WAL pages checkpoints, and that is often the inference app's next insert,
    // which would pay for copying our deletions (measured: its p99 went from 0.3 to 17-40 ms).
    db.pragma('wal_autocheckpoint = 0');
    migrateEventsDb(db);
    db.exec('CREATE TABLE IF NOT EXISTS vacuum_journal (name TEXT PRIMARY KEY, reason TEXT NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID');
  }
  const hasJournal = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vacuum_journal'").get() !== undefined;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version < 2) {
    db.close();
    throw Object.assign(new Error(`events database has schema version ${version}; the inference app migrates it to 2 when it starts`), { code: 'VACUUM_ERR_EVENTS_SCHEMA' });
  }
  const { tally, dryRun } = ctx;
  const vol = cfg.volume;
  // Rows this dry run has already counted (a real run has deleted them by the next step).
  const planned = new Set<number>();
  // The newest-N floor, fixed at the start of the run: rows written during the run are newer still.
  const floorRow = cfg.keepNewest === 0 ? undefined : (db.prepare('SELECT id FROM safety_events ORDER BY id DESC LIMIT 1 OFFSET ?').get(cfg.keepNewest - 1) as { id: number } | undefined);
  const floorId = cfg.keepNewest === 0 ? Number.MAX_SAFE_INTEGER : (floorRow?.id ?? 0);
  const path = (name: string) => join(cfg.snapshots, name);

  // One statement per batch (ids as a JSON array): the lock is held for the delete itself, not for
  // 200 round trips through the driver.
  const delRows = dryRun ? undefined : db.prepare('DELETE FROM safety_events WHERE id IN (SELECT value FROM json_each(?)) AND pinned = 0 RETURNING id');
  const journalAdd = dryRun ? undefined : db.prepare('INSERT OR REPLACE INTO vacuum_journal (name, reason, bytes) VALUES (?, ?, ?)');
  const journalDel = dryRun ? undefined : db.prepare('DELETE FROM vacuum_journal WHERE name = ?');
  let batchNo = 0;

  /** Deletes (or counts) one batch: rows + journal in one transaction, then files, then journal. */
  const apply = async (rows: Candidate[], reason: Reason): Promise<{ count: number; bytes: number }> => {
    const withFiles = rows.map((r) => ({ ...r, file: r.snapshot && safeName(r.snapshot) ? fileBytes(path(r.snapshot)) : undefined }));
    if (dryRun) {
      let bytes = 0;
      for (const r of withFiles) {
        planned.add(r.id);
        tally.add('safety_events', reason, vol, 1, r.bytes);
        if (r.file !== undefined) tally.add('safety_snapshots', reason, vol, 1, r.file);
        bytes += r.bytes + (r.file ?? 0);
      }
      return { count: rows.length, bytes };
    }
    const { pacer } = ctx;
    await ctx.beforeDelete?.(withFiles.map((r) => r.id));
    const done = pacer.write(() => db.transaction(() => {
      const gone = new Set((delRows!.all(JSON.stringify(withFiles.map((r) => r.id))) as { id: number }[]).map((r) => r.id));
      // Rows not deleted were pinned meanwhile (or are already gone): kept, files untouched.
      const out = withFiles.filter((r) => gone.has(r.id));
      for (const r of out) if (r.file !== undefined) journalAdd!.run(r.snapshot, reason, r.file);
      return out;
    })());
    batchNo++;
    await failpointPause(ctx.failpoint, 'pause-after-rows', batchNo);
    for (const r of done) if (r.file !== undefined) unlinkQuiet(path(r.snapshot!));
    await failpointPause(ctx.failpoint, 'pause-after-files', batchNo);
    pacer.write(() => db.transaction(() => { for (const r of done) if (r.file !== undefined) journalDel!.run(r.snapshot); })());
    // PASSIVE never waits for or blocks a writer; done every batch it copies only that batch's pages.
    db.pragma('wal_checkpoint(PASSIVE)');
    let bytes = 0;
    for (const r of done) {
      tally.add('safety_events', reason, vol, 1, r.bytes);
      if (r.file !== undefined) tally.add('safety_snapshots', reason, vol, 1, r.file);
      bytes += r.bytes + (r.file ?? 0);
    }
    await pacer.rest();
    return { count: done.length, bytes };
  };

  return {
    async finishJournal() {
      if (!hasJournal) return 0;
      const entries = db.prepare('SELECT name, reason, bytes FROM vacuum_journal ORDER BY name').all() as { name: string; reason: Reason; bytes: number }[];
      for (let i = 0; i < entries.length; i += ctx.batchSize) {
        const chunk = entries.slice(i, i + ctx.batchSize);
        if (!dryRun) {
          for (const e of chunk) if (safeName(e.name)) unlinkQuiet(path(e.name));
          ctx.pacer.write(() => db.transaction(() => { for (const e of chunk) journalDel!.run(e.name); })());
          await ctx.pacer.rest();
        }
        for (const e of chunk) tally.add('safety_snapshots', e.reason, vol, 1, e.bytes);
      }
      return entries.length;
    },

    async retention() {
      // One pass per class with its own limit, then one for every other class.
      const overrides = Object.entries(cfg.retentionByClass);
      const groups: { filter: string; arg: string; days: number }[] = [];
      for (const [cls, days] of overrides) if (days !== null) groups.push({ filter: 'cls = @arg', arg: cls, days });
      if (cfg.retentionDays !== null) groups.push({ filter: 'cls NOT IN (SELECT value FROM json_each(@arg))', arg: JSON.stringify(overrides.map(([c]) => c)), days: cfg.retentionDays });
      for (const g of groups) {
        // Keyset paging on (ts, id), which the ts index holds in order: each batch is an index range.
        const page = db.prepare(`SELECT id, ts, snapshot, ${ROW_BYTES} AS bytes FROM safety_events
          WHERE ts < @cutoff AND ts >= @cts AND (ts > @cts OR id > @cid) AND pinned = 0 AND id < @floor AND ${g.filter}
          ORDER BY ts, id LIMIT @n`);
        let cts = -Number.MAX_SAFE_INTEGER;
        let cid = 0;
        for (;;) {
          const rows = page.all({ cutoff: ctx.now - g.days * 86_400_000, cts, cid, floor: floorId, arg: g.arg, n: ctx.batchSize }) as Candidate[];
          if (rows.length === 0) break;
          await apply(rows, 'retention');
          cts = rows[rows.length - 1]!.ts;
          cid = rows[rows.length - 1]!.id;
        }
      }
    },

    async sweep() {
      // Rows first, then the folder: a file written after the listing has its row after it too,
      // so "a row whose file is not listed" is only ever a file that really is gone.
      const named = db.prepare('SELECT id, snapshot FROM safety_events WHERE snapshot IS NOT NULL').all() as { id: number; snapshot: string }[];
      const journal = hasJournal ? new Set((db.prepare('SELECT name FROM vacuum_journal').all() as { name: string }[]).map((r) => r.name)) : new Set<string>();
      let listing: string[];
      try { listing = readdirSync(cfg.snapshots); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') listing = []; else throw e; }
      const present = new Set(listing);
      const referenced = new Set<string>();
      const missing: number[] = [];
      for (const r of named) {
        referenced.add(r.snapshot);
        if (!present.has(r.snapshot) && !planned.has(r.id) && fileBytes(path(r.snapshot)) === undefined) missing.push(r.id);
      }
      const graceCut = ctx.now - cfg.orphanGraceMs;
      const orphans: { name: string; bytes: number }[] = [];
      for (const name of listing) {
        if (referenced.has(name) || journal.has(name)) continue;
        const st = statSync(path(name), { throwIfNoEntry: false });
        if (!st?.isFile() || st.mtimeMs >= graceCut) continue;
        orphans.push({ name, bytes: st.blocks !== undefined ? st.blocks * 512 : st.size });
      }
      for (let i = 0; i < orphans.length; i += ctx.batchSize) {
        const chunk = orphans.slice(i, i + ctx.batchSize);
        for (const o of chunk) {
          if (!dryRun) unlinkQuiet(path(o.name));
          tally.add('safety_snapshots', 'orphan', vol, 1, o.bytes);
        }
        if (!dryRun) await ctx.pacer.rest();
      }
      if (!dryRun && missing.length) {
        const mark = db.prepare("UPDATE safety_events SET snapshot = NULL, snapshot_error = 'snapshot file missing (found by the vacuum)' WHERE id = ?");
        for (let i = 0; i < missing.length; i += ctx.batchSize) {
          ctx.pacer.write(() => db.transaction(() => { for (const id of missing.slice(i, i + ctx.batchSize)) mark.run(id); })());
          await ctx.pacer.rest();
        }
      }
      return missing.length;
    },

    async watermark(needBytes) {
      const page = db.prepare(`SELECT id, ts, snapshot, ${ROW_BYTES} AS bytes FROM safety_events WHERE id > ? AND id < ? AND pinned = 0 ORDER BY id LIMIT ?`);
      const res: WatermarkResult = { count: 0, bytes: 0, exhausted: false };
      let cursor = 0;
      while (res.bytes < needBytes) {
        const rows = (page.all(cursor, floorId, ctx.batchSize) as Candidate[]);
        if (rows.length === 0) { res.exhausted = true; break; }
        cursor = rows[rows.length - 1]!.id;
        // Take rows one by one until the need is covered, so a dry run and a real run stop at the same row.
        const take: Candidate[] = [];
        let acc = res.bytes;
        for (const r of rows) {
          if (planned.has(r.id)) continue;
          if (acc >= needBytes) break;
          const f = r.snapshot && safeName(r.snapshot) ? (fileBytes(path(r.snapshot)) ?? 0) : 0;
          acc += r.bytes + f;
          take.push(r);
        }
        if (take.length === 0) continue;
        const { count, bytes } = await apply(take, 'watermark');
        res.oldestTs ??= take[0]!.ts;
        res.newestTs = take[take.length - 1]!.ts;
        res.count += count;
        res.bytes += bytes;
      }
      return res;
    },

    async maintain() {
      if (!dryRun) await maintainDb(db, cfg.db, ctx);
    },

    close() {
      if (db.open) db.close();
    },
  };
}
