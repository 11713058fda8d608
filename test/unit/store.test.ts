import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../../supervisor/src/store/sqlite-store.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('sqlite event store', () => {
  test('creates the directory, numbers events from 1 and round-trips every field', (t) => {
    const path = join(tempDir(t), 'nested', 'deeper', 'events.db');
    const store = openEventStore(path);
    assert.ok(existsSync(path));
    const a = store.append({ type: 'transition', child: 'web', from: 'stopped', to: 'starting', reason: 'start', ts: 1234 });
    const b = store.append({ type: 'restart', child: 'web', reason: 'exit code 1', data: { cause: 'exit', exitCode: 1, nested: { a: [1, 2] } } });
    assert.equal(a.seq, 1);
    assert.equal(a.ts, 1234);
    assert.equal(b.seq, 2);
    assert.ok(Math.abs(b.ts - Date.now()) < 5_000, 'ts defaults to now');
    const all = store.since(0, 10);
    assert.deepEqual(all, [a, b]);
    // Absent optional fields stay absent (not null) so API output is clean.
    assert.equal('from' in all[1]!, false);
    assert.equal('data' in all[0]!, false);
    store.close();
  });

  test('seq continues after reopening the same file', (t) => {
    const path = join(tempDir(t), 'events.db');
    let store = openEventStore(path);
    for (let i = 0; i < 5; i++) store.append({ type: 'manual', child: 'web', reason: `r${i}` });
    assert.equal(store.lastSeq(), 5);
    store.close();
    store = openEventStore(path);
    assert.equal(store.lastSeq(), 5);
    const ev = store.append({ type: 'manual', child: 'web', reason: 'after reopen' });
    assert.equal(ev.seq, 6);
    assert.deepEqual(store.since(4, 10).map((e) => e.seq), [5, 6]);
    store.close();
  });

  test('since honours after and limit, oldest first', (t) => {
    const store = openEventStore(join(tempDir(t), 'e.db'));
    for (let i = 0; i < 20; i++) store.append({ type: 'probe', child: 'cam', reason: `p${i}` });
    assert.deepEqual(store.since(0, 3).map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual(store.since(17, 100).map((e) => e.seq), [18, 19, 20]);
    assert.deepEqual(store.since(20, 100), []);
    assert.deepEqual(store.since(5, 0), []);
    store.close();
  });

  test('retention keeps the newest events and seq still increases across reopen after pruning', (t) => {
    const path = join(tempDir(t), 'e.db');
    let store = openEventStore(path, { retainEvents: 10, pruneEvery: 4 });
    for (let i = 0; i < 50; i++) store.append({ type: 'probe', child: 'cam', reason: `p${i}` });
    const kept = store.since(0, 1000);
    // Pruning is amortised: between prunes up to pruneEvery-1 extra rows may linger.
    assert.ok(kept.length >= 10 && kept.length < 14, `kept ${kept.length}`);
    assert.equal(kept.at(-1)!.seq, 50);
    assert.ok(kept[0]!.seq > 36);
    store.close();
    // close() prunes exactly; a reopen continues the numbering even though rows 1..40 are gone.
    store = openEventStore(path, { retainEvents: 10 });
    assert.deepEqual(store.since(0, 1000).map((e) => e.seq), [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
    assert.equal(store.append({ type: 'manual', child: 'x', reason: 'y' }).seq, 51);
    store.close();
  });

  test('rejects a nonsensical retention and use after close', (t) => {
    assert.throws(() => openEventStore(join(tempDir(t), 'e.db'), { retainEvents: 0 }), /retainEvents/);
    const store = openEventStore(join(tempDir(t), 'f.db'));
    store.close();
    store.close(); // idempotent
    assert.throws(() => store.append({ type: 'manual', child: 'x', reason: 'y' }), /closed/);
  });
});
