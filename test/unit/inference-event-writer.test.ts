import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { createEventWriter, describeWriteError, writeFileAtomic } from '../../apps/inference/src/events/writer.ts';

const event = (i: number) => ({ ts: 1000 + i, camera: 'cam1', zone: 'press', cls: 'person', score: 0.9, boxes: [], episodeStart: 900 + i });

test('the in-memory queue is bounded: overflow and shutdown count events as lost and say so loudly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'writer-'));
  mkdirSync(join(dir, 'snapshots'));
  const store = openEventStore(join(dir, 'events.db'));
  store.close(); // every insert now fails, as on a volume that went away
  const logs: string[] = [];
  const registry = new Registry();
  const w = createEventWriter({ store, snapDir: join(dir, 'snapshots'), registry, log: (l) => logs.push(l), maxPendingEvents: 3, retryMs: 60_000 });
  for (let i = 0; i < 5; i++) assert.equal(await w.record(event(i), Buffer.from('jpeg'), `e${i}.jpg`), undefined);
  assert.deepEqual({ pending: w.state().pendingEvents, lost: w.state().lost, writable: w.state().writable }, { pending: 3, lost: 2, writable: false });
  assert.equal(logs.filter((l) => l.includes('SAFETY EVENT LOST')).length, 2);
  await w.close();
  assert.equal(w.state().lost, 5);
  assert.ok(logs.some((l) => /stopping with 3 SAFETY EVENTS NOT STORED/.test(l)));
  assert.match(await registry.metrics(), /inference_events_lost_total\{app="[^"]*"\} 5|inference_events_lost_total 5/);
});

test('an atomic write that fails leaves nothing behind; stale temporary files of a killed run are removed at start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'writer-'));
  await assert.rejects(writeFileAtomic(join(dir, 'missing-dir', 'x.jpg'), Buffer.from('x')));
  writeFileSync(join(dir, 'a.jpg.tmp-123-deadbeef'), '');
  writeFileSync(join(dir, 'b.jpg'), 'x');
  const store = openEventStore(join(dir, 'events.db'));
  createEventWriter({ store, snapDir: dir });
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.jpg') || f.includes('.tmp-')), ['b.jpg']);
  store.close();
});

test('write errors are described without server paths', () => {
  const e = Object.assign(new Error("ENOSPC: no space left on device, open '/srv/data/snapshots/x.jpg'"), { code: 'ENOSPC' });
  assert.equal(describeWriteError(e), 'ENOSPC: no space left on device');
  const s = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  assert.equal(describeWriteError(s), 'database or disk is full (SQLITE_FULL)');
  assert.equal(describeWriteError(new Error('cannot open /srv/data/x')), 'cannot open <path>');
});
