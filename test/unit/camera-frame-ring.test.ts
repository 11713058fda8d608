// The frame ring (apps/camera/src/frame-ring.ts): a real file on /dev/shm (or tmp), a real writer
// process racing the reader, a real camera controller whose worker restarts.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRingWriter, openRingReader, ringPath, RingMismatchError, RING_SLOTS } from '../../apps/camera/src/frame-ring.ts';
import { detectGeometry } from '../../apps/camera/src/detect-frame.ts';
import { shmAddon } from '../../apps/camera/src/shm-map.ts';
import { buildCameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { waitFor } from '../helpers/net.ts';

const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(base, 'ring-test-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const size = { width: 32, height: 24 };
const frame = (value: number, g = detectGeometry(640, 360, size)) => ({ data: Buffer.alloc(size.width * size.height * 3, value), geometry: g });

// Both ways a reader takes frames: memory-mapped (the native helper, x64) and pread (the fallback).
// In CI the helper must exist (.ci/run builds it with EDGEVISOR_REQUIRE_NATIVE=1), so the mmap
// variants never skip there.
const mmapMissing = shmAddon() ? false : process.env.CI ? false : 'apps/camera/native/build/shm.node not built (no C compiler at npm ci?)';
const accesses = [{ access: 'mmap' as const, writer: 'mmap' as const, mmap: true, skip: mmapMissing }, { access: 'pread' as const, writer: 'pwrite' as const, mmap: false, skip: false }];

describe('frame ring', () => {
  for (const { access, writer, mmap, skip } of accesses) test(`round trip (${writer} -> ${access}): newest frame with its seq, ts and letterbox; nothing newer -> undefined`, { skip }, () => {
    const path = join(tempDir(), 'cam.ring');
    const w = createRingWriter(path, size, 42, undefined, { mmap });
    assert.equal(w.access, writer);
    const r = openRingReader(path, { ...size, token: 42 }, { mmap });
    assert.equal(r.access, access);
    assert.equal(r.read(-1), undefined, 'an empty ring has no frame');
    const g = detectGeometry(640, 360, size);
    for (let seq = 1; seq <= 5; seq++) w.write(seq, 1_700_000_000_000 + seq, frame(seq * 10, g));
    const f = r.read(-1);
    assert.ok(f);
    assert.equal(f.seq, 5, 'the newest, not the oldest');
    assert.equal(f.ts, 1_700_000_000_005);
    assert.deepEqual(f.geometry, g);
    assert.ok(f.data.every((b) => b === 50));
    assert.equal(r.read(5), undefined);
    assert.equal(r.latestSeq(), 5);
    w.write(6, 1, frame(60));
    assert.equal(r.read(5)?.seq, 6);
    w.close();
    r.close();
  });

  test('a reader refuses a ring of another size, another writer, or not a ring; ENOENT when absent', () => {
    const dir = tempDir();
    const path = join(dir, 'cam.ring');
    createRingWriter(path, size, 7).close();
    assert.throws(() => openRingReader(path, { width: 320, height: 320 }), (e: Error) => e instanceof RingMismatchError && /32x24 frames, expected 320x320/.test(e.message));
    assert.throws(() => openRingReader(path, { ...size, token: 8 }), RingMismatchError);
    writeFileSync(join(dir, 'junk.ring'), Buffer.alloc(200));
    assert.throws(() => openRingReader(join(dir, 'junk.ring'), size), /not a frame ring/);
    assert.throws(() => openRingReader(join(dir, 'none.ring'), size), { code: 'ENOENT' });
  });

  test('replacement is atomic and visible: a new ring is a new inode, the old reader says replaced()', () => {
    const path = join(tempDir(), 'cam.ring');
    const w1 = createRingWriter(path, size, 1);
    w1.write(1, 1, frame(1));
    const r = openRingReader(path, size);
    assert.equal(r.replaced(), false);
    const ino = statSync(path).ino;
    const w2 = createRingWriter(path, size, 1);
    assert.notEqual(statSync(path).ino, ino);
    assert.equal(r.replaced(), true);
    // The new ring is complete from the start (sized, header written), with no frame yet.
    assert.equal(openRingReader(path, size).read(-1), undefined);
    renameSync(path, `${path}.gone`);
    assert.equal(r.replaced(), true);
    w1.close();
    w2.close();
    r.close();
  });

  for (const { access, writer, mmap, skip } of accesses) test(`a reader (${access}) racing a writer process (${writer}) that laps the ring never gets a torn frame`, { skip }, async () => {
    const big = { width: 320, height: 320 };
    const path = join(tempDir(), 'race.ring');
    createRingWriter(path, big, 1).close();
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/camera/scripts/ring-writer.ts', path, '320', '320', 'constant', '3000'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RING_MMAP: mmap ? '1' : '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => child.once('exit', res));
    // Wait for the writer's own ring (it replaces ours), then read as fast as we can.
    await waitFor('writer ring', () => { try { return openRingReader(path, big).latestSeq() > 0; } catch { return false; } }, 15_000, 20);
    const r = openRingReader(path, big, { mmap });
    assert.equal(r.access, access);
    let last = 0;
    let reads = 0;
    let maxGap = 0;
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      const f = r.read(last);
      if (!f) continue;
      const v = f.seq % 256;
      for (let i = 0; i < f.data.length; i++) if (f.data[i] !== v) assert.fail(`frame ${f.seq}: byte ${i} is ${f.data[i]}, expected ${v} (torn)`);
      assert.ok(f.seq > last, 'seq only increases');
      maxGap = Math.max(maxGap, f.seq - last);
      last = f.seq;
      reads++;
    }
    r.close();
    assert.equal(await exited, 0);
    const written = Number(out.trim());
    assert.ok(reads >= 20, `read ${reads} frames`);
    assert.ok(maxGap > RING_SLOTS, `the writer lapped the ring while we read (largest seq gap ${maxGap}, ${written} frames written)`);
  });

  test('a camera worker restart replaces the ring; a reopened reader continues with newer seqs', async () => {
    const dir = tempDir();
    const cam = buildCameraApp({
      cameras: parseCameras({ cameras: [{ id: 'cam1', source: { synthetic: {} }, fps: 10, width: 320, height: 240, detect: { width: 64, height: 64 }, heartbeat_timeout_ms: 1000 }] }),
      failpoint: { kind: 'hang', camera: 'cam1', afterFrames: 5 },
      frames: { dir, log: () => {} },
    });
    await cam.start();
    try {
      const path = ringPath(dir, 'cam1');
      await waitFor('first frames in the ring', () => { try { return openRingReader(path, { width: 64, height: 64 }).latestSeq() >= 3; } catch { return false; } }, 15_000, 50);
      const r = openRingReader(path, { width: 64, height: 64 });
      const first = r.read(-1)!;
      assert.equal(first.geometry.frameWidth, 320);
      assert.equal(first.geometry.padY, 8, '320x240 letterboxed into 64x64: 64x48 centred');
      await waitFor('the worker to be restarted', () => r.replaced(), 20_000, 50);
      r.close();
      const r2 = openRingReader(path, { width: 64, height: 64 });
      await waitFor('frames of the new run', () => (r2.read(first.seq)?.seq ?? 0) > first.seq, 15_000, 50);
      assert.ok(cam.cameras.get('cam1')!.runs >= 2);
      r2.close();
    } finally {
      await cam.stop();
    }
    assert.ok(existsSync(dir), 'a directory given by the operator is not removed');
  });
});
