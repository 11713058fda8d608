// The image's runtime node_modules: removes what production never loads, in the build stage of
// docker/Dockerfile (the runtime stage copies what is left). Our own instead of `npm prune
// --omit=dev` because the offline base (docker/build-base.sh) has node but no npm; the lockfile's
// `dev: true` flags are exactly what npm prune --omit=dev removes (devOptional entries stay).
// Besides the dev dependencies (tsx, esbuild, typescript, tfjs + @vladmandic/human, which only
// build models at install, playwright-core, @types): other CPUs' and OSes' onnxruntime binaries,
// and better-sqlite3's sources and intermediate objects (the addon is build/Release/*.node).
// Prints the size before and after. Usage: node docker/prune-node-modules.mjs [APP_DIR]
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const app = process.argv[2] ?? process.cwd();
const nm = join(app, 'node_modules');

function size(p) {
  let st;
  try { st = statSync(p, { throwIfNoEntry: false }); } catch { return 0; }
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(p)) n += size(join(p, e));
  return n;
}
const mb = (n) => `${Math.round(n / 1e6)} MB`;
const before = size(nm);

const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
const dev = Object.entries(lock.packages ?? {}).filter(([path, p]) => path.startsWith('node_modules/') && p.dev === true).map(([path]) => path);
if (!dev.includes('node_modules/tsx')) throw new Error('prune-node-modules: package-lock.json does not list tsx as a dev dependency: refusing to guess what is dev');
for (const path of dev) rmSync(join(app, path), { recursive: true, force: true });

// onnxruntime-node ships every platform's binaries (bin/napi-vN/<os>/<cpu>): keep this one only.
const ort = join(nm, 'onnxruntime-node/bin');
if (existsSync(ort)) {
  for (const napi of readdirSync(ort)) {
    for (const os of readdirSync(join(ort, napi))) {
      if (os !== process.platform) { rmSync(join(ort, napi, os), { recursive: true, force: true }); continue; }
      for (const cpu of readdirSync(join(ort, napi, os))) if (cpu !== process.arch) rmSync(join(ort, napi, os, cpu), { recursive: true, force: true });
    }
  }
}
// better-sqlite3 loads build/Release/better_sqlite3.node; its SQLite sources and objects are for building it.
const bs = join(nm, 'better-sqlite3');
for (const p of ['deps', 'src', 'build/Release/obj.target', 'build/Release/obj', 'build/Release/.deps', 'build/deps', 'build/Release/test_extension.node']) rmSync(join(bs, p), { recursive: true, force: true });
rmSync(join(nm, '.cache'), { recursive: true, force: true });

console.log(`prune-node-modules: ${dev.length} dev packages and other platforms' binaries removed: node_modules ${mb(before)} -> ${mb(size(nm))}`);
