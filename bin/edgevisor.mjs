#!/usr/bin/env -S node --max-semi-space-size=2
// The `edgevisor` CLI: runs dist/edgevisor.mjs, the supervisor bundled at install (npm ci's
// postinstall) or image build (scripts/build-dist.mjs). Nothing is compiled or written at run time
// where no sources are (an image, an installed tree or npm package). In a source checkout
// (supervisor/src and scripts/build-dist.mjs are here) a dist/ older than the sources is rebuilt first (esbuild, ~0.5 s, into dist/ only), so a
// source edit is never run from an old bundle.
// Set EDGEVISOR_TSX=1 to run the sources through tsx instead (stack traces with .ts lines).
// The supervisor service runs with --max-semi-space-size=2 (shebang, compose.yaml, npm start): its
// heap is small and long-lived, and V8's default young generation (up to 2 x 16 MB) only adds RSS.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'supervisor/src/cli/main.ts');
const bundle = join(root, 'dist/edgevisor.mjs');

if (process.env.EDGEVISOR_TSX === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  const builder = join(root, 'scripts/build-dist.mjs');
  if (existsSync(source) && existsSync(builder)) {
    const { ensureDist } = await import(pathToFileURL(builder).href);
    await ensureDist({ quiet: true });
  } else if (!existsSync(bundle)) {
    console.error(`edgevisor: dist/edgevisor.mjs is missing and there are no sources to build it from (reinstall, or run npm ci in a checkout)`);
    process.exit(1);
  }
  await import(pathToFileURL(bundle).href);
}
