#!/usr/bin/env node
// Builds dist/: the supervisor CLI and every app bundled with esbuild into one plain ES module
// each (dist/edgevisor.mjs, dist/<app>.mjs), which production runs with `node dist/<name>.mjs`
// (images, compose, npm start's tree). Run at install (postinstall), at image build, and by
// `npm test` / `npm start` / bin/edgevisor.mjs in a source checkout when dist/ is stale.
//
// - node_modules stay external (native addons: better-sqlite3, onnxruntime-node, sharp; packages
//   that load files of their own): dist/ holds our code only, node_modules is resolved at run time.
// - tsconfig.json is passed to esbuild, so its `paths` (the in-repo `edgevisor` entry) resolve.
// - Runtime asset paths stay right: `import.meta.url` / `dirname` / `filename` in a source file are
//   rewritten to that source file's own location (relative to the bundle), so
//   `new URL('./onnx.proto', import.meta.url)`, `createRequire(import.meta.url)('../native/...')`
//   and `join(import.meta.dirname, '../ui')` find the same files from dist/ as from the sources.
// - Freshness: dist/build.json records a hash of every source file the bundles were built from
//   (esbuild's metafile), of tsconfig.json, package.json and this script. `isFresh()` re-hashes
//   those files (about 200 small files: a few ms), so a source edit is never run from an old dist/.
// - Writes are atomic (temp file + rename, build.json last): concurrent builds never leave half a
//   bundle, and a crash mid-build leaves build.json saying stale.
//
// Usage: node scripts/build-dist.mjs [--if-stale] [--quiet]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(root, 'dist');
const manifest = join(distDir, 'build.json');

/** dist/<name>.mjs <- source entry. */
export const entries = {
  edgevisor: 'supervisor/src/cli/main.ts',
  camera: 'apps/camera/src/main.ts',
  inference: 'apps/inference/src/main.ts',
  web: 'apps/web/src/main.ts',
  onvif: 'apps/onvif/src/main.ts',
  vacuum: 'apps/vacuum/src/main.ts',
  'web-set-password': 'apps/web/src/set-password.ts',
  // The site-file checks `edgevisorctl apply` runs in the image (deploy/site.sh).
  'check-cameras': 'apps/camera/src/check-cameras.ts',
  'check-zones': 'apps/inference/src/check-zones.ts',
};
// Files that change what esbuild produces besides the sources themselves.
const buildInputs = ['scripts/build-dist.mjs', 'tsconfig.json', 'package.json'];

const posix = (p) => p.split(sep).join('/');

function hashOf(files) {
  const h = createHash('sha256');
  for (const f of [...files].sort()) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(root, f)));
    h.update('\0');
  }
  return h.digest('hex');
}

/** True when dist/ holds every bundle, built from the sources as they are now. */
export function isFresh() {
  let m;
  try {
    m = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return false;
  }
  if (!Object.keys(entries).every((n) => m.entries?.[n] === entries[n] && existsSync(join(distDir, `${n}.mjs`)))) return false;
  try {
    return hashOf(m.inputs) === m.hash;
  } catch {
    return false; // an input was deleted or renamed
  }
}

// import.meta.* in a bundled source file -> the same value the source file had (see above).
const importMetaPlugin = {
  name: 'source-import-meta',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      if (text.includes('import.meta.')) {
        const rel = posix(relative(distDir, args.path));
        const relDir = posix(relative(distDir, dirname(args.path)));
        text = text
          .replace(/\bimport\.meta\.url\b/g, `new URL(${JSON.stringify(rel)}, import.meta.url).href`)
          .replace(/\bimport\.meta\.dirname\b/g, `(import.meta.dirname + ${JSON.stringify(`/${relDir}`)})`)
          .replace(/\bimport\.meta\.filename\b/g, `(import.meta.dirname + ${JSON.stringify(`/${rel}`)})`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

/** Bundles every entry into dist/ and writes dist/build.json. Resolves to the time taken (ms). */
export async function buildDist() {
  const t0 = performance.now();
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('build-dist: esbuild is not installed (a dev dependency): run npm ci (not --omit=dev) to build dist/');
  }
  const inputs = new Set(buildInputs);
  const outputs = [];
  try {
    // One build per entry (no code splitting): each dist/<name>.mjs stands alone.
    await Promise.all(Object.entries(entries).map(async ([name, src]) => {
      const r = await esbuild.build({
        entryPoints: [join(root, src)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        tsconfig: join(root, 'tsconfig.json'),
        plugins: [importMetaPlugin],
        sourcemap: 'linked',
        sourcesContent: false,
        write: false,
        metafile: true,
        outfile: join(distDir, `${name}.mjs`),
        logLevel: 'error',
      });
      for (const f of Object.keys(r.metafile.inputs)) inputs.add(posix(relative(root, join(root, f))));
      outputs.push(...r.outputFiles);
    }));
  } finally {
    // esbuild keeps a service process for later builds: there are none.
    await esbuild.stop();
  }
  mkdirSync(distDir, { recursive: true });
  for (const o of outputs) {
    const tmp = `${o.path}.${process.pid}.tmp`;
    writeFileSync(tmp, o.contents);
    renameSync(tmp, o.path);
  }
  const list = [...inputs].filter((f) => !f.startsWith('node_modules/')).sort();
  const tmp = `${manifest}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ entries, hash: hashOf(list), inputs: list }, null, 1)}\n`);
  renameSync(tmp, manifest);
  return Math.round(performance.now() - t0);
}

/** Builds dist/ unless it is fresh; says what it did on stderr unless quiet. */
export async function ensureDist({ quiet = false } = {}) {
  if (isFresh()) return false;
  const ms = await buildDist();
  if (!quiet) console.error(`build-dist: dist/ built from the sources in ${ms} ms`);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--if-stale' && a !== '--quiet');
  if (unknown.length) {
    console.error(`build-dist: unknown argument ${unknown[0]} (accepted: --if-stale, --quiet)`);
    process.exit(2);
  }
  try {
    if (args.includes('--if-stale')) await ensureDist({ quiet: args.includes('--quiet') });
    else {
      const ms = await buildDist();
      if (!args.includes('--quiet')) console.error(`build-dist: ${Object.keys(entries).map((n) => `dist/${n}.mjs`).join(', ')} in ${ms} ms`);
    }
  } catch (err) {
    console.error(err instanceof Error && err.message.startsWith('build-dist:') ? err.message : `build-dist: ${err?.stack ?? err}`);
    process.exit(1);
  }
}
