/**
 * The schedule (croner, every second here) with one run at a time: while a run is held (failpoint
 * in the middle of it), due runs are skipped, counted in vacuum_runs_skipped_total and recorded as
 * events; an on-demand run is refused with 409; bad queries get 400 with a stable code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../apps/vacuum/src/app.ts';
import type { VacuumEvent } from '../../apps/vacuum/src/state-db.ts';
import { waitFor } from '../helpers/net.ts';
import { fillSafetyEvents, vacuumConfig } from '../helpers/vacuum.ts';

test('due runs are skipped and counted while a run is going; POST /runs answers 409', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-sched-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  fillSafetyEvents(dir, { count: 1000, now: Date.now(), spanDays: 90 });
  const cfg = {
    ...vacuumConfig({
      schedule: '* * * * * *', run_at_start: false, tick: '1s', batch_size: 50, state_db: 'state/vacuum.db',
      volumes: [{ name: 'data', path: '.' }],
      safety_events: { volume: 'data', db: 'events.db', snapshots: 'snapshots', retention_days: 30 },
    }, dir),
    // The first scheduled run stops after its first batch and stays "running".
    failpoint: { kind: 'pause-after-rows' as const, batch: 1 },
  };
  const v = buildApp({ config: cfg, log: () => {} });
  t.after(() => v.close());
  const metric = async (name: string) => Number(new RegExp(`^${name}\\{app="vacuum"\\} (\\S+)$`, 'm').exec((await v.app.inject({ url: '/metrics' })).body)?.[1]);

  await waitFor('a scheduled run going', () => v.vacuum.isRunning(), 10_000);
  await waitFor('two due runs skipped', async () => (await metric('vacuum_runs_skipped_total')) >= 2, 15_000, 100);
  assert.equal(await metric('vacuum_running'), 1);
  assert.ok((await metric('vacuum_scheduler_alive_timestamp_seconds')) > Date.now() / 1000 - 5, 'the tick keeps going during a run');

  const busy = await v.app.inject({ method: 'POST', url: '/runs' });
  assert.equal(busy.statusCode, 409);
  assert.equal(busy.json().error.code, 'VACUUM_ERR_RUN_IN_PROGRESS');
  const events = (await v.app.inject({ url: '/events' })).json() as { events: VacuumEvent[] };
  const skipped = events.events.filter((e) => e.type === 'run_skipped');
  assert.ok(skipped.length >= 2);
  assert.match(skipped[0]!.message, /scheduled run skipped: the previous run was still going/);
  const status = (await v.app.inject({ url: '/status' })).json() as { running: boolean; skippedRuns: number; nextRunTs: number };
  assert.equal(status.running, true);
  assert.ok(status.skippedRuns >= 2 && status.nextRunTs > Date.now() - 1000);

  for (const url of ['/runs?dry_run=maybe', '/runs?force=1']) {
    const r = await v.app.inject({ method: 'POST', url });
    assert.equal(r.statusCode, 400, url);
    assert.equal(r.json().error.code, 'VACUUM_ERR_BAD_REQUEST');
  }
  assert.equal((await v.app.inject({ url: '/events?limit=0' })).statusCode, 400);
  assert.equal((await v.app.inject({ url: '/runs/99' })).json().error.code, 'VACUUM_ERR_UNKNOWN_RUN');
});
