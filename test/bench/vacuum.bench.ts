// Vacuum benchmark (issue 12): 1,000,000 safety-event rows and 100,000 snapshot files (every 10th
// event has one), spread over 60 days; a 30-day retention deletes about half of both. Figures:
// run time (and rows/s), the events.db size before/after (incremental_vacuum gives pages back),
// and the insert latency of a concurrent writer (its own process, the inference app's real store,
// one event every 5 ms) during the run against the same writer with no vacuum, measured just before
// and just after the run in the same process tree (ratio of p99s). Prints figures, asserts nothing.
//
// Run: node --import tsx test/bench/vacuum.bench.ts [rows=1000000] [files=100000] [batch=200] [max_lock_share=10]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { createVacuum } from '../../apps/vacuum/src/vacuum.ts';
import { openStateDb } from '../../apps/vacuum/src/state-db.ts';
import { DAY, inconsistencies, vacuumConfig } from '../helpers/vacuum.ts';
import { repoRoot } from '../helpers/tree.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const FILES = Number(process.argv[3] ?? 100_000);
const BATCH = Number(process.argv[4] ?? 200);
const SHARE = Number(process.argv[5] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'vacuum-bench-'));
const dbPath = join(dir, 'events.db');
const snaps = join(dir, 'snapshots');
mkdirSync(snaps);

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };
const fmt = (n: number, d = 2) => n.toFixed(d);

try {
  const now = Date.now();
  let t = performance.now();
  openEventStore(dbPath).close(); // the real schema, auto_vacuum=INCREMENTAL
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  const ins = db.prepare('INSERT INTO safety_events (ts, camera, zone, cls, score, boxes, snapshot, snapshot_error, episode_start, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)');
  const boxes = JSON.stringify([{ x1: 0.1, y1: 0.2, x2: 0.3, y2: 0.6, cls: 'person', score: 0.71 }]);
  const every = Math.max(1, Math.floor(ROWS / FILES));
  const body = Buffer.alloc(1500, 0xab);
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const ts = Math.round(now - 60 * DAY + (i * 60 * DAY) / ROWS);
      const snap = i % every === 0 ? `cam${i % 4}-lane-${ts}-${i}.jpg` : null;
      if (snap) writeFileSync(join(snaps, snap), body);
      ins.run(ts, `cam${i % 4}`, 'lane', i % 3 === 0 ? 'person' : 'forklift', 0.7, boxes, snap, ts - 2000, i % 997 === 0 ? 1 : 0);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const sizeBefore = statSync(dbPath).size;
  console.log(`setup: ${ROWS} rows, ${Math.ceil(ROWS / every)} files in ${fmt((performance.now() - t) / 1000, 1)} s; events.db ${fmt(sizeBefore / 1e6, 1)} MB`);

  interface WriterResult { written: number; errors: string[]; latenciesMs: number[] }
  const startWriter = async () => {
    const w = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/fixtures/vacuum-writer.ts'), dbPath, '5'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    w.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    await new Promise<void>((r) => { const i = setInterval(() => { if (out.startsWith('ready\n')) { clearInterval(i); r(); } }, 20); });
    return async (): Promise<WriterResult> => {
      w.kill('SIGTERM');
      await new Promise((r) => w.once('exit', r));
      return JSON.parse(out.split('\n')[1]!) as WriterResult;
    };
  };
  const baseline = async (ms: number) => { const stop = await startWriter(); await new Promise((r) => setTimeout(r, ms)); return stop(); };

  const before = await baseline(10_000);
  const cfg = vacuumConfig({
    volumes: [{ name: 'data', path: '.' }],
    state_db: 'state/vacuum.db',
    batch_size: BATCH,
    max_lock_share: SHARE,
    safety_events: { volume: 'data', db: 'events.db', snapshots: 'snapshots', retention_days: 30, keep_newest: 500 },
  }, dir);
  const state = openStateDb(cfg.stateDb);
  const vacuum = createVacuum(cfg, { state, now: () => now });
  t = performance.now();
  const dry = await vacuum.run({ dryRun: true });
  const dryS = (performance.now() - t) / 1000;
  const stopDuring = await startWriter();
  t = performance.now();
  const report = await vacuum.run();
  const runS = (performance.now() - t) / 1000;
  const during = await stopDuring();
  const after = await baseline(10_000);
  state.close();

  const deleted = report.deleted.find((d) => d.kind === 'safety_events')?.count ?? 0;
  const files = report.deleted.find((d) => d.kind === 'safety_snapshots')?.count ?? 0;
  const inc = inconsistencies(dir);
  console.log(`dry run: ${fmt(dryS, 1)} s; same as the real run: ${JSON.stringify(dry.deleted) === JSON.stringify(report.deleted)}`);
  console.log(`batch_size ${BATCH}, max_lock_share ${SHARE} %`);
  console.log(`real run: ${fmt(runS, 1)} s (ok=${report.ok}); deleted ${deleted} rows + ${files} files (${fmt(deleted / runS, 0)} rows/s); events.db ${fmt(sizeBefore / 1e6, 1)} -> ${fmt(statSync(dbPath).size / 1e6, 1)} MB; consistent: ${inc.rowsWithoutFile.length === 0 && inc.filesWithoutRow.length === 0}`);
  const base = [...before.latenciesMs, ...after.latenciesMs];
  const row = (name: string, r: { written: number; errors: string[] }, l: number[]) =>
    console.log(`${name.padEnd(22)} inserts ${String(r.written).padStart(6)}  errors ${r.errors.length}  p50 ${fmt(pct(l, 50), 3)} ms  p99 ${fmt(pct(l, 99), 3)} ms  max ${fmt(Math.max(...l), 1)} ms`);
  row('writer, no vacuum', { written: before.written + after.written, errors: [...before.errors, ...after.errors] }, base);
  row('writer, during vacuum', during, during.latenciesMs);
  console.log(`p99 ratio (during / no vacuum): ${fmt(pct(during.latenciesMs, 99) / pct(base, 99))}x; p50 ratio ${fmt(pct(during.latenciesMs, 50) / pct(base, 50))}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
