// The safety event store: schema v2 (pins, events without snapshots, names not paths), filtered
// pages, and the migration of a version-1 file (absolute paths, no auto_vacuum) in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { parseEventsQuery } from '../../apps/inference/src/events/query.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ev-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const box = { x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.3, cls: 'person', score: 0.8 };

test('pins, filters newest first with a before cursor, and events stored without a snapshot', (t) => {
  const store = openEventStore(join(tempDir(t), 'events.db'));
  t.after(() => store.close());
  for (let i = 0; i < 10; i++) {
    store.append({ ts: 1000 + i, camera: i % 2 ? 'dock' : 'press', zone: 'z', cls: 'person', score: 0.9, boxes: [box], snapshot: i === 3 ? null : `s${i}.jpg`, snapshotError: i === 3 ? 'no space left on device' : null, episodeStart: 900 });
  }
  const dock = store.query({ camera: 'dock', limit: 3 });
  assert.deepEqual(dock.map((e) => e.id), [10, 8, 6]);
  assert.deepEqual(store.query({ camera: 'dock', before: 6, limit: 3 }).map((e) => e.id), [4, 2]);
  assert.deepEqual(store.query({ from: 1002, to: 1004 }).map((e) => e.id), [5, 4, 3]);
  const noSnap = store.get(4)!;
  assert.equal(noSnap.snapshot, null);
  assert.equal(noSnap.snapshotError, 'no space left on device');
  store.setSnapshot(4, 's3.jpg');
  assert.deepEqual([store.get(4)!.snapshot, store.get(4)!.snapshotError], ['s3.jpg', null]);
  assert.equal(store.setPinned(5, true)!.pinned, true);
  assert.equal(store.setPinned(999, true), undefined);
  assert.deepEqual(store.query({ pinned: true }).map((e) => e.id), [5]);
  assert.equal(store.setPinned(5, false)!.pinned, false);
});

test('a version-1 file is migrated: rows kept, snapshot paths become names, auto_vacuum incremental', (t) => {
  const path = join(tempDir(t), 'events.db');
  const v1 = new Database(path);
  v1.exec(`CREATE TABLE safety_events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, camera TEXT NOT NULL, zone TEXT NOT NULL, cls TEXT NOT NULL, score REAL NOT NULL, boxes TEXT NOT NULL, snapshot TEXT NOT NULL, episode_start INTEGER NOT NULL)`);
  v1.prepare('INSERT INTO safety_events (ts, camera, zone, cls, score, boxes, snapshot, episode_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(5, 'dock', 'lane', 'motion', 0.5, '[]', '/srv/data/snapshots/dock-lane-5.jpg', 1);
  v1.close();
  const store = openEventStore(path);
  const [ev] = store.since(0);
  assert.deepEqual([ev!.id, ev!.snapshot, ev!.pinned], [1, 'dock-lane-5.jpg', false]);
  assert.equal(store.append({ ts: 6, camera: 'dock', zone: 'lane', cls: 'motion', score: 0.5, boxes: [], snapshot: 'x.jpg', episodeStart: 1 }).id, 2);
  store.close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'INCREMENTAL');
  assert.equal(db.pragma('user_version', { simple: true }), 2);
  db.close();
});

test('query strings: modes, and bad values named with what is accepted', () => {
  assert.deepEqual(parseEventsQuery({}), { mode: 'since', since: 0, limit: 500 });
  assert.deepEqual(parseEventsQuery({ latest: '5' }), { mode: 'latest', latest: 5 });
  assert.deepEqual(parseEventsQuery({ camera: 'dock', pinned: 'true' }), { mode: 'filter', filter: { limit: 100, camera: 'dock', pinned: true } });
  for (const [q, field] of [[{ since: '9'.repeat(400) }, 'since'], [{ since: '99999999999999999999' }, 'since'], [{ latest: '0' }, 'latest'], [{ limit: '1e3' }, 'limit'], [{ before: '-1' }, 'before'], [{ pinned: 'yes' }, 'pinned'], [{ bogus: '1' }, 'bogus'], [{ since: '1', camera: 'x' }, 'since']] as const) {
    const r = parseEventsQuery(q as Record<string, string>);
    assert.ok('error' in r && r.error.startsWith(`${field}:`), JSON.stringify(r));
  }
});
