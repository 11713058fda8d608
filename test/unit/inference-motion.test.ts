import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MODEL } from '../../apps/inference/src/config.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import type { Detection, Detector } from '../../apps/inference/src/model/types.ts';
import { figureX, renderSynthetic } from '../../apps/camera/src/sources/synthetic.ts';

// The motion detector reuses per-camera tensors and lets ORT write the next background into a
// preallocated buffer. These tests pin what that must not change: cameras stay independent (even
// when their frames are in flight together), and results equal a detector that sees one camera only.

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 12_000);
const frames = (camera: string, n: number, periodS: number) =>
  Promise.all(Array.from({ length: n }, (_, i) => renderSynthetic(640, 480, T0 + 3000 + i * 200, periodS, camera)));
const round = (ds: Detection[]) => ds.map((d) => [d.x1, d.y1, d.x2, d.y2, d.score].map((v) => Math.round(v * 1e5) / 1e5));

describe('motion detector with reused buffers', () => {
  const open: Detector[] = [];
  const load = async () => {
    const d = await loadDetector({ path: DEFAULT_MODEL, threads: 1, scoreThreshold: 0.25 });
    open.push(d);
    return d;
  };
  after(async () => {
    for (const d of open) await d.close();
  });

  test('two cameras interleaved and concurrent give what each gives alone', async () => {
    // Different periods: the figures are at different places in every frame.
    const a = await frames('a', 12, 12);
    const b = await frames('b', 12, 7);
    const aloneA = await load();
    const aloneB = await load();
    const shared = await load();
    for (let i = 0; i < a.length; i++) {
      const [ra, rb] = [await aloneA.detect('a', a[i]!), await aloneB.detect('b', b[i]!)];
      // Both cameras' frames in flight at once on the shared session.
      const [sa, sb] = await Promise.all([shared.detect('a', a[i]!), shared.detect('b', b[i]!)]);
      assert.deepEqual(round(sa.detections), round(ra.detections), `camera a, frame ${i}`);
      assert.deepEqual(round(sb.detections), round(rb.detections), `camera b, frame ${i}`);
      if (i > 0) assert.ok(sa.detections.length > 0, `the walking figure is seen on frame ${i}`);
    }
  });

  test('boxes follow the figure; a still scene fades out; reset starts a new background', async () => {
    const d = await load();
    const walk = await frames('cam', 6, 12);
    let last: Detection[] = [];
    for (const f of walk) last = (await d.detect('cam', f)).detections;
    const x = figureX(T0 + 3000 + 5 * 200, 12);
    assert.ok(last.some((b) => b.x1 <= x + 0.05 && b.x2 >= x - 0.05), `a box around x=${x}: ${JSON.stringify(last)}`);
    // The same frame over and over: the running average converges and nothing moves any more.
    const still = walk.at(-1)!;
    for (let i = 0; i < 15; i++) last = (await d.detect('cam', still)).detections;
    assert.deepEqual(last, []);
    d.reset('cam');
    const first = await d.detect('cam', walk[0]!);
    assert.deepEqual([first.detections, first.times.run], [[], 0], 'after reset the first frame only primes the background');
    assert.ok((await d.detect('cam', still)).detections.length > 0, 'against the new background the figure moved');
  });
});
