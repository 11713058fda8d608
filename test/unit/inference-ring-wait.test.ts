// waitRingFrame (apps/inference/src/ring-wait.ts): the camera loop's wait for the next ring frame,
// on a real ring file: picks a frame up soon after it is published, does not spin while waiting,
// gives up after waitMs like the long-poll, and reports a replaced ring.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRingWriter, openRingReader, type RingReader } from '../../apps/camera/src/frame-ring.ts';
import { detectGeometry } from '../../apps/camera/src/detect-frame.ts';
import { waitRingFrame } from '../../apps/inference/src/ring-wait.ts';

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'ring-wait-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const size = { width: 16, height: 16 };
const frame = { data: Buffer.alloc(16 * 16 * 3, 7), geometry: detectGeometry(64, 48, size) };
const never = new AbortController().signal;

/** Counts the reader's header polls. */
function counting(r: RingReader): RingReader & { reads: number } {
  const c = Object.assign(Object.create(r) as RingReader, { reads: 0 });
  c.read = (after: number) => { c.reads++; return r.read(after); };
  return c as RingReader & { reads: number };
}

test('a frame published mid-wait is picked up promptly, with few polls before it', async () => {
  const path = join(dir, 'a.ring');
  const w = createRingWriter(path, size, 1);
  w.write(1, 1, frame);
  const r = counting(openRingReader(path, size));
  const t0 = performance.now();
  // The camera runs at 5 fps (200 ms); the next frame comes 200 ms after the last one we read.
  setTimeout(() => w.write(2, 2, frame), 200);
  const got = await waitRingFrame(r, { after: 1, lastReadAt: t0, intervalMs: 200, waitMs: 5000, signal: never });
  const took = performance.now() - t0;
  assert.ok(got && got !== 'replaced');
  assert.equal(got.seq, 2);
  assert.ok(took >= 190 && took < 1000, `took ${took.toFixed(0)} ms`);
  // Asleep for the first ~160 ms, then a poll every few ms: tens of reads, not thousands.
  assert.ok(r.reads < 40, `${r.reads} polls`);
  w.close();
});

test('no frame within waitMs: undefined (like the long-poll 204); a replaced ring: "replaced"', async () => {
  const path = join(dir, 'b.ring');
  const w = createRingWriter(path, size, 1);
  w.write(1, 1, frame);
  const r = openRingReader(path, size);
  const t0 = performance.now();
  assert.equal(await waitRingFrame(r, { after: 1, lastReadAt: t0, intervalMs: 100, waitMs: 300, signal: never }), undefined);
  assert.ok(performance.now() - t0 >= 290);
  createRingWriter(path, size, 1).close(); // the camera worker restarted
  assert.equal(await waitRingFrame(r, { after: 1, lastReadAt: undefined, intervalMs: 100, waitMs: 5000, signal: never }), 'replaced');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const r2 = openRingReader(path, size);
  assert.equal(await waitRingFrame(r2, { after: 0, lastReadAt: undefined, intervalMs: 100, waitMs: 5000, signal: ac.signal }), undefined, 'abort ends the wait');
  w.close();
});
