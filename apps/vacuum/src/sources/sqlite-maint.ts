/**
 * After deleting: give the space back without blocking the writers of the file.
 * - wal_checkpoint(PASSIVE) copies what it can without waiting for readers or writers;
 * - TRUNCATE (which waits for readers and resets the WAL to 0 bytes) only when the WAL has grown
 *   past wal_truncate_bytes (Frigate's rule: 10 MB), so a normal run never waits on a lock;
 * - incremental_vacuum in small steps (each its own short write transaction) moves free pages to
 *   the end and truncates the file; only when the file has auto_vacuum=INCREMENTAL (both creators
 *   set it, with a migration for older files); a final PASSIVE checkpoint lets the file shrink.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { Pacer } from './pacer.ts';

/**
 * Pages freed per incremental_vacuum step: 64 x 4 KiB = 256 KiB moved at most per transaction
 * (256 pages held the lock long enough under load to show in a writer's worst case).
 */
const STEP_PAGES = 64;

export interface MaintainOptions { pacer: Pacer; walTruncateBytes: number }

export interface MaintainResult { truncated: boolean; pagesFreed: number; autoVacuum: boolean }

export async function maintainDb(db: Database.Database, file: string, opts: MaintainOptions): Promise<MaintainResult> {
  db.pragma('wal_checkpoint(PASSIVE)');
  const wal = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  let truncated = false;
  if (wal > opts.walTruncateBytes) {
    opts.pacer.write(() => db.pragma('wal_checkpoint(TRUNCATE)'));
    truncated = true;
  }
  const autoVacuum = (db.pragma('auto_vacuum', { simple: true }) as number) === 2;
  let pagesFreed = 0;
  if (autoVacuum) {
    for (let guard = 0; guard < 100_000; guard++) {
      const free = db.pragma('freelist_count', { simple: true }) as number;
      if (free === 0) break;
      opts.pacer.write(() => db.pragma(`incremental_vacuum(${Math.min(free, STEP_PAGES)})`));
      pagesFreed += Math.min(free, STEP_PAGES);
      // Checkpointed as it goes, so no writer's commit meets a WAL full of moved pages.
      db.pragma('wal_checkpoint(PASSIVE)');
      await opts.pacer.rest();
    }
    db.pragma('wal_checkpoint(PASSIVE)');
  }
  return { truncated, pagesFreed, autoVacuum };
}
