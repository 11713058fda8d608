import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogRing, MAX_LINE_BYTES } from '../../supervisor/src/backends/log-ring.ts';

describe('log ring', () => {
  test('keeps only the last `capacity` lines, oldest first, prefixed with the stream', () => {
    const ring = createLogRing(3);
    for (let i = 1; i <= 10; i++) ring.write(i % 2 ? 'stdout' : 'stderr', `line ${i}\n`);
    assert.deepEqual(ring.lines(), ['stderr| line 8', 'stdout| line 9', 'stderr| line 10']);
    assert.deepEqual(ring.lines(2), ['stdout| line 9', 'stderr| line 10']);
    assert.deepEqual(ring.lines(0), []);
    assert.equal(ring.total, 10);
  });

  test('joins lines split across chunks, per stream, and keeps partial lines until flush', () => {
    const ring = createLogRing(10);
    ring.write('stdout', 'hel');
    ring.write('stderr', 'err-a');
    ring.write('stdout', 'lo\nwor');
    ring.write('stderr', 'b\r\n');
    assert.deepEqual(ring.lines(), ['stdout| hello', 'stderr| err-ab']);
    ring.flush();
    assert.deepEqual(ring.lines(), ['stdout| hello', 'stderr| err-ab', 'stdout| wor']);
  });

  test('a multi-byte character split across chunks survives', () => {
    const ring = createLogRing(2);
    const bytes = Buffer.from('caméra ok\n', 'utf8');
    ring.write('stdout', bytes.subarray(0, 4)); // cuts "é" in half
    ring.write('stdout', bytes.subarray(4));
    assert.deepEqual(ring.lines(), ['stdout| caméra ok']);
  });

  test('truncates long lines at 4 KiB and never buffers more than that for one line', () => {
    const ring = createLogRing(5);
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 8; i++) ring.write('stdout', chunk); // 8 MiB without a newline
    ring.write('stdout', 'tail\nnext\n');
    const [long, next] = ring.lines();
    assert.equal(long, `stdout| ${'x'.repeat(MAX_LINE_BYTES)}…`);
    assert.equal(next, 'stdout| next');
  });

  test('notes are whole lines from edgevisor itself', () => {
    const ring = createLogRing(2);
    ring.note('started pid 42');
    ring.write('stdout', 'a\n');
    assert.deepEqual(ring.lines(), ['edgevisor| started pid 42', 'stdout| a']);
  });
});
