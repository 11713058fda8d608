import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FramePairer, RawFrameAssembler } from '../../apps/camera/src/sources/raw-frames.ts';
import { detectGeometry } from '../../apps/camera/src/detect-frame.ts';
import { ffmpegArgs } from '../../apps/camera/src/sources/rtsp.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { letterboxFor } from '../../apps/inference/src/model/preprocess.ts';

describe('raw frame assembly', () => {
  test('frames are cut by byte count across any chunking, each a fresh buffer', () => {
    const frames: Buffer[] = [];
    const a = new RawFrameAssembler(6, (f) => frames.push(f));
    const stream = Uint8Array.from({ length: 20 }, (_, i) => i);
    const view = Buffer.alloc(7);
    // Chunks of 1, 7, 5 and 7 bytes, passed as one reused (borrowed) view, as the byte channel does.
    let off = 0;
    for (const n of [1, 7, 5, 7]) {
      view.set(stream.subarray(off, off + n));
      a.push(view.subarray(0, n));
      view.fill(255);
      off += n;
    }
    assert.deepEqual(frames.map((f) => [...f]), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17]]);
    a.push(Uint8Array.from([20, 21, 22, 23]));
    assert.deepEqual([...frames[3]!], [18, 19, 20, 21, 22, 23], 'the partial frame was kept');
  });

  test('as a read target, reads land in the frame itself and a full frame is handed over', () => {
    const frames: Buffer[] = [];
    const a = new RawFrameAssembler(6, (f) => frames.push(f));
    const first = a.next();
    assert.equal(first.length, 6);
    first.set([1, 2, 3, 4]);
    a.wrote(4);
    const rest = a.next();
    assert.equal(rest.length, 2, 'only the unfilled rest is offered');
    rest.set([5, 6]);
    a.wrote(2);
    assert.deepEqual(frames.map((f) => [...f]), [[1, 2, 3, 4, 5, 6]]);
    const next = a.next();
    assert.equal(next.length, 6, 'a fresh frame buffer for the next one');
    next.fill(9);
    assert.deepEqual([...frames[0]!], [1, 2, 3, 4, 5, 6], 'the handed-over frame is not written again');
  });

  test('pairing follows arrival order; a side far ahead loses its oldest frames', () => {
    const pairs: string[] = [];
    const drops: string[] = [];
    const p = new FramePairer<string, number>((a, b) => pairs.push(`${a}${b}`), (m) => drops.push(m));
    p.pushA('a'); p.pushB(1); p.pushB(2); p.pushA('b');
    assert.deepEqual(pairs, ['a1', 'b2']);
    for (let i = 3; i <= 8; i++) p.pushB(i);
    assert.equal(drops.length, 2);
    p.pushA('c');
    assert.deepEqual(pairs.at(-1), 'c5', 'the two oldest raw frames (3, 4) were dropped');
  });
});

describe('detect geometry', () => {
  test('letterbox: aspect kept, centred, same arithmetic as the inference side', () => {
    assert.deepEqual(detectGeometry(640, 360, { width: 320, height: 320 }), {
      width: 320, height: 320, frameWidth: 640, frameHeight: 360, scale: 0.5, pictureWidth: 320, pictureHeight: 180, padX: 0, padY: 70,
    });
    for (const [fw, fh, w, h] of [[640, 480, 320, 320], [1280, 720, 640, 640], [480, 640, 320, 320], [333, 211, 320, 256]] as const) {
      const g = detectGeometry(fw, fh, { width: w, height: h });
      const lb = letterboxFor(fw, fh, w, h);
      assert.deepEqual([g.scale, g.padX, g.padY], [lb.scale, lb.padX, lb.padY], `${fw}x${fh} in ${w}x${h}`);
    }
  });

  test('ffmpeg: unchanged without detect; with detect one input, split, rgb24 on fd 3 with the exact letterbox', () => {
    const plain = ffmpegArgs('rtsp://x/s', 10, 640, 360);
    assert.deepEqual(plain.slice(plain.indexOf('-an')), ['-an', '-vf', 'fps=10,scale=640x360', '-f', 'image2pipe', '-flush_packets', '1', '-c:v', 'mjpeg', '-q:v', '5', '-']);
    const two = ffmpegArgs('rtsp://x/s', 10, 640, 360, { width: 320, height: 320 });
    assert.equal(two.filter((a) => a === '-i').length, 1, 'one input, one decode');
    const graph = two[two.indexOf('-filter_complex') + 1]!;
    assert.match(graph, /fps=10,scale=640x360,split=2/);
    assert.match(graph, /scale=320:180,format=rgb24,pad=320:320:0:70:black/);
    assert.deepEqual(two.slice(-8), ['[raw]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-flush_packets', '1', 'pipe:3']);
  });

  test('config: detect is optional, validated with a clear message', () => {
    const [cam] = parseCameras({ cameras: [{ id: 'a', source: { synthetic: {} }, detect: { width: 320, height: 320 } }] });
    assert.deepEqual(cam!.detect, { width: 320, height: 320 });
    assert.equal(parseCameras({ cameras: [{ id: 'b', source: { synthetic: {} } }] })[0]!.detect, undefined);
    assert.throws(() => parseCameras({ cameras: [{ id: 'c', source: { synthetic: {} }, detect: { width: 8, height: 320 } }] }), /integer 16\.\.1920/);
    assert.throws(() => parseCameras({ cameras: [{ id: 'c', source: { synthetic: {} }, detect: { width: 320, height: 320, depth: 3 } }] }));
  });
});
