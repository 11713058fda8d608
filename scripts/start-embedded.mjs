#!/usr/bin/env node
// `npm start`: the embedded appliance (deploy/embedded.tree.yaml), every app a local process, no
// Docker. The control API needs tokens; on first start random ones are written to var/tokens.env
// (mode 0600) and reused afterwards. Tokens already in the environment win.
// EDGEVISOR_TREE and EDGEVISOR_VAR override the tree file and the var/ folder (tests run a small
// tree on free ports this way while another `npm start` may be running).
// Ctrl-C reaches both this script and the supervisor (same process group); the signal is also
// forwarded, for a `kill -INT` aimed at this script alone. The supervisor counts a repeat within
// 1 s as the same request, so Ctrl-C is one graceful stop.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const varDir = process.env.EDGEVISOR_VAR ? resolve(process.env.EDGEVISOR_VAR) : join(root, 'var');
const treeFile = process.env.EDGEVISOR_TREE ? resolve(process.env.EDGEVISOR_TREE) : join(root, 'deploy/embedded.tree.yaml');
const file = join(varDir, 'tokens.env');
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
const child = spawn(process.execPath, ['--max-semi-space-size=2', join(root, 'bin/edgevisor.mjs'), 'run', treeFile, ...process.argv.slice(2)], { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
