// Issue 16, point 9: Ctrl-C on `npm start` is one graceful stop. The start script and the
// supervisor run in their own process group (as under a terminal), SIGINT goes to the whole group
// (as Ctrl-C does) and the script forwards it too: one stop, stop events recorded, no child left,
// the camera's /dev/shm frames folder removed. A small tree on free ports (EDGEVISOR_TREE/VAR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isProcessAlive } from '../../supervisor/src/backends/index.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { httpChild, repoRoot } from '../helpers/tree.ts';

test('SIGINT to the npm start process group: one graceful stop, stop events, nothing left behind', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-sigint-'));
  const [camPort, webPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'cameras.yaml'), 'cameras:\n  - id: dock\n    source: { synthetic: { period_s: 12 } }\n    fps: 2\n    width: 160\n    height: 90\n');
  const tree = join(dir, 'tree.yaml');
  writeFileSync(
    tree,
    `version: 1\nname: box\napi: { listen: "127.0.0.1:0" }\nstore: { path: ./events.db }\nchildren:
  - id: camera
    shutdown: 5s
    process:
      command: [${JSON.stringify(process.execPath)}, --import, tsx, apps/camera/src/main.ts]
      cwd: ${JSON.stringify(repoRoot)}
      env: { PORT: "${camPort}", CAMERAS_FILE: ${JSON.stringify(join(dir, 'cameras.yaml'))} }
    probes:
      - { name: live, http: { url: "http://127.0.0.1:${camPort}/healthz" }, every: 500ms, timeout: 1s, startup_grace: 30s }
  - id: web
    shutdown: 2s
    process: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(httpChild)}], env: { PORT: "${webPort}" } }
    probes:
      - { name: live, http: { url: "http://127.0.0.1:${webPort}/healthz" }, every: 500ms, timeout: 1s, startup_grace: 5s }
`,
  );
  const start = spawn(process.execPath, [join(repoRoot, 'scripts/start-embedded.mjs')], {
    cwd: repoRoot,
    detached: true, // its own process group, like a shell job: the group is what Ctrl-C signals
    env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_TREE: tree, EDGEVISOR_VAR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  start.stdout!.on('data', (d) => (out += d));
  start.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => start.once('exit', (code) => r(code)));
  try {
    const url = await waitFor('API URL', () => /API listening on (http:\/\/\S+)/.exec(out)?.[1], 30_000);
    const token = /EDGEVISOR_TECHNICIAN_TOKEN=(\S+)/.exec(readFileSync(join(dir, 'tokens.env'), 'utf8'))![1];
    const nodes = async () => ((await (await fetch(`${url}/v1/tree`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) })).json()) as { nodes: { id: string; state: string; info?: { pid: number } }[] }).nodes;
    await waitFor('camera and web running', async () => (await nodes()).filter((n) => n.state === 'running').length === 3, 60_000);
    const pids = (await nodes()).filter((n) => n.info?.pid).map((n) => n.info!.pid);
    const camPid = (await nodes()).find((n) => n.id === 'camera')!.info!.pid;
    const frames = `/dev/shm/edgevisor-frames-${camPid}`;
    await waitFor('camera frames folder', () => existsSync(frames), 20_000);

    process.kill(-start.pid!, 'SIGINT'); // Ctrl-C: the whole foreground group
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
    assert.equal(code, 0, out);
    assert.match(out, /SIGINT: stopping box/);
    assert.match(out, /"app":"supervisor","msg":"stopped"}/, "the last line of the supervisor (JSON)");
    assert.doesNotMatch(out, /again: killing every child/, 'the second SIGINT of the same Ctrl-C took the force path');

    for (const pid of pids) assert.equal(isProcessAlive(pid), false, `child ${pid} left running`);
    assert.equal(existsSync(frames), false, `${frames} left behind`);
    const db = new Database(join(dir, 'events.db'), { readonly: true });
    const stops = db.prepare("SELECT child, to_state FROM events WHERE type = 'transition' AND reason = 'supervisor shutting down' ORDER BY seq").all() as { child: string; to_state: string }[];
    db.close();
    for (const id of ['web', 'camera', 'box']) assert.ok(stops.some((s) => s.child === id && s.to_state === 'stopped'), `no stop event for ${id}: ${JSON.stringify(stops)}`);
    // Reverse start order: web stops before the camera.
    assert.ok(stops.findIndex((s) => s.child === 'web') < stops.findIndex((s) => s.child === 'camera'));
  } finally {
    try {
      process.kill(-start.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
