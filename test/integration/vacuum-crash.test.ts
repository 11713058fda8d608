/**
 * Crash safety with a real vacuum process: a failpoint pauses a run half-way (after the 2nd batch
 * of rows is deleted, before or after its files are unlinked), the test SIGKILLs it there, then a
 * second process runs again. At the kill no row points to a missing file; after the second run
 * rows and files agree exactly and the policy's result is reached.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../apps/vacuum/src/report.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';
import { DAY, fillSafetyEvents, inconsistencies, journalSize, readEvents } from '../helpers/vacuum.ts';

interface Proc { child: ChildProcess; base: string; stderr: () => string }

async function startVacuum(dir: string, failpoint?: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/vacuum/src/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, PORT: String(port), DATA_DIR: dir, VACUUM_CONFIG: join(dir, 'vacuum.yaml'), ...(failpoint ? { VACUUM_FAILPOINT: failpoint } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('vacuum /healthz', async () => (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok, 30_000, 100);
  return { child, base, stderr: () => err };
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

describe('vacuum killed half-way', () => {
  for (const point of ['pause-after-rows', 'pause-after-files'] as const) {
    test(`SIGKILL at ${point}@2, then a second run: rows and files consistent`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'vacuum-crash-'));
      const procs: ChildProcess[] = [];
      t.after(async () => {
        for (const p of procs) if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await exited(p); }
        rmSync(dir, { recursive: true, force: true });
      });
      const now = Date.now();
      fillSafetyEvents(dir, { count: 2000, now, spanDays: 60, pinEvery: 40 });
      writeFileSync(join(dir, 'vacuum.yaml'), [
        '# far-away schedule: the test triggers the runs',
        'schedule: "0 0 1 1 *"',
        'run_at_start: false',
        'batch_size: 100',
        'state_db: state/vacuum.db',
        'volumes:',
        '  - { name: data, path: . }',
        'safety_events:',
        '  volume: data',
        '  db: events.db',
        '  snapshots: snapshots',
        '  retention_days: 30',
        '  keep_newest: 100',
        '',
      ].join('\n'));
      const before = readEvents(join(dir, 'events.db'));
      const expectKept = before.filter((r) => r.pinned || r.ts >= now - 30 * DAY).map((r) => r.id);
      assert.ok(before.length - expectKept.length > 500, 'enough to delete for several batches');

      const first = await startVacuum(dir, `${point}@2`);
      procs.push(first.child);
      const r = await fetch(`${first.base}/runs?wait=0`, { method: 'POST', signal: AbortSignal.timeout(5000) });
      assert.equal(r.status, 202);
      await waitFor('the failpoint', () => first.stderr().includes(`VACUUM_FAILPOINT ${point}@2: paused`), 30_000);
      first.child.kill('SIGKILL');
      await exited(first.child);

      // At the kill: 200 rows gone, no row points to a missing file; the 2nd batch is journaled.
      const mid = inconsistencies(dir);
      assert.equal(readEvents(join(dir, 'events.db')).length, before.length - 200);
      assert.deepEqual(mid.rowsWithoutFile, []);
      assert.equal(journalSize(join(dir, 'events.db')), 100);
      assert.equal(mid.filesWithoutRow.length, point === 'pause-after-rows' ? 100 : 0);

      const second = await startVacuum(dir);
      procs.push(second.child);
      // A dry run first: it counts the journal's leftovers too, and touches nothing.
      const rowsMid = readEvents(join(dir, 'events.db'));
      const dry = (await (await fetch(`${second.base}/runs?dry_run=1`, { method: 'POST', signal: AbortSignal.timeout(60_000) })).json()) as RunReport;
      assert.equal(dry.finishedFromJournal, 100);
      assert.deepEqual(readEvents(join(dir, 'events.db')), rowsMid);
      assert.equal(journalSize(join(dir, 'events.db')), 100);
      const res = await fetch(`${second.base}/runs`, { method: 'POST', signal: AbortSignal.timeout(60_000) });
      assert.equal(res.status, 200);
      const report = (await res.json()) as RunReport;
      assert.equal(report.ok, true, JSON.stringify(report.error));
      assert.equal(report.finishedFromJournal, 100);
      assert.deepEqual(report.deleted, dry.deleted, 'the dry run reported what the real run then deleted, journal included');
      assert.deepEqual(inconsistencies(dir), { rowsWithoutFile: [], filesWithoutRow: [] });
      assert.equal(journalSize(join(dir, 'events.db')), 0);
      assert.deepEqual(readEvents(join(dir, 'events.db')).map((x) => x.id), expectKept);
      const events = (await (await fetch(`${second.base}/events`)).json()) as { events: { type: string; message: string }[] };
      assert.match(events.events.find((e) => e.type === 'journal')!.message, /finished 100 snapshot deletions an interrupted run had started/);
      second.child.kill('SIGTERM');
      await exited(second.child);
      assert.equal(second.child.exitCode, 0, second.stderr());
    });
  }

  test('SIGTERM during a run: it stops at a batch boundary, exits 0, rows and files agree', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vacuum-term-'));
    const procs: ChildProcess[] = [];
    t.after(async () => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await exited(p); }
      rmSync(dir, { recursive: true, force: true });
    });
    const now = Date.now();
    fillSafetyEvents(dir, { count: 1000, now, spanDays: 60 });
    // 20 rows a batch, 100 ms between batches: a run of ~25 batches, long enough to stop in the middle.
    writeFileSync(join(dir, 'vacuum.yaml'), 'schedule: "0 0 1 1 *"\nrun_at_start: false\nbatch_size: 20\nbatch_pause: 100ms\nstate_db: state/vacuum.db\nvolumes:\n  - { name: data, path: . }\nsafety_events: { volume: data, db: events.db, snapshots: snapshots, retention_days: 30, keep_newest: 0 }\n');
    const before = readEvents(join(dir, 'events.db')).length;
    const v = await startVacuum(dir);
    procs.push(v.child);
    assert.equal((await fetch(`${v.base}/runs?wait=0`, { method: 'POST', signal: AbortSignal.timeout(5000) })).status, 202);
    await waitFor('some rows deleted', () => readEvents(join(dir, 'events.db')).length < before - 40, 30_000, 20);
    v.child.kill('SIGTERM');
    await exited(v.child);
    assert.equal(v.child.exitCode, 0, v.stderr());
    const left = readEvents(join(dir, 'events.db')).length;
    assert.ok(left > before - 480, `stopped in the middle (${before - left} of ~500 deleted)`);
    assert.equal(journalSize(join(dir, 'events.db')), 0, 'stopped between batches: nothing left in the journal');
    assert.deepEqual(inconsistencies(dir), { rowsWithoutFile: [], filesWithoutRow: [] });
  });
});
