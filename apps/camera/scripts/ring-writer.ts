/**
 * A frame ring writer as its own process, for tests and the inference bench: the reader then runs
 * against another process's writes, as it does against the camera controller.
 *
 *   node --import tsx apps/camera/scripts/ring-writer.ts PATH WIDTH HEIGHT MODE [ARG]
 *   MODE constant DURATION_MS: frames as fast as possible for DURATION_MS; every byte of frame
 *        `seq` is seq % 256 (a torn frame is visible in any byte); prints the last seq and exits.
 *   MODE frames FILE: frames from FILE (raw RGB24 frames back to back), one each time a line
 *        arrives on stdin (the reader's "ready for the next one"), until stdin ends.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createRingWriter } from '../src/frame-ring.ts';
import { detectGeometry } from '../src/detect-frame.ts';

const [path, w, h, mode, arg] = process.argv.slice(2);
const size = { width: Number(w), height: Number(h) };
if (!path || !Number.isInteger(size.width) || !Number.isInteger(size.height) || !['constant', 'frames'].includes(mode ?? '')) {
  console.error('usage: ring-writer.ts PATH WIDTH HEIGHT constant DURATION_MS | frames FILE');
  process.exit(2);
}
const geometry = detectGeometry(640, 480, size);
// RING_MMAP=0: write with pwrite even where the mmap helper exists (tests cover both writers).
const writer = createRingWriter(path, size, Number(process.env.RING_TOKEN ?? 1), undefined, { mmap: process.env.RING_MMAP !== '0' });
const bytes = size.width * size.height * 3;

if (mode === 'constant') {
  const until = Date.now() + Number(arg ?? 1000);
  const data = Buffer.alloc(bytes);
  let seq = 0;
  while (Date.now() < until) {
    seq++;
    data.fill(seq % 256);
    writer.write(seq, Date.now(), { data, geometry });
  }
  writer.close();
  console.log(String(seq));
} else {
  const all = readFileSync(arg!);
  const n = Math.floor(all.length / bytes);
  let seq = 0;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', () => {
    const i = seq % n;
    seq++;
    writer.write(seq, Date.now(), { data: all.subarray(i * bytes, (i + 1) * bytes), geometry });
    process.stdout.write(`${seq}\n`);
  });
  rl.on('close', () => writer.close());
  process.stdout.write('ready\n');
}
