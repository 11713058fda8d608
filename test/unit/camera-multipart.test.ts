import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { boundaryOf, MultipartParser } from '../../apps/camera/src/sources/multipart.ts';

function collect(boundary: string, max?: number) {
  const parts: Array<{ body: string; headers: Record<string, string> }> = [];
  const garbage: string[] = [];
  const p = new MultipartParser(boundary, (body, headers) => parts.push({ body: body.toString('latin1'), headers }), (m) => garbage.push(m), max);
  return { p, parts, garbage };
}

const feed = (p: MultipartParser, text: string, cut?: number) => {
  const b = Buffer.from(text, 'latin1');
  if (cut === undefined) return p.push(b);
  p.push(b.subarray(0, cut));
  p.push(b.subarray(cut));
};

describe('boundaryOf', () => {
  test('token, quoted, with leading dashes, other parameters, case', () => {
    assert.equal(boundaryOf('multipart/x-mixed-replace; boundary=myboundary'), 'myboundary');
    assert.equal(boundaryOf('multipart/x-mixed-replace;boundary="my boundary"'), 'my boundary');
    assert.equal(boundaryOf('multipart/x-mixed-replace; boundary=--ipcamera'), 'ipcamera');
    assert.equal(boundaryOf('Multipart/X-Mixed-Replace; BOUNDARY=Frame; charset=x'), 'Frame');
    assert.equal(boundaryOf('image/jpeg'), undefined);
    assert.equal(boundaryOf(null), undefined);
  });
});

describe('MultipartParser', () => {
  const withLength = (body: string, extra = '') => `--b\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}\r\n`;
  const stream = withLength('first') + withLength('sec\r\n--b-ond', 'X-Seq: 2\r\n') + withLength('');

  test('parts with Content-Length, split at every byte; the length wins over a boundary-like body', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { p, parts, garbage } = collect('b');
      feed(p, stream, cut);
      assert.deepEqual(parts.map((x) => x.body), ['first', 'sec\r\n--b-ond', ''], `cut at ${cut}`);
      assert.deepEqual(garbage, []);
    }
  });

  test('header names are lower-cased and values trimmed', () => {
    const { p, parts } = collect('b');
    feed(p, stream);
    assert.equal(parts[1]!.headers['x-seq'], '2');
    assert.equal(parts[1]!.headers['content-type'], 'image/jpeg');
  });

  test('without Content-Length a part ends at the next boundary, its trailing CRLF excluded', () => {
    const text = 'preamble\r\n--b\r\nContent-Type: image/jpeg\r\n\r\nAAA\r\n--b\r\nContent-Type: image/jpeg\r\n\r\nBB\nB\r\n--b\r\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const { p, parts } = collect('b');
      feed(p, text, cut);
      assert.deepEqual(parts.map((x) => x.body), ['AAA', 'BB\nB'], `cut at ${cut}`);
    }
  });

  test('a part is not handed out before it is complete', () => {
    const { p, parts } = collect('b');
    feed(p, '--b\r\nContent-Length: 10\r\n\r\n12345');
    assert.equal(parts.length, 0);
    feed(p, '67890\r\n');
    assert.deepEqual(parts.map((x) => x.body), ['1234567890']);
  });

  test('a part larger than the maximum is dropped and reported; parsing goes on', () => {
    const { p, parts, garbage } = collect('b', 64);
    feed(p, '--b\r\nContent-Type: image/jpeg\r\n\r\n');
    for (let i = 0; i < 10; i++) feed(p, 'x'.repeat(20));
    assert.match(garbage[0]!, /larger than 64 bytes/);
    feed(p, withLength('ok'));
    assert.deepEqual(parts.map((x) => x.body), ['ok']);
  });
});
