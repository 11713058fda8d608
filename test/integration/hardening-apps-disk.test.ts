/**
 * Issue 16.3: a safety event is never lost silently when the data volume is full. DATA_DIR on a
 * real 3 MB tmpfs filled with dd; a real pipeline (the shipped motion model, synthetic frames of a
 * figure walking into the zone once per period) produces dwell events while the disk is full.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { renderSynthetic } from '../../apps/camera/src/sources/synthetic.ts';
import { loadConfig } from '../../apps/inference/src/config.ts';
import { buildInferenceApp, type InferenceApp } from '../../apps/inference/src/app.ts';
import { PERIOD_S, PRESS_ZONES } from '../helpers/zones.ts';
import { waitFor } from '../helpers/net.ts';

const metric = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : NaN;
};

/** Fills the filesystem of `dir` to the last byte (dd stops with ENOSPC); `leaveKb` free again after. */
function fill(dir: string, leaveKb = 0): void {
  if (leaveKb) writeFileSync(join(dir, 'reserve'), Buffer.alloc(leaveKb * 1024));
  spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill-big')}`, 'bs=64k'], { stdio: 'ignore' });
  spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill-small')}`, 'bs=512'], { stdio: 'ignore' });
  if (leaveKb) rmSync(join(dir, 'reserve'));
}

function unfill(dir: string): void {
  for (const f of ['fill-big', 'fill-small']) rmSync(join(dir, f), { force: true });
}

