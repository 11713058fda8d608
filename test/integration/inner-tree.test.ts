// One tree across the box, through real processes: a real supervisor (tree + SQLite store + API on
// 127.0.0.1:0) runs the real camera controller (apps/camera, three synthetic cameras) as a process
// child with `inner_tree`, and merges the controller's per-camera workers under `camera`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, call, startService, tempDir, type Service } from './api-helpers.ts';
import type { ChildSnapshot, TreeSnapshot } from '../../supervisor/src/runtime/types.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';

const bin = resolve('bin/edgevisor.mjs');

interface CameraStats {
  id: string;
  framesTotal: number;
  expectedFps: number;
  cameraFps: number;
  stallsLastHour: number;
  restartsLastHour: number;
  reconnectsLastHour: number;
  lastFrameAgeMs: number | null;
  workerRuns: number;
  worker: { id: string; state: string; restarts: number; lastRestartReason: string | null } | null;
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgevisor ${args.join(' ')} did not finish; ${stdout} ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('inner tree: the camera controller\'s workers in the supervisor\'s tree', () => {
  const tmp = tempDir();
  let svc: Service;
  let camUrl: string;
  const node = (id: string): ChildSnapshot | undefined => svc.tree.child(id);
  const cameras = async (): Promise<Map<string, CameraStats>> => {
    const r = await fetch(`${camUrl}/cameras`, { signal: AbortSignal.timeout(3_000) });
    const body = (await r.json()) as { cameras: CameraStats[] };
    return new Map(body.cameras.map((c) => [c.id, c]));
  };
  const events = async (since = 0): Promise<TreeEvent[]> => (await call(`${svc.url}/v1/events?since=${since}&limit=1000`, { token: VIEWER })).body.events;

  before(async () => {
    const port = await freePort();
    camUrl = `http://127.0.0.1:${port}`;
    const camerasFile = join(tmp.dir, 'cameras.yaml');
    // dock: restarted by hand; gate: must keep counting meanwhile; yard: its worker hangs after 5
    // frames per run (CAMERA_FAILPOINT), so the controller restarts it on its heartbeat.
    writeFileSync(
      camerasFile,
      ['dock', 'gate', 'yard']
        .map((id) => `  - { id: ${id}, source: { synthetic: {} }, fps: 5, width: 160, height: 90${id === 'yard' ? ', heartbeat_timeout_ms: 1000' : ''} }`)
        .reduce((a, l) => `${a}${l}\n`, 'cameras:\n'),
    );
    svc = await startService(
      {
        version: 1,
        name: 'box',
        strategy: 'one_for_one',
        intensity: 10,
        period: '10s',
        backoff: { initial: '100ms', max: '1s', reset_after: '10s' },
        children: [
          {
            id: 'camera',
            shutdown: '5s',
            process: {
              command: [process.execPath, '--import', 'tsx', 'apps/camera/src/main.ts'],
              env: { PORT: String(port), CAMERAS_FILE: camerasFile, FRAMES_DIR: join(tmp.dir, 'frames'), CAMERA_FAILPOINT: 'hang:yard:5' },
            },
            probes: [{ name: 'live', http: { url: `${camUrl}/healthz` }, every: '500ms', timeout: '1s', failures: 3, startup_grace: '30s' }],
            inner_tree: { url: camUrl, every: '200ms', timeout: '150ms' },
          },
        ],
      },
      join(tmp.dir, 'events.db'),
    );
    await waitFor('camera running with its inner tree fetched', () => node('camera')?.state === 'running' && node('camera/gate')?.stale === false, 40_000);
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  test('GET /v1/tree and edgevisor status show every camera worker under camera', async () => {
    const r = await call(`${svc.url}/v1/tree`, { token: VIEWER });
    assert.equal(r.status, 200);
    const tree = r.body as TreeSnapshot;
    const ids = tree.nodes.map((n) => n.id);
    assert.deepEqual(ids, ['box', 'camera', 'camera/dock', 'camera/gate', 'camera/yard'], 'inner nodes follow their child, in the app\'s order, without the app\'s root');
    const camera = tree.nodes[1]!;
    assert.deepEqual(camera.children, ['camera/dock', 'camera/gate', 'camera/yard']);
    assert.equal(camera.innerTree!.stale, false);
    assert.equal(camera.innerTree!.state, 'running');
    for (const n of tree.nodes.slice(2)) {
      assert.equal(n.parent, 'camera');
      assert.equal(n.inner, true);
      assert.equal(n.type, 'worker');
      assert.equal(n.stale, false);
      assert.ok(typeof n.since === 'number' && typeof n.restarts === 'number' && 'lastRestartReason' in n, JSON.stringify(n));
      // Each camera worker is a typed worker: its own state comes through the merge.
      assert.match(String(n.workerState), /^(connecting|streaming|reconnecting)$/);
      assert.ok(typeof n.workerStateSince === 'number', JSON.stringify(n));
    }
    const one = await call(`${svc.url}/v1/children/camera%2Fgate`, { token: VIEWER });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.id, 'camera/gate');
    assert.deepEqual(one.body.logs, []);

    const status = await cli(['status'], { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: VIEWER });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\n {2}camera\s+running\s+-\s+\S+\s+0\s+-\n {4}camera\/dock\s+(running|starting)\s+(connecting|streaming|reconnecting) \d+s\s/);
    assert.match(status.stdout, /\n {4}camera\/gate\s+running\s/);
  });

  test('a camera worker that hangs is restarted by the controller: reason words under camera/yard and in the event log', async () => {
    const yard = await waitFor('camera/yard restarted', () => {
      const n = node('camera/yard');
      return n && n.restarts >= 1 && n.lastRestartReason ? n : undefined;
    }, 30_000);
    assert.match(yard.lastRestartReason!, /^no heartbeat in streaming for \d+\.\d s, limit 1 s$/);
    const logged = await waitFor('the restart in the supervisor\'s event log', async () => (await events()).find((e) => e.type === 'restart' && e.child === 'camera/yard'), 10_000);
    assert.equal(logged.data?.['inner'], true);
    assert.match(String(logged.data?.['words']), /^no heartbeat in streaming for /);
    assert.equal(logged.data?.['cause'], 'deadline');
    assert.equal(logged.data?.['deadline'], 'heartbeat');
    // The worker's own state changes reach the supervisor's log too.
    const changes = (await events()).filter((e) => e.type === 'worker_state' && e.child === 'camera/yard');
    assert.ok(changes.some((e) => e.reason === 'connecting -> streaming' && e.data?.['inner'] === true), changes.map((e) => e.reason).join(' | '));
    const transitions = (await events()).filter((e) => e.type === 'transition' && e.child === 'camera/yard').map((e) => e.to);
    assert.ok(transitions.includes('unhealthy') && transitions.includes('backoff'), `every step of the restart, not just a diff: ${transitions.join(',')}`);
    const stats = (await cameras()).get('yard')!;
    assert.ok(stats.stallsLastHour >= 1, JSON.stringify(stats));
    assert.equal(stats.worker?.id, 'yard');
    assert.equal(node('camera')!.restarts, 0, 'the container (process) was not restarted');
  });

  test('restarting one camera worker through the supervisor restarts only it; gate keeps counting', async () => {
    const before = svc.store.lastSeq();
    const pid = node('camera')!.info?.pid;
    const cams0 = await cameras();
    const bad = await call(`${svc.url}/v1/children/camera%2Fdock/restart`, { method: 'POST', token: TECH, headers: { 'x-edgevisor-via': 'telnet' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'EDGEVISOR_ERR_BAD_REQUEST');
    const viewer = await call(`${svc.url}/v1/children/camera%2Fdock/restart`, { method: 'POST', token: VIEWER });
    assert.equal(viewer.status, 403);

    const r = await call(`${svc.url}/v1/children/camera%2Fdock/restart`, { method: 'POST', token: TECH, headers: { 'x-edgevisor-via': 'dashboard' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { accepted: true, action: 'restart', child: 'camera/dock' });
    await waitFor('camera/dock restarted by the technician', () => node('camera/dock')?.lastRestartReason === 'restarted by a technician (dashboard)' && node('camera/dock')?.state === 'running', 15_000);
    const cams1 = await waitFor('dock delivering again', async () => {
      const c = await cameras();
      return c.get('dock')!.workerRuns > cams0.get('dock')!.workerRuns && c.get('dock')!.framesTotal > cams0.get('dock')!.framesTotal ? c : undefined;
    }, 15_000);
    // dock can be back within one of gate's frame intervals (200 ms): wait for gate's next frame, not for luck.
    const gate = await waitFor('gate delivering meanwhile', async () => {
      const g = (await cameras()).get('gate')!;
      return g.framesTotal > cams0.get('gate')!.framesTotal ? g : undefined;
    }, 5_000);
    assert.ok(cams1.get('gate')!.framesTotal >= cams0.get('gate')!.framesTotal);
    assert.equal(gate.workerRuns, cams0.get('gate')!.workerRuns, 'gate\'s worker was not restarted');
    assert.equal(gate.worker!.restarts, 0);
    assert.equal(node('camera')!.info?.pid, pid, 'the camera process was not restarted');

    const after = await waitFor('the manual event and the worker\'s own steps in the log', async () => {
      const evs = await events(before);
      return evs.some((e) => e.type === 'transition' && e.child === 'camera/dock' && e.to === 'running') ? evs : undefined;
    }, 10_000);
    const manual = after.filter((e) => e.type === 'manual' && e.child === 'camera/dock');
    assert.equal(manual.length, 1, `recorded once, by the supervisor (the app's echo is skipped): ${JSON.stringify(manual)}`);
    assert.equal(manual[0]!.data?.['role'], 'technician');
    assert.equal(manual[0]!.data?.['via'], 'dashboard');
    assert.equal(manual[0]!.data?.['words'], 'restarted by a technician (dashboard)');
    assert.ok(!after.some((e) => e.child === 'camera/gate' && e.type === 'transition'), 'nothing happened to gate');
  });

  test('unknown inner ids 404, conflicts 409 (the app\'s answers), stop and start go through', async () => {
    const unknown = await call(`${svc.url}/v1/children/camera%2Fnope/restart`, { method: 'POST', token: TECH });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'EDGEVISOR_ERR_UNKNOWN_CHILD');
    assert.match(unknown.body.error.message, /camera\/dock/, 'the known ids include the inner ones');
    const stop = await call(`${svc.url}/v1/children/camera%2Fgate/stop`, { method: 'POST', token: TECH });
    assert.equal(stop.status, 202);
    await waitFor('camera/gate stopped', () => node('camera/gate')?.state === 'stopped' && node('camera/gate')?.manuallyStopped, 10_000);
    const again = await call(`${svc.url}/v1/children/camera%2Fgate/stop`, { method: 'POST', token: TECH });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
    const start = await call(`${svc.url}/v1/children/camera%2Fgate/start`, { method: 'POST', token: TECH });
    assert.equal(start.status, 202);
    await waitFor('camera/gate running again', () => node('camera/gate')?.state === 'running', 10_000);

    const before = svc.store.lastSeq();
    const viaCli = await cli(['restart', 'camera/gate'], { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH });
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaCli.stdout.trim(), 'restart requested: camera/gate');
    await waitFor('camera/gate restarted from the CLI', () => node('camera/gate')?.lastRestartReason === 'restarted by a technician (cli)' && node('camera/gate')?.state === 'running', 10_000);
    const manual = (await events(before)).filter((e) => e.type === 'manual' && e.child === 'camera/gate');
    assert.deepEqual(manual.map((e) => e.data?.['via']), ['cli']);
  });

  test('/cameras gives the per-camera stats the dashboard needs', async () => {
    const gate = (await cameras()).get('gate')!;
    assert.equal(gate.expectedFps, 5);
    assert.ok(gate.cameraFps > 0, JSON.stringify(gate));
    assert.ok(gate.framesTotal > 0);
    assert.ok(gate.lastFrameAgeMs !== null && gate.lastFrameAgeMs >= 0);
    assert.equal(gate.reconnectsLastHour, 0);
    assert.equal(gate.stallsLastHour, 0);
    assert.equal(gate.worker!.state, 'running');
  });

  test('the app frozen (SIGSTOP): inner nodes go stale, the supervisor keeps answering; back fresh after the restart', async () => {
    const pid = node('camera')!.info!.pid as number;
    const seq0 = svc.store.lastSeq();
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor('inner nodes stale', () => node('camera/dock')?.stale === true && node('camera')?.innerTree?.stale === true, 10_000);
      const t0 = performance.now();
      const r = await call(`${svc.url}/v1/tree`, { token: VIEWER });
      assert.equal(r.status, 200);
      assert.ok(performance.now() - t0 < 1_000, 'the tree is served from the last answer, not waited for');
      assert.ok((r.body as TreeSnapshot).nodes.filter((n) => n.inner).every((n) => n.stale), 'every inner node is marked');
      assert.match(String(node('camera')!.innerTree!.error), /no answer within 150ms/);
      const forward = await call(`${svc.url}/v1/children/camera%2Fdock/restart`, { method: 'POST', token: TECH });
      assert.equal(forward.status, 502);
      assert.equal(forward.body.error.code, 'EDGEVISOR_ERR_INNER_UNAVAILABLE');
      const health = await call(`${svc.url}/healthz`);
      assert.equal(health.status, 200);
      // The camera's own probe finds it hung: the supervisor kills and replaces it.
      await waitFor('the frozen camera app replaced', () => node('camera')?.info?.pid !== pid, 30_000);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already killed
      }
    }
    await waitFor('camera restarted by its probe, inner tree fresh again', () => node('camera')?.state === 'running' && node('camera/gate')?.stale === false, 40_000);
    assert.notEqual(node('camera')!.info?.pid, pid, 'the frozen app was killed (hung) and replaced');
    assert.match(node('camera')!.lastRestartReason!, /^hung: probe live \(http\) timed out 3 times in /);
    // The new app run numbers its events from 1 again: the supervisor follows the new instance.
    const evs = await events(seq0);
    assert.ok(evs.some((e) => e.child === 'camera/gate' && e.type === 'transition' && e.from === 'stopped' && e.to === 'starting'), 'the new run\'s events are replayed');
  });

  test('the app stopped: inner nodes stay listed as stale with their last known values', async () => {
    const stop = await call(`${svc.url}/v1/children/camera/stop`, { method: 'POST', token: TECH });
    assert.equal(stop.status, 202);
    await waitFor('camera stopped', () => node('camera')?.state === 'stopped', 15_000);
    const tree = (await call(`${svc.url}/v1/tree`, { token: VIEWER })).body as TreeSnapshot;
    const inner = tree.nodes.filter((n) => n.inner);
    assert.equal(inner.length, 3);
    assert.ok(inner.every((n) => n.stale === true));
    const status = await cli(['status'], { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: VIEWER });
    assert.match(status.stdout, /\n {4}camera\/dock\s+\S+ \(stale\)\s+(?:connecting|streaming|reconnecting)\s+-\s/, 'the last known worker state, no uptime for what is not known to be up');
    const refused = await call(`${svc.url}/v1/children/camera%2Fdock/restart`, { method: 'POST', token: TECH });
    assert.equal(refused.status, 409);
    // Adding and deleting are refused the same way: nobody is there to take them.
    const del = await call(`${svc.url}/v1/children/camera%2Fdock`, { method: 'DELETE', token: TECH });
    assert.equal(del.status, 409);
    assert.equal(del.body.error.message, 'camera/dock: camera is stopped; start camera first');
  });
});

describe('inner tree: an app without /v1/events', () => {
  test('events are derived from snapshot diffs: a restart of an inner worker is recorded with its words', async () => {
    // The "app": a library tree of one in-process worker that crashes on demand, served on a real
    // port with GET /v1/tree only. The outer child is a real process (http-child) so it is up.
    const { default: Fastify } = await import('fastify');
    const { createTree } = await import('../../supervisor/src/runtime/tree.ts');
    const { parseTreeObject } = await import('../../supervisor/src/spec/load.ts');
    const { defaultBackends } = await import('../../supervisor/src/backends/index.ts');
    let crash: (() => void) | undefined;
    const appTree = createTree(
      parseTreeObject({
        name: 'app',
        backoff: { initial: '50ms', max: '100ms', reset_after: '10s' },
        children: [{ id: 'job', inproc: { run: async ({ signal }: { signal: AbortSignal }) => new Promise<void>((ok, fail) => {
          crash = () => fail(new Error('job fell over'));
          signal.addEventListener('abort', () => ok(), { once: true });
        }) } }],
      }),
      { backends: defaultBackends() },
    );
    const app = Fastify();
    app.get('/v1/tree', async () => appTree.snapshot());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const appUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    await appTree.start();
    const tmp = tempDir();
    const port = await freePort();
    const svc = await startService(
      {
        version: 1,
        name: 'box',
        children: [
          {
            id: 'svc',
            process: { command: [process.execPath, resolve('test/fixtures/http-child.js')], env: { PORT: String(port) } },
            probes: [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '250ms', timeout: '1s', startup_grace: '10s' }],
            inner_tree: { url: appUrl, every: '100ms', timeout: '100ms' },
          },
        ],
      },
      join(tmp.dir, 'events.db'),
    );
    try {
      await waitFor('svc/job merged', () => svc.tree.child('svc/job')?.stale === false, 15_000);
      crash!();
      const ev = await waitFor('a derived restart event for svc/job', () => svc.store.since(0, 1000).find((e) => e.type === 'restart' && e.child === 'svc/job'), 10_000);
      assert.equal(ev.data?.['derived'], true);
      assert.equal(ev.data?.['words'], 'crashed: job fell over');
      await waitFor('svc/job running again', () => svc.tree.child('svc/job')?.state === 'running' && svc.tree.child('svc/job')?.restarts === 1, 10_000);
      assert.equal(svc.tree.child('svc/job')!.lastRestartReason, 'crashed: job fell over');
    } finally {
      await svc.close();
      await appTree.stop();
      await app.close();
      tmp.remove();
    }
  });
});
