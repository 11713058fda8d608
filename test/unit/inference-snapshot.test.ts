import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { drawOverlay } from '../../apps/inference/src/events/draw.ts';
import { rawPicture } from '../../apps/inference/src/events/snapshot.ts';
import { letterboxFor } from '../../apps/inference/src/model/preprocess.ts';

const px = (img: { data: Uint8Array; width: number }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe('event snapshot drawing', () => {
  test('zone filled at 25% and outlined, boxes framed in red, nothing else touched', () => {
    const img = { data: new Uint8Array(100 * 80 * 3), width: 100, height: 80 };
    drawOverlay(img, { polygon: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]] }, [{ x1: 0.1, y1: 0.25, x2: 0.3, y2: 0.5 }]);
    assert.deepEqual(px(img, 75, 40), [63, 53, 0], 'inside the zone: 25% yellow over black');
    assert.deepEqual(px(img, 25, 5), [0, 0, 0], 'outside everything');
    assert.deepEqual(px(img, 50, 40), [255, 213, 0], 'zone outline');
    assert.deepEqual(px(img, 10, 30), [255, 45, 45], 'box left edge');
    assert.deepEqual(px(img, 20, 30), [0, 0, 0], 'inside the box is not filled');
    assert.deepEqual(px(img, 30, 40), [255, 45, 45], 'box right edge');
  });

  test('the picture of a raw frame is the frame without its letterbox padding', () => {
    // A 64x48 frame in a 32x32 detect frame: 32x24 picture, 4 rows of padding above and below.
    const lb = letterboxFor(64, 48, 32, 32);
    const data = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) data.fill(y < 4 || y >= 28 ? 0 : y, y * 96, (y + 1) * 96);
    const pic = rawPicture({ kind: 'raw', data, width: 32, height: 32, letterbox: lb });
    assert.deepEqual([pic.width, pic.height], [32, 24]);
    assert.deepEqual([pic.data[0], pic.data.at(-1)], [4, 27], 'first and last picture rows');
  });
});