describe('inference on a full data volume (3 MB tmpfs)', () => {
  const outer = mkdtempSync(join(tmpdir(), 'hardening-disk-'));
  const mnt = join(outer, 'mnt');
  const dataDir = join(mnt, 'data');
  let inf: InferenceApp | undefined;
  let base = '';
  const logs: string[] = [];
  const t0 = 1_700_000_000_000 - (1_700_000_000_000 % (PERIOD_S * 1000));
  let frameNo = 0;

  /** One walk period of frames at 5 fps (virtual time): the figure enters the zone once. */
  const period = async (width = 320, height = 240) => {
    const events = [];
    for (let i = 0; i < PERIOD_S * 5; i++, frameNo++) {
      const ts = t0 + frameNo * 200;
      events.push(...(await inf!.pipeline.processFrame('cam1', await renderSynthetic(width, height, ts, PERIOD_S, 'cam1'), ts)).events);
    }
    return events;
  };
  const get = async (path: string) => {
    const r = await fetch(`${base}${path}`);
    return { status: r.status, text: await r.text() };
  };
  const snapshotFiles = () => readdirSync(join(dataDir, 'snapshots')).filter((f) => !f.startsWith('.'));

  before(async () => {
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    writeFileSync(join(outer, 'zones.yaml'), PRESS_ZONES);
    const cfg = loadConfig({ DATA_DIR: dataDir, ZONES_FILE: join(outer, 'zones.yaml'), CAMERAS: 'cam1', PORT: '0' });
    inf = await buildInferenceApp(cfg, { log: (l) => logs.push(l) });
    await inf.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(inf.app.server.address() as { port: number }).port}`;
  });
  after(async () => {
    await inf?.close();
    spawnSync('umount', [mnt]);
    rmSync(outer, { recursive: true, force: true });
  });

  test('events are kept (in the database without snapshot, or in memory), shown in /healthz and metrics, and all stored with their snapshots once space is freed', async () => {
    // A healthy start: one event, stored with its snapshot.
    const first = await period();
    assert.equal(first.length, 1, `log:\n${logs.join("\n")}`);
    assert.ok(first[0]!.snapshot && !first[0]!.snapshotError);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal(metric((await get('/metrics')).text, 'inference_data_writable'), 1);

    fill(mnt);
    const during = [];
    for (let p = 0; p < 3; p++) during.push(...(await period()));
    const m1 = (await get('/metrics')).text;
    const pending = metric(m1, 'inference_events_pending');
    // Three episodes happened while full: each is either stored without its snapshot (saying so)
    // or waiting in memory for the database; none is gone.
    assert.equal(during.length + pending, 3, `stored ${during.length} + pending ${pending}; log:\n${logs.join('\n')}`);
    for (const e of during) assert.match(e.snapshotError ?? '', /ENOSPC|no space/i);
    assert.equal(metric(m1, 'inference_data_writable'), 0);
    assert.equal(metric(m1, 'inference_events_lost_total'), 0);
    assert.ok(metric(m1, 'inference_data_write_errors_total') >= 1 || m1.includes('inference_data_write_errors_total{what="snapshot"}'));
    const health = await get('/healthz');
    assert.equal(health.status, 200, 'degraded, not failing: a restart would lose what is held in memory');
    const body = JSON.parse(health.text) as { status: string; checks: Record<string, { ok: boolean; warning?: string }> };
    assert.equal(body.status, 'degraded');
    assert.match(body.checks.data!.warning!, /data volume not writable \(ENOSPC: no space left on device\): \d+ safety events and 3 snapshots waiting in memory/);
    assert.ok(!health.text.includes(mnt), 'no server path in /healthz');
    assert.equal((await get('/healthz?strict=1')).status, 503);
    // Never a 0-byte or half-written JPEG, never a temporary file left behind.
    for (const f of snapshotFiles()) {
      assert.ok(!/\.tmp-/.test(f), `temporary file left: ${f}`);
      assert.ok(statSync(join(dataDir, 'snapshots', f)).size > 0, `0-byte snapshot ${f}`);
    }
    assert.equal(snapshotFiles().length, 1);
    // The API answers (the events stored so far) and shows why snapshots are missing.
    const listed = JSON.parse((await get('/events?since=0')).text) as { events: { snapshot: string | null; snapshotError: string | null }[] };
    assert.equal(listed.events.length, 1 + during.length);
    assert.ok(logs.some((l) => /cannot write a (snapshot|safety event)/.test(l)), logs.join('\n'));
    assert.ok(!logs.join('\n').includes(mnt), 'no server path in the log lines');

    // Space comes back: everything held is written by itself, in order, with its snapshot.
    unfill(mnt);
    await waitFor('/healthz ok again', async () => JSON.parse((await get('/healthz')).text).status === 'ok', 60_000, 200);
    const m2 = (await get('/metrics')).text;
    assert.equal(metric(m2, 'inference_data_writable'), 1);
    assert.equal(metric(m2, 'inference_events_pending'), 0);
    assert.equal(metric(m2, 'inference_snapshots_pending'), 0);
    const db = new Database(join(dataDir, 'events.db'), { readonly: true });
    const rows = db.prepare('SELECT * FROM safety_events ORDER BY id').all() as { ts: number; snapshot: string | null; snapshot_error: string | null }[];
    assert.equal((db.pragma('integrity_check', { simple: true }) as string), 'ok');
    db.close();
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((r) => r.ts), [...rows.map((r) => r.ts)].sort((a, b) => a - b), 'stored in the order they happened');
    for (const r of rows) {
      assert.ok(r.snapshot && r.snapshot_error === null, JSON.stringify(r));
      const meta = await sharp(join(dataDir, 'snapshots', r.snapshot)).metadata();
      assert.equal(meta.format, 'jpeg');
    }
    // And the pipeline goes on normally.
    const afterwards = await period();
    assert.equal(afterwards.length, 1);
    assert.ok(existsSync(join(dataDir, 'snapshots', afterwards[0]!.snapshot!)));
  });

  test('nearly full (room for a database row, not for a JPEG): the event is stored at once without its snapshot, saying why; the snapshot follows later', async () => {
    const before = JSON.parse((await get('/events?since=0')).text) as { events: { id: number }[] };
    // Large frames: the snapshot (~28 KB) cannot fit in what is left; a row (a few pages) can.
    fill(mnt, 16);
    const got = await period(1920, 1080);
    const m = (await get('/metrics')).text;
    console.log(`# nearly full: stored ${got.length}, pending ${metric(m, 'inference_events_pending')}, snapshots pending ${metric(m, 'inference_snapshots_pending')}`);
    assert.equal(got.length, 1, 'stored in the database at once');
    assert.equal(got[0]!.snapshot, null);
    assert.match(got[0]!.snapshotError!, /ENOSPC: no space left on device/);
    const api = JSON.parse((await get(`/events?since=${before.events.at(-1)!.id}`)).text) as { events: { snapshot: string | null; snapshotError: string }[] };
    assert.equal(api.events[0]!.snapshot, null);
    assert.match(api.events[0]!.snapshotError, /ENOSPC/);
    assert.equal((await get(`/events/${got[0]!.id}/snapshot.jpg`)).status, 404);
    for (const f of snapshotFiles()) assert.ok(!/\.tmp-/.test(f) && statSync(join(dataDir, 'snapshots', f)).size > 0, f);
    unfill(mnt);
    await waitFor('the snapshot written later', async () => (await get(`/events/${got[0]!.id}/snapshot.jpg`)).status === 200, 60_000, 200);
    const ev = JSON.parse((await get(`/events?since=${got[0]!.id - 1}&limit=1`)).text) as { events: { snapshot: string | null; snapshotError: string | null }[] };
    assert.ok(ev.events[0]!.snapshot && ev.events[0]!.snapshotError === null);
    await waitFor('/healthz ok again', async () => JSON.parse((await get('/healthz')).text).status === 'ok', 60_000, 200);
  });
});
