/**
 * `npm start` smoke test: scripts/start-embedded.mjs with the embedded tree moved to free ports and
 * a temp folder (EDGEVISOR_TREE, EDGEVISOR_VAR_DIR), so it runs beside another appliance. It
 * prints the dashboard URL first, on its own line, and where the technician token is; the URL
 * serves the page; inference reads both cameras' frames through their rings in the FRAMES_DIR the
 * script gives both apps (GET /cameras names no directory); SIGINT stops every child and removes
 * that directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { relocatedEmbeddedTree } from '../helpers/embedded-tree.ts';
import { waitFor } from '../helpers/net.ts';

const repo = resolve(import.meta.dirname, '../..');
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('npm start prints the dashboard URL first, the URL serves the page, frames go through the rings, SIGINT stops every child', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'start-embedded-'));
  try {
    const { yaml: tree, portOf: ports } = await relocatedEmbeddedTree(dir);
    const file = join(dir, 'tree.yaml');
    writeFileSync(file, tree);
    const env: NodeJS.ProcessEnv = { ...process.env, EDGEVISOR_TREE: file, EDGEVISOR_VAR_DIR: dir };
    delete env.EDGEVISOR_TECHNICIAN_TOKEN;
    delete env.EDGEVISOR_VIEWER_TOKEN;
    delete env.FRAMES_DIR;
    const child = spawn(process.execPath, [join(repo, 'scripts/start-embedded.mjs')], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', () => undefined);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${ports['8080']}/`;
      await waitFor('the first line', () => out.includes('\n'), 10_000);
      assert.equal(out.split('\n')[0], `edgevisor dashboard: ${url}`);
      assert.match(out.split('\n')[1]!, /technician sign-in: .*EDGEVISOR_TECHNICIAN_TOKEN from .*tokens\.env/);
      const page = await waitFor('the dashboard page', async () => {
        const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
        return r.status === 200 ? r.text() : null;
      }, 90_000, 500);
      assert.match(page, /edgevisor dashboard/);
      const token = /EDGEVISOR_TECHNICIAN_TOKEN=(\S+)/.exec(readFileSync(join(dir, 'tokens.env'), 'utf8'))![1]!;
      assert.ok(!page.includes(token));
      const snap = await waitFor('every app running', async () => {
        const r = await fetch(`http://127.0.0.1:${ports['7070']}/v1/tree`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
        const t = (await r.json()) as { nodes: { id: string; state: string; info?: { pid?: number } }[] };
        const apps = t.nodes.filter((n) => ['camera', 'inference', 'web', 'onvif', 'vacuum'].includes(n.id));
        return apps.length === 5 && apps.every((n) => n.state === 'running') ? apps : null;
      }, 90_000, 500);
      const pids = snap.map((n) => n.info!.pid!).filter(Boolean);
      assert.equal(pids.length, 5);
      // The script's per-run frames directory (its pid), passed to camera and inference.
      const framesDir = join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `edgevisor-frames-${child.pid}`);
      await waitFor('both cameras through the frame ring', async () => {
        const m = await (await fetch(`http://127.0.0.1:${ports['8083']}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
        return ['dock', 'press'].every((c) => m.split('\n').some((l) => l.startsWith('inference_frame_path{') && l.includes(`camera="${c}"`) && l.includes('path="ring"') && l.endsWith(' 1')));
      }, 60_000, 500);
      assert.ok(existsSync(join(framesDir, 'dock.ring')), `dock's ring in ${framesDir}`);
      const cams = await (await fetch(`http://127.0.0.1:${ports['8081']}/cameras`, { signal: AbortSignal.timeout(2000) })).text();
      assert.ok(!cams.includes(framesDir), 'GET /cameras names no directory');
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      await waitFor('every child gone', () => pids.every((p) => !alive(p)), 15_000);
      assert.equal(existsSync(framesDir), false, 'the frames directory removed at exit');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
