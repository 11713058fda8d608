/**
 * scripts/build-dist.mjs and bin/edgevisor.mjs on a copy of the checkout (the real one is shared):
 * a source edit is never run from an old bundle (the bin rebuilds dist/ first), a fresh dist/ is
 * run without writing anything, and without sources or build script (an image, an npm package)
 * the bin runs dist/ as it is, or says in one line what is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

test('bin/edgevisor.mjs rebuilds a stale dist/, runs a fresh one without writing, and runs dist/ alone where no sources are', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-dist-'));
  try {
    for (const p of ['supervisor', 'apps', 'bin', 'scripts/build-dist.mjs', 'tsconfig.json', 'package.json']) {
      cpSync(join(repo, p), join(dir, p), { recursive: true, filter: (src) => !src.includes('/native/build') });
    }
    symlinkSync(realpathSync(join(repo, 'node_modules')), join(dir, 'node_modules'));
    const tree = join(dir, 'tree.yaml');
    writeFileSync(tree, 'version: 1\nname: t\nchildren:\n  - id: a\n    process: { command: [sleep, "1"] }\n');
    const run = (...args: string[]) => spawnSync(process.execPath, [join(dir, 'bin/edgevisor.mjs'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });

    // First run: no dist/ yet, built from the sources.
    let r = run('validate', tree);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok: 1 children');
    const manifest = join(dir, 'dist/build.json');
    const built = statSync(manifest).mtimeMs;
    assert.ok(JSON.parse(readFileSync(manifest, 'utf8')).inputs.includes('supervisor/src/cli/tree-file.ts'));

    // Fresh: nothing is rebuilt or written.
    r = run('validate', tree);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(manifest).mtimeMs, built, 'a fresh dist/ is not rewritten');

    // A source edit: the next run runs the edit, not the old bundle.
    const src = join(dir, 'supervisor/src/cli/tree-file.ts');
    writeFileSync(src, readFileSync(src, 'utf8').replace('io.out(`ok: ', 'io.out(`fine: '));
    r = run('validate', tree);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'fine: 1 children');

    // An npm package carries the sources but not the build script: it runs its dist/ as packed.
    writeFileSync(src, readFileSync(src, 'utf8').replace('io.out(`fine: ', 'io.out(`packed: '));
    const script = join(dir, 'scripts/build-dist.mjs');
    const kept = readFileSync(script);
    rmSync(script);
    r = run('validate', tree);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'fine: 1 children');
    writeFileSync(script, kept);

    // No sources (what an image has): dist/ runs as it is.
    rmSync(join(dir, 'supervisor'), { recursive: true });
    r = run('validate', tree);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'fine: 1 children');

    // Neither: one line that says what is missing.
    rmSync(join(dir, 'dist'), { recursive: true });
    r = run('validate', tree);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^edgevisor: dist\/edgevisor\.mjs is missing and there are no sources to build it from/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
