/**
 * The supervisor's event log (its SQLite `events` table). The supervisor keeps its own bound by
 * count (retain_events); this adds retention by age and gives the pages back. No files.
 * Deleted in seq ranges of batch_size (the primary key: each batch is one range delete in a short
 * transaction); the newest keep_newest rows, fixed at the start of the run, are never touched, so
 * the supervisor's seq counter (seeded from MAX(seq)) is never affected.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { SupervisorEventsConfig } from '../config.ts';
import type { RunCtx } from './safety-events.ts';
import { maintainDb } from './sqlite-maint.ts';

const ROW_BYTES = `(length(type) + length(child) + coalesce(length(from_state), 0) + coalesce(length(to_state), 0) + length(reason) + coalesce(length(data), 0) + 24)`;

export interface SupervisorSource {
  retention(): Promise<void>;
  maintain(): Promise<void>;
  close(): void;
}

export function openSupervisorSource(cfg: SupervisorEventsConfig, ctx: RunCtx): SupervisorSource | null {
  if (!statSync(cfg.db, { throwIfNoEntry: false })?.isFile()) return null;
  const db = new Database(cfg.db, { timeout: 5000, readonly: ctx.dryRun, fileMustExist: true });
  // Our checkpoints, after our batches: not the supervisor's next append (see safety-events.ts).
  if (!ctx.dryRun) db.pragma('wal_autocheckpoint = 0');
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
  return {
    async retention() {
      if (!exists || cfg.retentionDays === null) return;
      const cutoff = ctx.now - cfg.retentionDays * 86_400_000;
      const lo = (db.prepare('SELECT MIN(seq) AS m FROM events').get() as { m: number | null }).m;
      const floor = cfg.keepNewest === 0
        ? (db.prepare('SELECT MAX(seq) AS m FROM events').get() as { m: number | null }).m
        : (db.prepare('SELECT seq AS m FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?').get(cfg.keepNewest) as { m: number } | undefined)?.m ?? null;
      if (lo === null || floor === null) return;
      // Rows with seq <= floor are deletable (the newest keep_newest are above it).
      const count = db.prepare(`SELECT count(*) AS n, coalesce(sum(${ROW_BYTES}), 0) AS b FROM events WHERE seq >= ? AND seq <= ? AND ts < ?`);
      const del = ctx.dryRun ? undefined : db.prepare('DELETE FROM events WHERE seq >= ? AND seq <= ? AND ts < ?');
      for (let from = lo; from <= floor; from += ctx.batchSize) {
        const to = Math.min(floor, from + ctx.batchSize - 1);
        const { n, b } = (del ? ctx.pacer.write(() => db.transaction(() => { const c = count.get(from, to, cutoff); del.run(from, to, cutoff); return c; })()) : count.get(from, to, cutoff)) as { n: number; b: number };
        ctx.tally.add('supervisor_events', 'retention', cfg.volume, n, b);
        if (del && n > 0) {
          db.pragma('wal_checkpoint(PASSIVE)');
          await ctx.pacer.rest();
        }
      }
    },
    async maintain() {
      if (!ctx.dryRun && exists) await maintainDb(db, cfg.db, ctx);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
