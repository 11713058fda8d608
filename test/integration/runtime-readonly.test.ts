/**
 * Issue 14, point 1: production runs built JavaScript and writes nothing under its install tree.
 * `npm start` (scripts/start-embedded.mjs, the embedded tree: every app as `node dist/<app>.mjs`)
 * runs in a mount namespace where the checkout and its node_modules are read-only bind mounts; the
 * data, the tokens and the event log go to a temp folder. Any write into the tree (a compile cache,
 * a bundle written at start, a log file next to the sources) fails there with EROFS. The test waits
 * until every app is running and has done real work (frames detected, a vacuum run), then checks
 * that nothing restarted and nothing hit the read-only tree. Needs root (unshare -m, mount).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { relocatedEmbeddedTree } from '../helpers/embedded-tree.ts';
import { waitFor } from '../helpers/net.ts';

const repo = resolve(import.meta.dirname, '../..');
const modules = realpathSync(join(repo, 'node_modules'));
const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

before(() => {
  // The bundles as the sources are now (what npm start does first, outside the read-only view).
  const r = spawnSync(process.execPath, [join(repo, 'scripts/build-dist.mjs'), '--if-stale'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
});

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

test('npm start runs dist/ with the checkout and node_modules read-only: every app works, nothing restarts, nothing writes into the tree', { skip: canMount ? false : 'needs root and unshare -m', timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-ro-'));
  try {
    const source = readFileSync(join(repo, 'deploy/embedded.tree.yaml'), 'utf8');
    for (const app of ['camera', 'inference', 'web', 'onvif', 'vacuum']) assert.match(source, new RegExp(`command: \\[node, dist/${app}\\.mjs\\]`), `${app} runs its bundle`);
    const { yaml: tree, portOf: ports } = await relocatedEmbeddedTree(dir);
    const file = join(dir, 'tree.yaml');
    writeFileSync(file, tree);
    const env: NodeJS.ProcessEnv = { ...process.env, EDGEVISOR_TREE: file, EDGEVISOR_VAR_DIR: dir };
    delete env.EDGEVISOR_TECHNICIAN_TOKEN;
    delete env.EDGEVISOR_VIEWER_TOKEN;
    delete env.EDGEVISOR_TSX;
    // A private mount namespace: the read-only views exist for this process tree only.
    const ro = (p: string) => `mount --bind '${p}' '${p}' && mount -o remount,bind,ro '${p}'`;
    const script = `set -e; ${ro(repo)}; ${modules.startsWith(`${repo}/`) ? '' : `${ro(modules)};`} touch '${repo}/.ro-probe' 2>/dev/null && { echo "not read-only" >&2; exit 9; }; exec '${process.execPath}' '${join(repo, 'scripts/start-embedded.mjs')}'`;
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const token = await waitFor('the tokens', () => /EDGEVISOR_TECHNICIAN_TOKEN=(\S+)/.exec((() => { try { return readFileSync(join(dir, 'tokens.env'), 'utf8'); } catch { return ''; } })())?.[1] ?? null, 20_000);
      const nodes = async () => {
        const r = await fetch(`http://127.0.0.1:${ports['7070']}/v1/tree`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
        return ((await r.json()) as { nodes: { id: string; state: string; restarts: number }[] }).nodes.filter((n) => ['camera', 'inference', 'web', 'onvif', 'vacuum'].includes(n.id));
      };
      await waitFor('every app running', async () => {
        const apps = await nodes();
        return apps.length === 5 && apps.every((n) => n.state === 'running');
      }, 120_000, 500);
      // Real work, reading models and assets from the read-only tree and writing to the temp one.
      await waitFor('inference processed frames', async () => (await metric(`http://127.0.0.1:${ports['8083']}/metrics`, 'inference_frames_total')) >= 5, 90_000, 500);
      await waitFor('a vacuum run', async () => (await metric(`http://127.0.0.1:${ports['8084']}/metrics`, 'vacuum_last_success_timestamp_seconds')) > 0, 90_000, 500);
      const page = await fetch(`http://127.0.0.1:${ports['8080']}/ui/vendor/preact.mjs`, { signal: AbortSignal.timeout(2000) });
      assert.equal(page.status, 200, 'the dashboard serves its vendored modules from node_modules');
      for (const n of await nodes()) assert.deepEqual([n.id, n.state, n.restarts], [n.id, 'running', 0], `${n.id} never restarted`);
      assert.doesNotMatch(out, /EROFS|read-only file system/i, 'nothing tried to write into the install tree');
      child.kill('SIGINT');
      assert.equal(await exited, 0, out.slice(-3000));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
