/**
 * The durable side of a safety event: its snapshot file and its row, written so that a detection
 * is never lost silently when the data volume is full or read-only.
 *
 * - The snapshot is encoded in memory first (CPU only), then written to a temporary file and
 *   renamed into place; a failed write deletes the temporary file, so no 0-byte or truncated JPEG
 *   is ever left under its real name.
 * - The event is stored even when its snapshot could not be written (`snapshotError` says why);
 *   the JPEG stays in memory (bounded: MAX_SNAPSHOT_BYTES) and is written later, then recorded with
 *   `setSnapshot`. Past the bound the oldest JPEGs are dropped (counted); the event keeps its error.
 * - If even the SQLite insert fails, the event waits in a bounded in-memory queue (MAX_PENDING_EVENTS,
 *   oldest first out, counted as lost and logged) and is retried every `retryMs`, in order.
 * - `inference_data_writable` (0/1), `inference_events_pending`, `inference_snapshots_pending`
 *   and /healthz (a `data` warning) show the state; when space returns the next retry drains
 *   everything and the state recovers by itself. While nothing is pending but the volume was found
 *   unwritable, a tiny probe file is written each retry to notice the recovery.
 *
 * INVARIANTS: one retry runs at a time (`flushing`); queued events are inserted in arrival order;
 * an event is counted lost exactly once (overflow, or close() with it still queued).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, unlinkSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import type { EventStore, NewSafetyEvent, SafetyEvent } from './store.ts';
import { lineLogger, processLogger } from '../../../common/src/index.ts';

/** An event as the pipeline hands it over: everything but the snapshot fields. */
export type EventData = Omit<NewSafetyEvent, 'snapshot' | 'snapshotError'>;

export interface EventWriterOptions {
  store: EventStore;
  /** DATA_DIR/snapshots. */
  snapDir: string;
  registry?: Registry;
  log?: (line: string) => void;
  /** How often a blocked write is retried (default 2000 ms). */
  retryMs?: number;
  maxPendingEvents?: number;
  maxSnapshotBytes?: number;
}

/** What /healthz and the tests see. */
export interface WriterState {
  /** The last write to the data volume (file or database) succeeded. */
  writable: boolean;
  /** Events not yet in the database (in memory). */
  pendingEvents: number;
  /** Stored events whose JPEG waits in memory for the disk. */
  pendingSnapshots: number;
  /** Events dropped because the queue was full (since start). */
  lost: number;
  /** The last write error, without any path ("ENOSPC: no space left on device"). */
  lastError: string | null;
}

export interface EventWriter {
  /**
   * Writes the snapshot (a JPEG, or the Error that prevented making one) under `name` and stores
   * the event. Never throws. Returns the stored event, or undefined when it is queued in memory.
   */
  record(e: EventData, jpeg: Buffer | Error, name: string): Promise<SafetyEvent | undefined>;
  state(): WriterState;
  /** A retry now (the timer does it every retryMs while something is pending). */
  flush(): Promise<void>;
  /** Stops retrying after one last attempt; what is still queued is counted lost and logged. */
  close(): Promise<void>;
}

/** Defaults: 10k events (~1 KB each), 32 MB of JPEGs (about 500 snapshots of 640x360). */
export const MAX_PENDING_EVENTS = 10_000;
export const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;

