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
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/model/onnx-proto.ts';
import { COCO_NAMES } from '../src/model/coco.ts';
import { convertTfjsGraph, loadTfjsGraph } from './tfjs-to-onnx.ts';
import { runModelBuild, sha256 } from './model-build-cli.ts';

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

/** The default output and the committed checksum file. */
export { sha256 };
export const CENTERNET_MODEL = join(root, 'models/centernet.onnx');
export const CENTERNET_SHA_FILE = join(root, 'models/centernet.onnx.sha256');

async function main() {
  await runModelBuild({ name: 'CenterNet', model: CENTERNET_MODEL, shaFile: CENTERNET_SHA_FILE, checkTest: 'test/unit/inference-centernet-convert.test.ts', build: buildCenternet }, process.argv.slice(2));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => { console.error(`edgevisor: building the CenterNet model failed: ${(err as Error).stack ?? err}`); process.exit(1); });
}
