#!/usr/bin/env -S node --max-semi-space-size=2
// The `edgevisor` CLI. Works right after `npm ci`, with no build step: the TypeScript sources are
// bundled with esbuild at start (about 0.1 s) into node_modules/.cache/edgevisor/ and run as plain
// JavaScript. A long-running supervisor then carries no TypeScript loader (tsx's hooks run in a
// thread of their own, with a second V8 heap): less memory and CPU on the appliance.
// Set EDGEVISOR_TSX=1 to run the sources through tsx instead (stack traces with .ts lines).
// The supervisor service runs with --max-semi-space-size=2 (shebang, compose.yaml, npm start): its
// heap is small and long-lived, and V8's default young generation (up to 2 x 16 MB) only adds RSS.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'supervisor/src/cli/main.ts');

if (process.env.EDGEVISOR_TSX === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
} else {
  const esbuild = await import('esbuild');
  const built = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'error',
  });
  // esbuild keeps its service process (~20 MB) for later builds: there are none. The async API
  // runs it from this thread, so stop() also reaps it (buildSync's worker thread left a zombie).
  await esbuild.stop();
  const code = built.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = join(root, 'node_modules/.cache/edgevisor');
  const file = join(dir, `edgevisor-${hash}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file); // atomic: concurrent invocations never read half a file
    for (const old of readdirSync(dir)) if (old.startsWith('edgevisor-') && join(dir, old) !== file) rmSync(join(dir, old), { force: true });
  }
  await import(pathToFileURL(file).href);
}
