// The buffered event log (supervisor/src/store/buffered-store.ts) over a real SQLite file whose
// writes are made to fail on demand (the disk-full cases through a real tmpfs are in
// test/integration/hardening-disk.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBufferedStore } from '../../supervisor/src/store/buffered-store.ts';
import { openEventStore } from '../../supervisor/src/store/sqlite-store.ts';
import type { EventStore } from '../../supervisor/src/store/types.ts';

const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** A real store whose appends throw SQLITE_FULL while `failing.on`. */
function flaky(failing: { on: boolean; open?: boolean }) {
  return (path: string): EventStore => {
    if (failing.open) throw full;
    const s = openEventStore(path);
    return { ...s, append: (d, seq) => (failing.on ? (() => { throw full; })() : s.append(d, seq)) };
  };
}

const ev = (i: number) => ({ type: 'manual' as const, child: 'x', reason: `e${i}` });

test('appends never throw; events wait in memory (bounded), are served, then written with their numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-buf-'));
  try {
    const failing = { on: false };
    const s = openBufferedStore(join(dir, 'e.db'), { open: flaky(failing), maxPending: 5, retryMs: 10_000 });
    const changes: boolean[] = [];
    s.onHealthChange((h) => changes.push(h.writable));
    s.append(ev(1));
    failing.on = true;
    for (let i = 2; i <= 9; i++) assert.equal(s.append(ev(i)).seq, i);
    assert.deepEqual(s.health(), { writable: false, pending: 5, dropped: 3, error: 'SQLITE_FULL' });
    assert.deepEqual(s.since(0, 100).map((e) => e.seq), [1, 5, 6, 7, 8, 9], 'the oldest pending were dropped, numbers are kept');
    assert.deepEqual(s.since(6, 2).map((e) => e.seq), [7, 8]);
    assert.equal(s.flush(), false);
    failing.on = false;
    assert.equal(s.flush(), true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(changes, [false, true]);
    s.close();
    const again = openEventStore(join(dir, 'e.db'));
    assert.deepEqual(again.since(0, 100).map((e) => [e.seq, e.reason]), [[1, 'e1'], [5, 'e5'], [6, 'e6'], [7, 'e7'], [8, 'e8'], [9, 'e9']]);
    assert.equal(again.append(ev(10)).seq, 10);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log that cannot be opened at start: numbering continues from its last seq, written once it opens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-buf-'));
  try {
    const path = join(dir, 'e.db');
    const first = openEventStore(path);
    for (let i = 1; i <= 3; i++) first.append(ev(i));
    first.close();
    const failing = { on: false, open: true };
    const s = openBufferedStore(path, { open: flaky(failing), retryMs: 10_000 });
    assert.equal(s.health().writable, false);
    assert.equal(s.append(ev(4)).seq, 4, 'the last seq was read from the file itself');
    failing.open = false;
    assert.equal(s.flush(), true);
    assert.deepEqual(s.since(0, 10).map((e) => e.seq), [1, 2, 3, 4]);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
