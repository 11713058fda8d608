// auto_vacuum=INCREMENTAL where the databases are created (the inference app's events.db, the
// supervisor's event log), and the one-time migration of a supervisor log created without it:
// without it the vacuum's incremental_vacuum gives nothing back to the filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openEventStore as openSafetyStore } from '../../apps/inference/src/events/store.ts';
import { openEventStore as openSupervisorStore } from '../../supervisor/src/store/sqlite-store.ts';

const autoVacuum = (path: string) => {
  const db = new Database(path, { readonly: true });
  try { return db.pragma('auto_vacuum', { simple: true }); } finally { db.close(); }
};

test('new events.db and new supervisor log are created with auto_vacuum=INCREMENTAL (2)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-av-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  openSafetyStore(join(dir, 'events.db')).close();
  openSupervisorStore(join(dir, 'edgevisor.db')).close();
  assert.equal(autoVacuum(join(dir, 'events.db')), 2);
  assert.equal(autoVacuum(join(dir, 'edgevisor.db')), 2);
});

test('a supervisor log created without auto_vacuum is migrated at open, its events and seq kept', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-av-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'old.db');
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, type TEXT NOT NULL, child TEXT NOT NULL, from_state TEXT, to_state TEXT, reason TEXT NOT NULL, data TEXT)');
  const ins = old.prepare("INSERT INTO events VALUES (?, ?, 'transition', 'cam', NULL, NULL, 'r', NULL)");
  for (let i = 1; i <= 2000; i++) ins.run(i, i);
  old.close();
  assert.equal(autoVacuum(path), 0);
  const store = openSupervisorStore(path);
  assert.equal(store.lastSeq(), 2000);
  assert.equal(store.append({ type: 'transition', child: 'cam', reason: 'x' } as never).seq, 2001);
  assert.equal(store.since(0, 5000).length, 2001);
  store.close();
  assert.equal(autoVacuum(path), 2);
});
