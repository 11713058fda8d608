// The packed package works in a fresh project: `npm pack` (prepack builds dist/lib), the tarball
// holds the library and nothing private, and a new project installs it offline, runs the ETL
// example with plain node, runs the packed CLI, and type-checks against its declarations.
// The sd_notify helper: the package ships notify.c and compiles it at its install
// (supervisor/native/install.mjs); without a C compiler the install succeeds and a notify tree
// fails with START_FAILED naming the fix; with one, a watchdog child that pings keeps running and
// one that stops is killed as hung, both pinging through the installed package's sendNotify.
//
// Offline install: a fresh project cannot resolve version ranges without the registry (npm's cache
// holds tarballs, not the package lists), so the test gives it a lockfile made from ours: the
// tarball plus every non-dev package of package-lock.json, with the same resolved URLs and
// integrity, which `npm ci` (on CI too) has put in the cache. `npm ci --ignore-scripts`, then
// `npm rebuild edgevisor`: the dependencies' own install scripts would build better-sqlite3 from
// source (minutes); edgevisor's is run alone, as an install runs it, once without and once with a
// compiler on PATH.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { checkEtl, repoRoot, runExample } from '../helpers/examples.ts';

const run = promisify(execFile);
const npm = (args: string[], cwd: string, timeout: number, env: NodeJS.ProcessEnv = process.env) =>
  run('npm', args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...env, npm_config_update_notifier: 'false' } });

/** The first executable NAME on PATH. */
function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  throw new Error(`${name} is not on PATH`);
}

/** An environment whose PATH holds node, npm and sh (npm's script shell) and no C compiler (cc, gcc, clang; CC unset). */
function withoutCompiler(dir: string): NodeJS.ProcessEnv {
  mkdirSync(dir);
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const bin of ['npm', 'sh']) symlinkSync(onPath(bin), join(dir, bin));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: dir };
  delete env.CC;
  // A user's install, not CI's (.ci/run sets it so that the checkout's own build never skips the helper).
  delete env.EDGEVISOR_REQUIRE_NATIVE;
  return env;
}

/** Every file under DIR, relative to it. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)));

/** What test/fixtures/package-notify/tree.mjs prints. */
interface NotifyRun {
  error?: { code: string; message: string };
  at: number;
  pinger: { state: string; restarts: number; lastPingAt: number };
  events: { ts: number; type: string; child: string; to?: string; reason?: string; data?: Record<string, unknown> }[];
}

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
  for (const need of ['package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/runtime/tree.js', 'supervisor/native/notify.c', 'supervisor/native/install.mjs']) assert.ok(files.includes(need), `${need} in the tarball`);
  const leaked = files.filter((f) => /^(test|var|node_modules|\.ci|deploy|docker|models|apps|examples|scripts)\//.test(f) || f.includes('node_modules/') || /\.(db|db-wal|env|pem|key|onnx|node)$/.test(f) || /tokens/.test(f) || /\.test\.ts$/.test(f));
  assert.deepEqual(leaked, [], 'no tests, var, models, build scripts, prebuilt helpers or secrets in the tarball');

  const consumer = join(dir, 'consumer');
  const tgz = join(dir, info.filename);
  await run('mkdir', [consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { edgevisor: `file:${tgz}` } }));
  writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(consumerLock(tgz)));
  await npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], consumer, 300_000);
  const pkg = join(consumer, 'node_modules/edgevisor');
  const helper = join(pkg, 'supervisor/native/build/notify.node');
  for (const f of ['tree.mjs', 'pinger.mjs']) copyFileSync(join(repoRoot, 'test/fixtures/package-notify', f), join(consumer, f));
  const notifyTree = () =>
    run(process.execPath, ['tree.mjs'], { cwd: consumer, timeout: 60_000 }).then(
      (r) => ({ status: 0, out: JSON.parse(r.stdout) as NotifyRun }),
      (err: { code?: number; stdout?: string; stderr?: string }) => {
        if (err.code !== 2) assert.fail(`tree.mjs failed: ${err.stderr ?? String(err)}`);
        return { status: 2, out: JSON.parse(err.stdout ?? '') as NotifyRun };
      },
    );

  // No C compiler: edgevisor's install step says why and succeeds; a notify tree names the fix.
  const bare = await npm(['rebuild', 'edgevisor', '--offline', '--foreground-scripts'], consumer, 120_000, withoutCompiler(join(dir, 'no-cc-bin')));
  assert.match(bare.stdout + bare.stderr, /sd_notify helper was not built \(no C compiler \(tried cc, gcc, clang\)\).*apt-get install gcc.*npm rebuild edgevisor/);
  assert.equal(existsSync(helper), false, 'no helper without a compiler');
  const refused = await notifyTree();
  assert.equal(refused.status, 2);
  assert.equal(refused.out.error?.code, 'EDGEVISOR_ERR_START_FAILED');
  assert.match(refused.out.error?.message ?? '', /supervisor\/native\/build\/notify\.node, which was not built.*C compiler.*apt-get install gcc.*npm rebuild edgevisor/);
  const message = refused.out.error?.message ?? '';
  assert.ok(!message.includes(dir) && !message.includes(repoRoot), 'no server path in the message');

  // With one: the helper is built, and nothing else is (no dist bundling, no models: the tree is the tarball's plus the helper).
  const built = await npm(['rebuild', 'edgevisor', '--offline', '--foreground-scripts'], consumer, 120_000);
  assert.match(built.stdout + built.stderr, /built the sd_notify helper/);
  assert.deepEqual(filesUnder(pkg).sort(), [...files, 'supervisor/native/build/notify.node'].sort(), 'the install step wrote the helper only');

  // A 500 ms watchdog from the installed package: pinger (WATCHDOG=1 every 100 ms) runs on, quiet
  // (5 pings, then none) is killed as hung, twice, while pinger has its one run.
  const { out } = await notifyTree();
  const events = out.events;
  const of = (id: string, to: string) => events.filter((e) => e.type === 'transition' && e.child === id && e.to === to);
  const verdicts = of('quiet', 'unhealthy');
  assert.ok(verdicts.length >= 2, `quiet killed as hung twice (${verdicts.length})`);
  for (const v of verdicts) {
    assert.equal(v.data?.['hung'], true);
    assert.equal(v.data?.['watchdog'], true);
    assert.match(v.reason ?? '', /^no WATCHDOG=1 for \d+ms since the last one \(watchdog 500ms\)$/, 'it pinged, then stopped');
    assert.ok((v.data?.['ageMs'] as number) >= 500, `a verdict at the deadline, not before (${v.data?.['ageMs']}ms)`);
  }
  const kills = of('quiet', 'stopping');
  assert.ok(kills.length >= 2 && kills.every((e) => e.data?.['shutdown'] === 'brutal_kill'), 'a hung child is killed, not given its grace');
  const pingerUp = of('pinger', 'running');
  assert.equal(pingerUp.length, 1, 'pinger started once');
  assert.equal(pingerUp[0]!.reason, 'READY=1');
  assert.deepEqual([...of('pinger', 'unhealthy'), ...of('pinger', 'stopping')], [], 'pinger never judged hung nor stopped');
  assert.equal(out.pinger.state, 'running');
  assert.equal(out.pinger.restarts, 0);
  assert.ok(out.at - pingerUp[0]!.ts > 3 * 500, `pinger ran through more than three watchdog periods (${out.at - pingerUp[0]!.ts}ms)`);
  assert.ok(out.at - out.pinger.lastPingAt < 500, 'and was still pinging');

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
