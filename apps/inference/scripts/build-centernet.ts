/**
 * Builds models/centernet.onnx (the default person detector) from the tfjs CenterNet that the npm
 * package @vladmandic/human ships (models/centernet.json + .bin): no download. Run at install
 * (npm postinstall through scripts/build-models.mjs) and at image build.
 *
 *   node --import tsx apps/inference/scripts/build-centernet.ts [--out FILE] [--force] [--print-sha]
 *
 * The graph is cut before its TopK: the outputs are the class heatmap (after the sigmoid) and the
 * box distances; peaks, boxes and NMS are decoded in JS (apps/inference/src/model/centernet.ts).
 * The result is deterministic, and its sha256 is checked against models/centernet.onnx.sha256
 * (committed): a different tfjs or package version that changes the bytes fails loudly instead of
 * silently shipping another model. An existing file with the right checksum is kept (fast reinstall).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/model/onnx-proto.ts';
import { COCO_NAMES } from '../src/model/coco.ts';
import { convertTfjsGraph, loadTfjsGraph } from './tfjs-to-onnx.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the tfjs CenterNet is (inside the installed @vladmandic/human). */
export function centernetSource(): string {
  // The package's exports hide package.json and models/: find its folder from its main entry.
  let dir = dirname(createRequire(import.meta.url).resolve('@vladmandic/human'));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, 'models/centernet.json');
}

/** The ONNX bytes of the CenterNet detector. */
export async function buildCenternet(source = centernetSource()): Promise<Uint8Array> {
  const version = (JSON.parse(readFileSync(join(dirname(source), '../package.json'), 'utf8')) as { version: string }).version;
  const g = await loadTfjsGraph(source);
  const graph = await convertTfjsGraph(g, {
    graphName: 'centernet-mobilenetv3',
    inputName: 'image',
    outputs: [{ node: 'tower_0/keypoints', name: 'heatmap' }, { node: 'tower_0/wh', name: 'wh' }],
    metadata: {
      edgevisor_kind: 'centernet',
      names: JSON.stringify(COCO_NAMES),
      // Output cell size in input pixels; wh = distances (left, top, right, bottom) in input pixels.
      stride: '4',
      source: `@vladmandic/human@${version} models/centernet.json (MB3-CenterNet, github.com/610265158/mobilenetv3_centernet)`,
    },
    doc: 'CenterNet MobileNetV3 (COCO-80), converted from tfjs by apps/inference/scripts/build-centernet.ts. Input uint8 RGB NHWC 0..255.',
  });
  return encodeModel(graph);
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The default output and the committed checksum file. */
export const CENTERNET_MODEL = join(root, 'models/centernet.onnx');
export const CENTERNET_SHA_FILE = join(root, 'models/centernet.onnx.sha256');

async function main() {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const out = outIdx >= 0 ? resolve(args[outIdx + 1]!) : CENTERNET_MODEL;
  const expected = existsSync(CENTERNET_SHA_FILE) ? readFileSync(CENTERNET_SHA_FILE, 'utf8').trim().split(/\s+/)[0] : undefined;
  if (!args.includes('--force') && existsSync(out) && expected && sha256(readFileSync(out)) === expected) {
    console.error(`edgevisor: ${out} is up to date (sha256 ${expected.slice(0, 12)}...)`);
    return;
  }
  const t0 = Date.now();
  const bytes = await buildCenternet();
  const sum = sha256(bytes);
  if (args.includes('--print-sha')) console.log(sum);
  if (expected && sum !== expected) {
    console.error(`edgevisor: the converted CenterNet has sha256 ${sum}, ${CENTERNET_SHA_FILE} expects ${expected}: the @vladmandic/human or tfjs version changed the model. Check its outputs (test/unit/inference-centernet-convert.test.ts), then record the new sum in that file.`);
    process.exit(1);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, bytes);
  renameSync(`${out}.tmp`, out);
  console.error(`edgevisor: wrote ${out} (${(bytes.length / 1e6).toFixed(1)} MB, sha256 ${sum.slice(0, 12)}..., ${Date.now() - t0} ms)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => { console.error(`edgevisor: building the CenterNet model failed: ${(err as Error).stack ?? err}`); process.exit(1); });
}
