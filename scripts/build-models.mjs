#!/usr/bin/env node
// Builds the models that are generated, not committed: models/centernet.onnx (8 MB), converted from
// the tfjs CenterNet inside the installed @vladmandic/human by apps/inference/scripts/build-centernet.ts
// and checked against models/centernet.onnx.sha256. Run by `npm ci` (postinstall) and by the image
// build. Kept fast: an existing file with the right checksum is left alone (~0.1 s); a build takes
// ~15 s. Skipped (exit 0, with a line) when the converter is not there yet: the image build's
// `npm ci` runs before apps/ is copied in, and builds the model in a later step.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'apps/inference/scripts/build-centernet.ts');
if (!existsSync(script)) {
  console.error(`edgevisor: models not built (${script} not present yet)`);
  process.exit(0);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
if (r.error) { console.error(`edgevisor: building models failed: ${r.error.message}`); process.exit(1); }
process.exit(r.status ?? 1);
