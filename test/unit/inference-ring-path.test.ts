// Where inference opens a camera's frame ring: <FRAMES_DIR>/<file>, the file name from GET /cameras
// checked first (apps/inference/src/ring-path.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ringPathIn, RING_NAME_REFUSED } from '../../apps/inference/src/ring-path.ts';

test('a plain ring file name joins our own frames directory', () => {
  assert.equal(ringPathIn('/frames', 'cam1.ring'), '/frames/cam1.ring');
  assert.equal(ringPathIn('/dev/shm/edgevisor-frames-12', 'Dock_2-b.ring'), '/dev/shm/edgevisor-frames-12/Dock_2-b.ring');
  assert.equal(ringPathIn('/frames', `${'a'.repeat(63)}.ring`), `/frames/${'a'.repeat(63)}.ring`);
});

test('a name with a slash, a backslash, ".." or not <id>.ring is refused with a code and what is accepted', () => {
  const cases: [string, RegExp][] = [
    ['../cam1.ring', /has a slash/],
    ['/etc/cam1.ring', /has a slash/],
    ['sub/cam1.ring', /has a slash/],
    ['..\\cam1.ring', /has a slash/],
    ['..cam1.ring', /has "\.\."/],
    ['cam1..ring', /has "\.\."/],
    ['..', /has "\.\."/],
    ['', /is not <camera id>\.ring/],
    ['cam1.ring.tmp', /is not <camera id>\.ring/],
    ['cam 1.ring', /is not <camera id>\.ring/],
    [`${'a'.repeat(64)}.ring`, /is not <camera id>\.ring/],
  ];
  for (const [file, why] of cases) {
    assert.throws(() => ringPathIn('/frames', file), (err: Error & { code?: string }) => {
      assert.equal(err.code, RING_NAME_REFUSED, file);
      assert.match(err.message, why, file);
      assert.ok(err.message.startsWith(`ring file name ${JSON.stringify(file)} refused`), err.message);
      assert.match(err.message, /expected a plain file name like "cam1\.ring" \(letters, digits, _ or -, then \.ring\)$/);
      return true;
    });
  }
});
