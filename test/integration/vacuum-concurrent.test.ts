/**
 * A writer using the inference app's real store (its own process, as the inference app is) keeps
 * writing while the vacuum deletes thousands of rows and files from the same events.db, then
 * checkpoints and runs incremental_vacuum: no SQLITE_BUSY, no lost event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createVacuum } from '../../apps/vacuum/src/vacuum.ts';
import { openStateDb } from '../../apps/vacuum/src/state-db.ts';
import { waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';
import { DAY, fillSafetyEvents, inconsistencies, vacuumConfig } from '../helpers/vacuum.ts';

test('events written during a vacuum run are all stored, none refused with SQLITE_BUSY', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-conc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const now = Date.now();
  // 4000 events over 120 days: 3000 of them past a 30-day retention.
  fillSafetyEvents(dir, { count: 4000, now, spanDays: 120 });
  const db = join(dir, 'events.db');

  const writer = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/fixtures/vacuum-writer.ts'), db, '1'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (writer.exitCode === null) writer.kill('SIGKILL'); });
  let out = '';
  writer.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  await waitFor('writer ready', () => out.startsWith('ready\n'), 30_000);

  const cfg = vacuumConfig({
    volumes: [{ name: 'data', path: '.' }],
    state_db: 'state/vacuum.db',
    // Small batches: many write transactions interleaved with the writer's.
    batch_size: 50,
    safety_events: { volume: 'data', db: 'events.db', snapshots: 'snapshots', retention_days: 30, keep_newest: 0 },
  }, dir);
  const state = openStateDb(cfg.stateDb);
  t.after(() => state.close());
  const countRows = () => { const d = new Database(db, { readonly: true }); try { return (d.prepare("SELECT count(*) AS n FROM safety_events WHERE camera = 'live'").get() as { n: number }).n; } finally { d.close(); } };
  const atStart = countRows();
  const report = await createVacuum(cfg, { state }).run();
  const duringRun = countRows() - atStart;
  assert.equal(report.ok, true, JSON.stringify(report.error));
  assert.ok(report.deleted.find((d) => d.kind === 'safety_events')!.count >= 2900);

  writer.kill('SIGTERM');
  await new Promise((r) => writer.once('exit', r));
  const summary = JSON.parse(out.split('\n')[1]!) as { written: number; errors: string[]; ids: number[] };
  assert.deepEqual(summary.errors, [], 'no insert failed (SQLITE_BUSY or otherwise)');
  assert.ok(duringRun > 10, `the writer kept writing during the run (${duringRun} events)`);
  // Every event the writer was told was stored is there.
  const d = new Database(db, { readonly: true });
  const stored = new Set((d.prepare("SELECT id FROM safety_events WHERE camera = 'live'").all() as { id: number }[]).map((r) => r.id));
  d.close();
  assert.equal(stored.size, summary.written);
  assert.ok(summary.ids.every((id) => stored.has(id)));
  assert.deepEqual(inconsistencies(dir), { rowsWithoutFile: [], filesWithoutRow: [] });
  void DAY;
});
