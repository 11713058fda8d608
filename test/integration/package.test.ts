// The packed package works in a fresh project: `npm pack` (prepack builds dist/lib), the tarball
// holds the library and nothing private, and a new project installs it offline and runs the ETL
// example with plain node, and type-checks against its declarations.
//
// Offline install: a fresh project cannot resolve version ranges without the registry (npm's cache
// holds tarballs, not the package lists), so the test gives it a lockfile made from ours: the
// tarball plus every non-dev package of package-lock.json, with the same resolved URLs and
// integrity, which `npm ci` (on CI too) has put in the cache. `--ignore-scripts`: the package's
// own postinstall builds the repo's native helper and models, which a library user does not have
// (see docs/architecture.md, "Using edgevisor as a library").
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { checkEtl, repoRoot, runExample } from '../helpers/examples.ts';

const run = promisify(execFile);
const npm = (args: string[], cwd: string, timeout: number) => run('npm', args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } });

interface LockEntry {
  dev?: boolean;
  link?: boolean;
  [k: string]: unknown;
}

/** A lockfile for a project whose only dependency is the tarball, from the repo's own lockfile. */
function consumerLock(tgz: string): unknown {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const root = lock.packages[''] as { dependencies: Record<string, string>; bin?: unknown; engines?: unknown; license?: string };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { edgevisor: `file:${tgz}` } },
    'node_modules/edgevisor': { version: '0.1.0', resolved: `file:${tgz}`, integrity, license: root.license, dependencies: root.dependencies, bin: root.bin, engines: root.engines, hasInstallScript: true },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.link || !path.startsWith('node_modules/')) continue;
    packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

test('npm pack gives a package a fresh project installs offline and uses with plain node', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-package-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const packed = await npm(['pack', '--json', '--pack-destination', dir], repoRoot, 180_000);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const need of ['package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/runtime/tree.js']) assert.ok(files.includes(need), `${need} in the tarball`);
  const leaked = files.filter((f) => /^(test|var|node_modules|\.ci|deploy|docker|models|apps|examples)\//.test(f) || f.includes('node_modules/') || /\.(db|db-wal|env|pem|key|onnx)$/.test(f) || /tokens/.test(f) || /\.test\.ts$/.test(f));
  assert.deepEqual(leaked, [], 'no tests, var, models or secrets in the tarball');

  const consumer = join(dir, 'consumer');
  const tgz = join(dir, info.filename);
  await run('mkdir', [consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { edgevisor: `file:${tgz}` } }));
  writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(consumerLock(tgz)));
  await npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], consumer, 300_000);

  // The example as a user copies it: plain node, no loader, 'edgevisor' from node_modules.
  copyFileSync(join(repoRoot, 'examples/etl/main.mjs'), join(consumer, 'etl.mjs'));
  checkEtl(await runExample(join(consumer, 'etl.mjs'), [], consumer));

  // The CLI the package declares in `bin` runs from the install (dist/edgevisor.mjs, built at pack).
  writeFileSync(join(consumer, 'tree.yaml'), 'version: 1\nname: demo\nchildren:\n  - id: a\n    process: { command: [node, app.js] }\n');
  const cli = await run(process.execPath, [join(consumer, 'node_modules/.bin/edgevisor'), 'validate', 'tree.yaml'], { cwd: consumer, timeout: 60_000 });
  assert.match(cli.stdout, /^ok: 1 children/);

  // The declarations resolve and are real types (an `any` would make the expect-error unused).
  writeFileSync(
    join(consumer, 'use.ts'),
    [
      "import { createTree, defaultBackends, parseDuration, parseTreeObject, codes, type Tree } from 'edgevisor';",
      "const spec = parseTreeObject({ version: 1, name: 'x', children: [] });",
      'const tree: Tree = createTree(spec, { backends: defaultBackends() });',
      "const ms: number = parseDuration('2s');",
      '// @ts-expect-error parseDuration returns a number',
      "const wrong: string = parseDuration('2s');",
      "const code: 'EDGEVISOR_ERR_SPEC_INVALID' = codes.SPEC_INVALID;",
      'export { tree, ms, wrong, code };',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(repoRoot, 'node_modules/@types')] }, files: ['use.ts'] }),
  );
  await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', consumer], { cwd: consumer, timeout: 120_000 }).catch((err: { stdout?: string }) => {
    assert.fail(`tsc in the consumer project failed:\n${err.stdout ?? String(err)}`);
  });
});