/** An fs or SQLite error as a short text without server paths: `ENOSPC: no space left on device`. */
export function describeWriteError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = String(e?.message ?? err);
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE')) return `${msg.split('\n')[0]!.slice(0, 120)} (${e.code})`;
  // Node's fs messages are "CODE: text, syscall 'path'": keep "CODE: text".
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) return msg.split(',')[0]!.slice(0, 120);
  return msg.replace(/(['"])\/[^'"]*\1/g, '<path>').replace(/(^|\s)\/\S+/g, '$1<path>').slice(0, 160);
}

/** Writes `data` to `path` through a temporary file + rename; on failure nothing is left behind. */
export async function writeFileAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

interface Queued { e: EventData; name: string; jpeg?: Buffer; written: boolean; snapshotError: string | null }
interface SnapshotRetry { id: number; name: string; jpeg: Buffer; written: boolean }

export function createEventWriter(o: EventWriterOptions): EventWriter {
  const log = o.log ?? lineLogger(processLogger());
  const retryMs = o.retryMs ?? 2000;
  const maxEvents = o.maxPendingEvents ?? MAX_PENDING_EVENTS;
  const maxBytes = o.maxSnapshotBytes ?? MAX_SNAPSHOT_BYTES;
  const registers = [o.registry ?? new Registry()];
  const queue: Queued[] = [];
  const snapshots: SnapshotRetry[] = [];
  let jpegBytes = 0;
  // Per target: the database may fail while files still write (or the other way round).
  const ok = { event: true, snapshot: true };
  let writable = true;
  let lastError: string | null = null;
  let lost = 0;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let closed = false;

  const m = {
    writable: new Gauge({ name: 'inference_data_writable', help: '1 when the last write to the data volume (snapshot or event) succeeded, 0 while it cannot be written', registers, collect() { this.set(writable ? 1 : 0); } }),
    pending: new Gauge({ name: 'inference_events_pending', help: 'Safety events held in memory because the database could not be written', registers, collect() { this.set(queue.length); } }),
    pendingSnaps: new Gauge({ name: 'inference_snapshots_pending', help: 'Snapshots held in memory because the disk could not be written (their events are stored)', registers, collect() { this.set(snapshots.length + queue.filter((q) => q.jpeg && !q.written).length); } }),
    errors: new Counter({ name: 'inference_data_write_errors_total', help: 'Failed writes to the data volume, by what was written (event, snapshot)', labelNames: ['what'], registers }),
    lost: new Counter({ name: 'inference_events_lost_total', help: 'Safety events dropped: the in-memory queue was full, or the app stopped with them unstored', registers }),
    dropped: new Counter({ name: 'inference_snapshots_dropped_total', help: 'Snapshots given up (memory bound reached): their events are stored with snapshotError', registers }),
  };
  m.errors.inc({ what: 'event' }, 0);
  m.errors.inc({ what: 'snapshot' }, 0);
  m.lost.inc(0);
  m.dropped.inc(0);

  // Temporary files of a run that was killed mid-write are never renamed into place: remove them.
  try {
    for (const f of readdirSync(o.snapDir)) if (/\.tmp-\d+-[0-9a-f]+$/.test(f)) unlinkSync(join(o.snapDir, f));
  } catch { /* the directory is checked by the writes themselves */ }

  const failed = (what: 'event' | 'snapshot', err: unknown) => {
    const text = describeWriteError(err);
    m.errors.inc({ what });
    if (ok[what] || text !== lastError) log(`inference: cannot write ${what === 'event' ? 'a safety event to the database' : 'a snapshot'}: ${text}; keeping it in memory and retrying every ${retryMs}ms`);
    ok[what] = false;
    writable = false;
    lastError = text;
    return text;
  };
  const succeeded = (what: 'event' | 'snapshot') => {
    ok[what] = true;
    if (!writable && ok.event && ok.snapshot) log(`inference: the data volume is writable again (${queue.length} events, ${snapshots.length} snapshots still to write)`);
    writable = ok.event && ok.snapshot;
  };
  const keepJpeg = (jpeg: Buffer) => {
    jpegBytes += jpeg.length;
    // Oldest first out: the stored snapshot retries, then the queued events' JPEGs.
    while (jpegBytes > maxBytes) {
      const s = snapshots.shift();
      if (s) { jpegBytes -= s.jpeg.length; m.dropped.inc(); continue; }
      const q = queue.find((x) => x.jpeg && !x.written);
      if (!q) break;
      jpegBytes -= q.jpeg!.length;
      q.jpeg = undefined;
      q.snapshotError = `${q.snapshotError ?? lastError ?? 'not written'}; dropped from memory`;
      m.dropped.inc();
    }
  };
  const arm = () => {
    if (closed || timer) return;
    timer = setTimeout(() => { timer = undefined; void flush(); }, retryMs);
    timer.unref();
  };

  const writeSnapshot = async (name: string, jpeg: Buffer): Promise<string | null> => {
    try {
      await writeFileAtomic(join(o.snapDir, name), jpeg);
      succeeded('snapshot');
      return null;
    } catch (err) {
      return failed('snapshot', err);
    }
  };
  const insert = (q: Queued): SafetyEvent | undefined => {
    try {
      const ev = o.store.append({ ...q.e, snapshot: q.written ? q.name : null, snapshotError: q.written ? null : q.snapshotError });
      succeeded('event');
      if (q.jpeg && !q.written) snapshots.push({ id: ev.id, name: q.name, jpeg: q.jpeg, written: false });
      else if (q.jpeg) jpegBytes -= q.jpeg.length;
      return ev;
    } catch (err) {
      failed('event', err);
      return undefined;
    }
  };

  async function flushOnce(): Promise<void> {
    // Events first, in order; stop at the first that still fails (the disk is still full).
    while (queue.length) {
      const q = queue[0]!;
      if (q.jpeg && !q.written) {
        const err = await writeSnapshot(q.name, q.jpeg);
        if (err === null) q.written = true;
        else q.snapshotError = err;
      }
      if (!insert(q)) break;
      queue.shift();
    }
    for (let i = 0; i < snapshots.length;) {
      const s = snapshots[i]!;
      if (!s.written) {
        if ((await writeSnapshot(s.name, s.jpeg)) !== null) break;
        s.written = true;
      }
      try {
        o.store.setSnapshot(s.id, s.name);
        succeeded('event');
        snapshots.splice(i, 1);
        jpegBytes -= s.jpeg.length;
      } catch (err) {
        failed('event', err);
        break;
      }
    }
    if (!writable && !queue.length && !snapshots.length) {
      // Nothing to retry, but the last write failed: a probe write tells when space is back.
      const probe = join(o.snapDir, '.write-probe');
      try {
        await writeFileAtomic(probe, Buffer.from('ok'));
        await unlink(probe);
        succeeded('snapshot');
        succeeded('event');
      } catch (err) {
        lastError = describeWriteError(err);
      }
    }
    if (queue.length || snapshots.length || !writable) arm();
  }

  function flush(): Promise<void> {
    flushing ??= flushOnce().finally(() => { flushing = undefined; });
    return flushing;
  }

  return {
    async record(e, jpeg, name) {
      const q: Queued = { e, name, written: false, snapshotError: null };
      if (jpeg instanceof Error) q.snapshotError = `snapshot not made: ${describeWriteError(jpeg)}`;
      else {
        const err = await writeSnapshot(name, jpeg);
        if (err === null) q.written = true;
        else { q.snapshotError = err; q.jpeg = jpeg; keepJpeg(jpeg); }
      }
      // Behind events already queued: keep the order (and do not hammer a full disk per event).
      const ev = queue.length ? undefined : insert(q);
      if (!ev) {
        queue.push(q);
        if (queue.length > maxEvents) {
          const old = queue.shift()!;
          if (old.jpeg) jpegBytes -= old.jpeg.length;
          lost++;
          m.lost.inc();
          log(`inference: SAFETY EVENT LOST (queue of ${maxEvents} full, disk still not writable): ${old.e.camera}/${old.e.zone} ${old.e.cls} at ${new Date(old.e.ts).toISOString()}`);
        }
      }
      if (queue.length || snapshots.length || !writable) arm();
      return ev;
    },
    state: () => ({ writable, pendingEvents: queue.length, pendingSnapshots: snapshots.length + queue.filter((q) => q.jpeg && !q.written).length, lost, lastError }),
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      clearTimeout(timer);
      if (queue.length) {
        lost += queue.length;
        m.lost.inc(queue.length);
        log(`inference: stopping with ${queue.length} SAFETY EVENTS NOT STORED (data volume not writable: ${lastError}); they are lost`);
        queue.length = 0;
      }
    },
  };
}
