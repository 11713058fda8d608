/**
 * The disk watermark on a small real filesystem: an 8 MB tmpfs (mounted by the test; the test
 * machine runs as root) filled with events and snapshots until nearly full. The vacuum deletes
 * the oldest first until floor + margin is free, keeps pinned events and the newest-N floor, and
 * raises an alarm when only those are left and the disk is still full. Driven through the real
 * HTTP API (fastify inject) so /metrics and /events are checked too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { buildApp } from '../../apps/vacuum/src/app.ts';
import type { RunReport } from '../../apps/vacuum/src/report.ts';
import type { VacuumEvent } from '../../apps/vacuum/src/state-db.ts';
import { fillSafetyEvents, inconsistencies, readEvents, vacuumConfig } from '../helpers/vacuum.ts';

const free = (p: string) => { const s = statfsSync(p); return s.bavail * s.bsize; };
const FLOOR = 3_000_000;

describe('vacuum disk watermark (tmpfs of 8 MB)', () => {
  test('deletes oldest first to floor + margin, keeps pins and the newest 300; alarms when only those are left', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'vacuum-wm-'));
    const vol = join(root, 'vol');
    mkdirSync(vol);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', vol], { timeout: 10_000 });
    t.after(() => {
      try { execFileSync('umount', [vol], { timeout: 10_000 }); } catch { execFileSync('umount', ['-l', vol], { timeout: 10_000 }); }
      rmSync(root, { recursive: true, force: true });
    });
    const now = Date.now();
    // 1500 events with 4 KiB snapshots over 10 days, every 100th pinned: about 6.5 MB of 8.
    const ids = fillSafetyEvents(vol, { count: 1500, now, spanDays: 10, snapshotBytes: 4096, pinEvery: 100 });
    assert.ok(free(vol) < FLOOR, `filled until nearly full: ${free(vol)} bytes free`);

    const cfg = vacuumConfig({
      volumes: [{ name: 'box', path: vol, watermark: { min_free_bytes: FLOOR, margin_bytes: 500_000 } }],
      state_db: join(root, 'state', 'vacuum.db'),
      batch_size: 100,
      safety_events: { volume: 'box', db: join(vol, 'events.db'), snapshots: join(vol, 'snapshots'), retention_days: null, keep_newest: 300 },
    }, root);
    const v = buildApp({ config: cfg, schedule: false, log: () => {} });
    t.after(() => v.close());
    const run = async (dry: boolean) => {
      const r = await v.app.inject({ method: 'POST', url: `/runs${dry ? '?dry_run=1' : ''}` });
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as RunReport;
    };

    const before = readEvents(join(vol, 'events.db'));
    const dry = await run(true);
    assert.deepEqual(readEvents(join(vol, 'events.db')), before, 'the dry run deleted nothing');
    const real = await run(false);
    assert.deepEqual(real.deleted, dry.deleted, 'dry run = real run');
    const wm = real.deleted.find((d) => d.kind === 'safety_events' && d.reason === 'watermark')!;
    assert.ok(wm.count > 100, `deleted ${wm.count} for space`);
    assert.equal(real.volumes[0]!.watermark, 'cleaned');
    assert.ok(free(vol) >= FLOOR, `after the run ${free(vol)} bytes are free, floor ${FLOOR}`);

    const after = readEvents(join(vol, 'events.db'));
    const kept = new Set(after.map((r) => r.id));
    const deleted = ids.filter((id) => !kept.has(id));
    assert.equal(deleted.length, wm.count);
    // Oldest first: every unpinned survivor is newer than every deleted event.
    const oldestUnpinnedKept = Math.min(...after.filter((r) => !r.pinned).map((r) => r.id));
    assert.ok(Math.max(...deleted) < oldestUnpinnedKept);
    assert.deepEqual(after.filter((r) => r.pinned).map((r) => r.id), before.filter((r) => r.pinned).map((r) => r.id));
    assert.ok(ids.slice(-300).every((id) => kept.has(id)), 'the newest 300 are kept');
    assert.deepEqual(inconsistencies(vol), { rowsWithoutFile: [], filesWithoutRow: [] });

    // An operator pins the older half of what is left for an investigation, and something else
    // fills the disk: deleting every deletable event is not enough any more.
    const store = openEventStore(join(vol, 'events.db'));
    const deletable = after.filter((r) => !r.pinned && !ids.slice(-300).includes(r.id));
    for (const r of deletable.slice(0, deletable.length / 2)) store.setPinned(r.id, true);
    store.close();
    const pinnedNow = readEvents(join(vol, 'events.db')).filter((r) => r.pinned).map((r) => r.id);
    writeFileSync(join(vol, 'other-app.bin'), Buffer.alloc(Math.max(0, free(vol) - 200_000)));
    const full = await run(false);
    assert.equal(full.volumes[0]!.watermark, 'exhausted');
    assert.equal(full.alarms.length, 1);
    const left = readEvents(join(vol, 'events.db'));
    assert.deepEqual(left.filter((r) => !r.pinned).map((r) => r.id), ids.slice(-300).filter((id) => !pinnedNow.includes(id)), 'only pinned and the newest 300 are left');
    assert.deepEqual(left.filter((r) => r.pinned).map((r) => r.id), pinnedNow);
    assert.deepEqual(inconsistencies(vol), { rowsWithoutFile: [], filesWithoutRow: [] });

    const metrics = (await v.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^vacuum_alarm\{volume="box",app="vacuum"\} 1$/m);
    assert.match(metrics, /^vacuum_deleted_items_total\{kind="safety_events",reason="watermark",app="vacuum"\} \d+$/m);
    assert.match(metrics, /^vacuum_volume_free_bytes\{volume="box",app="vacuum"\} \d+$/m);
    assert.match(metrics, /^vacuum_last_success_timestamp_seconds\{app="vacuum"\} [1-9]/m);
    const events = ((await v.app.inject({ url: '/events' })).json() as { events: VacuumEvent[] }).events;
    const types = events.map((e) => e.type);
    assert.deepEqual(types.filter((x) => x !== 'run'), ['watermark', 'watermark', 'alarm']);
    assert.match(events.find((e) => e.type === 'watermark')!.message, /volume box had .* free, below its floor of 3\.0 MB: deleted the \d+ oldest safety events/);
    assert.match(events.find((e) => e.type === 'alarm')!.message, /only pinned events and the newest 300 are left/);
    assert.doesNotMatch(JSON.stringify(events), new RegExp(root), 'no server path in events');
    // The next run with space freed by hand clears the alarm.
    rmSync(join(vol, 'other-app.bin'));
    await run(false);
    assert.match((await v.app.inject({ url: '/metrics' })).body, /^vacuum_alarm\{volume="box",app="vacuum"\} 0$/m);
  });
});
