/**
 * The vacuum against real files filled by the test (thousands of rows): retention per kind
 * (safety events by class with their snapshots, the supervisor's log, app log files), pins and the
 * newest-N floor kept, the orphan sweep, and a dry run that deletes nothing and reports exactly
 * what the real run then deletes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { createVacuum } from '../../apps/vacuum/src/vacuum.ts';
import { openStateDb } from '../../apps/vacuum/src/state-db.ts';
import { DAY, fillLogs, fillSafetyEvents, fillSupervisorEvents, inconsistencies, journalSize, readEvents, vacuumConfig } from '../helpers/vacuum.ts';

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-ret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const listing = (dir: string) => readdirSync(dir).sort();
const supRows = (path: string) => {
  const d = new Database(path, { readonly: true });
  try { return d.prepare('SELECT seq, ts FROM events ORDER BY seq').all() as { seq: number; ts: number }[]; } finally { d.close(); }
};

describe('vacuum retention', () => {
  test('by kind and class, pins kept, orphans swept; the dry run reports exactly what the real run deletes', async (t) => {
    const dir = setup(t);
    const now = Date.now();
    const data = join(dir, 'inference');
    // 3000 events over 60 days (person / forklift / motion in turn), every 50th pinned.
    fillSafetyEvents(data, { count: 3000, now, spanDays: 60, pinEvery: 50 });
    fillSupervisorEvents(join(dir, 'edgevisor.db'), 4000, now, 120);
    fillLogs(join(dir, 'logs'), [1, 3, 10, 13, 15, 20, 40], now);
    // Orphans: 5 old files with no row (a crash between file and row), 2 fresh ones (a write in flight).
    for (let i = 0; i < 7; i++) {
      const p = join(data, 'snapshots', `orphan-${i}.jpg`);
      writeFileSync(p, Buffer.alloc(3000));
      if (i < 5) utimesSync(p, new Date(now - DAY), new Date(now - DAY));
    }
    // Three recent events lose their file (someone deleted them by hand): kept and marked.
    const before = readEvents(join(data, 'events.db'));
    const lost = before.slice(-10, -7);
    for (const r of lost) unlinkSync(join(data, 'snapshots', r.snapshot!));

    const cfg = vacuumConfig({
      volumes: [{ name: 'data', path: '.' }],
      state_db: 'state/vacuum.db',
      batch_size: 200,
      safety_events: { volume: 'data', db: 'inference/events.db', snapshots: 'inference/snapshots', retention_days: 30, retention_by_class: { person: 45 }, keep_newest: 100, orphan_grace: '10m' },
      supervisor_events: { volume: 'data', db: 'edgevisor.db', retention_days: 90, keep_newest: 100 },
      app_logs: [{ name: 'camera', volume: 'data', dir: 'logs', pattern: '*.log', retention_days: 14 }],
    }, dir);
    const state = openStateDb(cfg.stateDb);
    t.after(() => state.close());
    const vacuum = createVacuum(cfg, { state, now: () => now });

    // What the policy says must go, computed from the data itself.
    const limit = (cls: string) => (cls === 'person' ? 45 : 30) * DAY;
    const expectGone = before.filter((r) => !r.pinned && r.ts < now - limit(r.cls));
    const supBefore = supRows(join(dir, 'edgevisor.db'));
    const supGone = supBefore.filter((r) => r.ts < now - 90 * DAY);
    const snapsBefore = listing(join(data, 'snapshots'));
    const logsBefore = listing(join(dir, 'logs'));

    const dry = await vacuum.run({ dryRun: true });
    assert.equal(dry.ok, true, JSON.stringify(dry.error));
    // Nothing deleted, nothing written into the files (no journal table either).
    assert.deepEqual(readEvents(join(data, 'events.db')), before);
    assert.deepEqual(listing(join(data, 'snapshots')), snapsBefore);
    assert.deepEqual(listing(join(dir, 'logs')), logsBefore);
    assert.equal(supRows(join(dir, 'edgevisor.db')).length, supBefore.length);
    assert.equal(journalSize(join(data, 'events.db')), 0);

    const real = await vacuum.run();
    assert.equal(real.ok, true, JSON.stringify(real.error));
    assert.deepEqual(real.deleted, dry.deleted, 'the dry run reports what the real run deletes, by kind, reason, count and bytes');
    assert.equal(real.repairedRows, dry.repairedRows);

    const byKey = Object.fromEntries(real.deleted.map((d) => [`${d.kind}/${d.reason}`, d]));
    assert.equal(byKey['safety_events/retention']!.count, expectGone.length);
    assert.equal(byKey['safety_snapshots/retention']!.count, expectGone.length);
    assert.equal(byKey['safety_snapshots/retention']!.bytes, expectGone.length * statSync(join(data, 'snapshots', before.at(-1)!.snapshot!)).blocks * 512);
    assert.equal(byKey['safety_snapshots/orphan']!.count, 5);
    assert.equal(byKey['supervisor_events/retention']!.count, supGone.length);
    assert.deepEqual(listing(join(dir, 'logs')), ['app-1.log', 'app-10.log', 'app-13.log', 'app-3.log', 'keep.txt']);
    assert.equal(byKey['app_logs/retention']!.count, 3);
    assert.equal(real.repairedRows, 3);

    const after = readEvents(join(data, 'events.db'));
    const goneIds = new Set(expectGone.map((r) => r.id));
    assert.deepEqual(after.map((r) => r.id), before.filter((r) => !goneIds.has(r.id)).map((r) => r.id));
    // Every pinned event is still there, whatever its age (the oldest is 60 days old).
    assert.deepEqual(after.filter((r) => r.pinned).map((r) => r.id), before.filter((r) => r.pinned).map((r) => r.id));
    assert.ok(after.some((r) => r.pinned && r.ts < now - 50 * DAY));
    // Per class: no unpinned person older than 45 days, none other older than 30; persons of 35 days kept.
    assert.equal(after.filter((r) => !r.pinned && r.ts < now - limit(r.cls)).length, 0);
    assert.ok(after.some((r) => r.cls === 'person' && r.ts < now - 35 * DAY));
    // The lost files: rows kept, marked.
    for (const r of lost) {
      const row = after.find((x) => x.id === r.id)!;
      assert.equal(row.snapshot, null);
      assert.match(row.snapshot_error!, /missing/);
    }
    const inc = inconsistencies(data);
    assert.deepEqual(inc.rowsWithoutFile, []);
    assert.deepEqual(inc.filesWithoutRow.sort(), ['orphan-5.jpg', 'orphan-6.jpg'], 'only the fresh orphans (inside the grace) are left');
    assert.equal(journalSize(join(data, 'events.db')), 0);
    const sup = supRows(join(dir, 'edgevisor.db'));
    assert.equal(sup.length, supBefore.length - supGone.length);
    assert.ok(sup.every((r) => r.ts >= now - 90 * DAY));
    // The technician's view: one event per run, with the words.
    const evs = state.events(0, 100);
    assert.equal(evs.filter((e) => e.type === 'run').length, 2);
    assert.match(evs.at(-1)!.message, new RegExp(`deleted .*${expectGone.length} safety events \\(retention`));
    assert.doesNotMatch(JSON.stringify(evs), new RegExp(dir.replace(/[/]/g, '\\/')), 'no server path in events');

    // A second run finds nothing left to do.
    const again = await vacuum.run();
    assert.deepEqual(again.deleted, []);
  });

  test('the newest-N floor is kept even when every event is past its retention', async (t) => {
    const dir = setup(t);
    const now = Date.now();
    // 2000 events, all between 100 and 40 days old.
    const ids = fillSafetyEvents(dir, { count: 2000, now: now - 40 * DAY, spanDays: 60 });
    const cfg = vacuumConfig({
      volumes: [{ name: 'data', path: '.' }],
      state_db: 'state/vacuum.db',
      safety_events: { volume: 'data', db: 'events.db', snapshots: 'snapshots', retention_days: 30, keep_newest: 500 },
    }, dir);
    const state = openStateDb(cfg.stateDb);
    t.after(() => state.close());
    const vacuum = createVacuum(cfg, { state, now: () => now });
    const dry = await vacuum.run({ dryRun: true });
    const real = await vacuum.run();
    assert.deepEqual(real.deleted, dry.deleted);
    assert.deepEqual(readEvents(join(dir, 'events.db')).map((r) => r.id), ids.slice(-500));
    assert.deepEqual(inconsistencies(dir), { rowsWithoutFile: [], filesWithoutRow: [] });
  });

  test('an event pinned while its batch is being deleted is kept, with its snapshot', async (t) => {
    const dir = setup(t);
    const now = Date.now();
    const ids = fillSafetyEvents(dir, { count: 1000, now, spanDays: 60 });
    const cfg = vacuumConfig({
      volumes: [{ name: 'data', path: '.' }], state_db: 'state/vacuum.db', batch_size: 100,
      safety_events: { volume: 'data', db: 'events.db', snapshots: 'snapshots', retention_days: 30, keep_newest: 0 },
    }, dir);
    const state = openStateDb(cfg.stateDb);
    t.after(() => state.close());
    // An operator pins the 3rd event of the 2nd batch after the vacuum selected it (through the
    // inference app's store, on its own connection), just before the DELETE.
    let batches = 0;
    let pinnedId = 0;
    const beforeDelete = (batch: readonly number[]) => {
      if (++batches !== 2) return;
      pinnedId = batch[2]!;
      const store = openEventStore(join(dir, 'events.db'));
      store.setPinned(pinnedId, true);
      store.close();
    };
    const before = readEvents(join(dir, 'events.db'));
    const report = await createVacuum(cfg, { state, now: () => now, beforeDelete }).run();
    assert.equal(report.ok, true, JSON.stringify(report.error));
    const after = readEvents(join(dir, 'events.db'));
    const row = after.find((r) => r.id === pinnedId);
    assert.ok(row && row.pinned === 1, 'the event pinned mid-run is still there');
    assert.ok(statSync(join(dir, 'snapshots', row.snapshot!)).isFile(), 'with its snapshot');
    const old = before.filter((r) => r.ts < now - 30 * DAY);
    assert.equal(report.deleted.find((d) => d.kind === 'safety_events')!.count, old.length - 1);
    assert.deepEqual(after.map((r) => r.id), ids.filter((id) => id === pinnedId || !old.some((o) => o.id === id)));
    assert.deepEqual(inconsistencies(dir), { rowsWithoutFile: [], filesWithoutRow: [] });
  });
});
