/**
 * What a run deleted (or, in a dry run, would delete), by kind and reason, with the bytes it
 * accounts for. The same tally drives the watermark: bytes freed on a volume so far in this run.
 *
 * Bytes are bytes on disk for files (st_blocks x 512, what the filesystem gets back) and the row's
 * payload for rows (SQLite gives the pages back later, through incremental_vacuum). A dry run and
 * the real run that follows count the same way, so their reports are equal when nothing changed
 * in between.
 */

/** What is deleted: event rows, their snapshot files, the supervisor's event log, app log files. */
export type Kind = 'safety_events' | 'safety_snapshots' | 'supervisor_events' | 'app_logs';
/** Why: age (retention), a full disk (watermark), a snapshot file with no event row (orphan). */
export type Reason = 'retention' | 'watermark' | 'orphan';

export const KINDS: readonly Kind[] = ['safety_events', 'safety_snapshots', 'supervisor_events', 'app_logs'];
export const REASONS: readonly Reason[] = ['retention', 'watermark', 'orphan'];

/** One line of a report: `count` items of `kind` deleted for `reason`, `bytes` in all. */
export interface DeletedEntry { kind: Kind; reason: Reason; count: number; bytes: number }

/** Per volume, as the run saw it and decided. */
export interface VolumeReport {
  name: string;
  sizeBytes: number;
  /** Free bytes at the start of the run (the watermark decides on this plus what the run freed). */
  freeBytesAtStart: number;
  /** Free bytes measured after the run (a dry run: the same as at start). */
  freeBytes: number;
  /** null: no watermark on this volume. */
  floorBytes: number | null;
  /** Measured write rate; null until enough samples (a few minutes of ticks). */
  writeRateBytesPerHour: number | null;
  /** Hours until full at that rate; null when unknown or nothing is written. */
  hoursLeft: number | null;
  /** ok: above the floor; cleaned: the watermark deleted; exhausted: still below, nothing deletable left. */
  watermark: 'none' | 'ok' | 'cleaned' | 'exhausted';
}

/** The result of one run (also the body of POST /runs). No server path appears in it. */
export interface RunReport {
  id: number;
  trigger: 'schedule' | 'api' | 'start';
  dryRun: boolean;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  ok: boolean;
  error?: { code: string; message: string };
  deleted: DeletedEntry[];
  /** Rows whose snapshot file was gone: kept, marked (snapshot null, snapshot_error set). */
  repairedRows: number;
  /** Deletions left over by an interrupted run and finished by this one (counted in `deleted` too). */
  finishedFromJournal: number;
  volumes: VolumeReport[];
  /** Why a volume is still full (only pinned events or the newest-N floor left). */
  alarms: string[];
}

/** Accumulates deletions. `volume` is where the bytes come back. */
export class Tally {
  private readonly map = new Map<string, DeletedEntry>();
  private readonly freed = new Map<string, number>();
  add(kind: Kind, reason: Reason, volume: string, count: number, bytes: number): void {
    if (count === 0) return;
    const key = `${kind}\u0000${reason}`;
    const e = this.map.get(key) ?? { kind, reason, count: 0, bytes: 0 };
    e.count += count;
    e.bytes += bytes;
    this.map.set(key, e);
    this.freed.set(volume, (this.freed.get(volume) ?? 0) + bytes);
  }
  freedOn(volume: string): number {
    return this.freed.get(volume) ?? 0;
  }
  /** Sorted by kind then reason, so two reports compare with deepEqual. */
  entries(): DeletedEntry[] {
    return [...this.map.values()].sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || REASONS.indexOf(a.reason) - REASONS.indexOf(b.reason));
  }
}

/** "1.2 GB", "340 kB": for event messages a technician reads. */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * An error as the API, events and logs may show it: its code and message with any absolute path
 * cut to its last part (fs errors name the file; no server path may leave the box).
 */
export function publicError(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'VACUUM_ERR_RUN_FAILED';
  const message = String(e?.message ?? err).replace(/(^|[\s'"(=])\/(?:[^\s'"),]+\/)*([^\s'"),/]*)/g, '$1…/$2');
  return { code, message };
}
