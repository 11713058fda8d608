import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { JpegSplitter } from '../../apps/camera/src/sources/jpeg-splitter.ts';

/**
 * A fake JPEG of `n` body bytes: SOI, a body with byte-stuffed 0xFF (FF 00, as entropy-coded data
 * has) and no markers, EOI. Deterministic per seed.
 */
function jpeg(n: number, seed: number): Buffer {
  const body = Buffer.alloc(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    body[i] = (x >>> 16) & 0xff;
    if (body[i] === 0xff && i + 1 < n) body[++i] = 0x00;
    else if (body[i] === 0xff) body[i] = 0x12;
  }
  return Buffer.concat([Buffer.from([0xff, 0xd8]), body, Buffer.from([0xff, 0xd9])]);
}

function collect(max?: number) {
  const frames: Buffer[] = [];
  const garbage: string[] = [];
  const s = new JpegSplitter((f) => frames.push(Buffer.from(f)), (m) => garbage.push(m), max);
  return { s, frames, garbage };
}

/** Pushes `stream` cut at the given offsets. */
function pushCut(s: JpegSplitter, stream: Buffer, cuts: number[]): void {
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    if (c > from) s.push(Buffer.from(stream.subarray(from, c)));
    from = Math.max(from, c);
  }
}

describe('JpegSplitter', () => {
  const a = jpeg(300, 1), b = jpeg(50, 2), c = jpeg(1000, 3);
  const stream = Buffer.concat([a, b, c]);

  test('whole frames in one chunk come out as they are', () => {
    const { s, frames, garbage } = collect();
    s.push(Buffer.from(stream));
    assert.deepEqual(frames, [a, b, c]);
    assert.deepEqual(garbage, []);
  });

  test('every single cut point, including between FF and D8 / FF and D9 / FF and 00', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const { s, frames, garbage } = collect();
      pushCut(s, stream, [cut]);
      assert.deepEqual(frames, [a, b, c], `cut at ${cut}`);
      assert.deepEqual(garbage, [], `cut at ${cut}`);
    }
  });

  test('one byte per chunk', () => {
    const { s, frames } = collect();
    for (const byte of stream) s.push(Buffer.from([byte]));
    assert.deepEqual(frames, [a, b, c]);
  });

  test('the shortest frame FF D8 FF D9, split as FF D8 FF | D9', () => {
    const { s, frames } = collect();
    s.push(Buffer.from([0xff, 0xd8, 0xff]));
    s.push(Buffer.from([0xd9, 0xff, 0xd8, 0xff, 0xd9]));
    assert.deepEqual(frames, [Buffer.from([0xff, 0xd8, 0xff, 0xd9]), Buffer.from([0xff, 0xd8, 0xff, 0xd9])]);
  });

  test('garbage before and between frames is skipped and reported once per run with its size', () => {
    const junk = Buffer.from('not a jpeg, trailing 0xff: \xff', 'latin1');
    const input = Buffer.concat([junk, a, Buffer.from([1, 2, 3, 0xff]), b]);
    for (const cuts of [[], [junk.length - 1], [junk.length], [junk.length + a.length + 4], [5, 10, 15, junk.length + a.length + 2]]) {
      const { s, frames, garbage } = collect();
      pushCut(s, input, cuts);
      assert.deepEqual(frames, [a, b], `cuts ${cuts}`);
      assert.deepEqual(garbage, [`skipped ${junk.length} bytes before a JPEG start marker`, 'skipped 4 bytes before a JPEG start marker'], `cuts ${cuts}`);
    }
  });

  test('a frame larger than the maximum is dropped (also across chunks) and the next one comes through', () => {
    const huge = jpeg(5000, 4);
    for (const cuts of [[], [100, 2000, 4000], Array.from({ length: 60 }, (_, i) => i * 97)]) {
      const { s, frames, garbage } = collect(1024);
      pushCut(s, Buffer.concat([a, huge, b]), cuts.map((x) => x + a.length));
      assert.deepEqual(frames, [a, b], `cuts ${cuts.length}`);
      assert.match(garbage[0]!, /larger than 1024 bytes/);
      // The tail of the dropped frame is reported per 1024 bytes at most, not per chunk.
      assert.ok(garbage.length <= 5, `${garbage.length} reports: ${garbage.join(' | ')}`);
    }
  });

  test('an endless stream without an end marker never holds more than the maximum', () => {
    const { s, frames, garbage } = collect(4096);
    s.push(Buffer.from([0xff, 0xd8]));
    const chunk = Buffer.alloc(1000, 0x11);
    for (let i = 0; i < 100; i++) s.push(chunk);
    assert.equal(frames.length, 0);
    assert.match(garbage[0]!, /larger than 4096 bytes/);
    // After the drop, 100 kB without any marker are garbage, reported in bounded runs.
    assert.ok(garbage.length >= 2 && garbage.length <= 30, `${garbage.length} reports`);
    s.push(a);
    assert.deepEqual(frames, [a]);
  });

  test('a frame inside one chunk is handed out without copying; one spanning chunks is joined', () => {
    const got: Buffer[] = [];
    const s = new JpegSplitter((f) => got.push(f), () => undefined);
    const chunk = Buffer.concat([a, b.subarray(0, 10)]);
    s.push(chunk);
    s.push(Buffer.from(b.subarray(10)));
    assert.equal(got[0]!.buffer, chunk.buffer, 'a view of the chunk');
    assert.deepEqual(got, [a, b]);
  });
});
