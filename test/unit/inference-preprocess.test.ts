import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { jpegSize, letterboxFor, preprocess } from '../../apps/inference/src/model/preprocess.ts';
import { renderSynthetic } from '../../apps/camera/src/sources/synthetic.ts';

/** The straightforward reference: sharp resize + extend with grey 114, then HWC -> NCHW floats. */
async function reference(image: Buffer, W: number, H: number): Promise<Float32Array> {
  const meta = await sharp(image).metadata();
  const lb = letterboxFor(meta.width!, meta.height!, W, H);
  const w = Math.round(meta.width! * lb.scale);
  const h = Math.round(meta.height! * lb.scale);
  const data = await sharp(image)
    .removeAlpha()
    .resize(w, h, { fit: 'fill', kernel: 'linear' })
    .extend({ top: lb.padY, left: lb.padX, bottom: H - h - lb.padY, right: W - w - lb.padX, background: { r: 114, g: 114, b: 114 } })
    .toColourspace('srgb')
    .raw()
    .toBuffer();
  const plane = W * H;
  const t = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) t[c * plane + p] = data[p * 3 + c]! / 255;
  return t;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const figure = (w: number, h: number) => renderSynthetic(w, h, 1_700_000_003_000, 12, 'cam');

describe('jpegSize reads the frame header', () => {
  test('baseline, progressive, with EXIF, greyscale', async () => {
    const base = await figure(640, 480);
    assert.deepEqual(jpegSize(base), { width: 640, height: 480 });
    const prog = await sharp(base).resize(333, 211).jpeg({ progressive: true }).toBuffer();
    assert.deepEqual(jpegSize(prog), { width: 333, height: 211 });
    // EXIF and ICC segments come before the SOF: the walk has to skip them.
    const exif = await sharp(base).withMetadata({ exif: { IFD0: { Copyright: 'x'.repeat(300) } } }).jpeg().toBuffer();
    assert.deepEqual(jpegSize(exif), { width: 640, height: 480 });
    const grey = await sharp(base).greyscale().jpeg().toBuffer();
    assert.deepEqual(jpegSize(grey), { width: 640, height: 480 });
  });

  test('null for what is not a complete JPEG header', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    const jpeg = await figure(64, 48);
    for (const b of [png, jpeg.subarray(0, 20), Buffer.alloc(0), Buffer.from([0xff, 0xd8]), Buffer.from('not an image at all')]) {
      assert.equal(jpegSize(b), null);
    }
  });
});

describe('preprocess: letterboxed NCHW floats', () => {
  for (const [w, h] of [[640, 480], [480, 640], [1280, 720], [333, 211]] as const) {
    test(`${w}x${h} JPEG matches the plain resize + extend reference`, async () => {
      const jpeg = await figure(w, h);
      const got = await preprocess(jpeg, 320, 320);
      // Same libvips resize, only the padding moved from sharp into JS: identical values expected.
      assert.ok(maxDiff(got.data, await reference(jpeg, 320, 320)) < 1e-6);
      assert.deepEqual(got.letterbox, letterboxFor(w, h, 320, 320));
    });
  }

  test('a reused buffer is fully overwritten, padding included, whatever it held before', async () => {
    const out = new Float32Array(3 * 320 * 320).fill(Number.NaN);
    const landscape = await figure(640, 480);
    const portrait = await figure(480, 640);
    const a = await preprocess(landscape, 320, 320, out);
    assert.equal(a.data, out, 'writes into the given buffer');
    assert.ok(maxDiff(out, (await preprocess(landscape, 320, 320)).data) === 0);
    // Portrait pads left/right where landscape had picture: those pixels must become grey again.
    await preprocess(portrait, 320, 320, out);
    assert.ok(maxDiff(out, (await preprocess(portrait, 320, 320)).data) === 0);
    assert.ok(Math.abs(out[0]! - 114 / 255) < 1e-7);
  });

  test('greyscale JPEG gives three equal planes; PNG with alpha is read through sharp metadata', async () => {
    const grey = await sharp(await figure(640, 480)).greyscale().jpeg().toBuffer();
    const g = (await preprocess(grey, 64, 64)).data;
    const plane = 64 * 64;
    for (let p = 0; p < plane; p++) assert.ok(g[p] === g[plane + p] && g[p] === g[2 * plane + p]);
    const rgba = await sharp({ create: { width: 100, height: 50, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const r = await preprocess(rgba, 64, 64);
    assert.deepEqual([r.letterbox.padX, r.letterbox.padY], [0, 16]);
    const centre = 32 * 64 + 32;
    assert.deepEqual([r.data[centre], r.data[plane + centre], r.data[2 * plane + centre]], [1, 0, 0]);
  });

  test('bad input fails clearly', async () => {
    await assert.rejects(preprocess(await figure(64, 48), 32, 32, new Float32Array(10)), /expected 3072/);
    await assert.rejects(preprocess(Buffer.from('not an image'), 32, 32));
  });
});
