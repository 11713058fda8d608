// sd_notify for containers: real containers feed the supervisor's watchdog through a socket in a
// directory mounted into them (docker.notify_dir/<service>), as compose.yaml mounts a volume. The
// senders in the container are the fixture's (edgevisor's native helper, as the apps send), a
// blocked event loop is caught by the watchdog, senders outside the container do not count, a
// container whose environment or mounts do not match the tree is refused with what to change,
// and a new supervisor adopts a running container whose pings then reach its own socket.
// (The other side of the sender rule, a supervisor in a container of its own that sees pid 0,
// runs in the compose stack: test/e2e/faults.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDockerBackend, createDockerClient, type DockerBackend } from '../../supervisor/src/backends/docker/index.ts';
import { checkContainer } from '../../supervisor/src/backends/docker/notify.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { sendNotify } from '../../supervisor/src/notify/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTestProject, docker, dockerUnavailable, fault, type TestContainer, type TestProject } from '../helpers/docker.ts';
import { waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';

const skip = (await dockerUnavailable()) ?? false;
const NATIVE = resolve(repoRoot, 'supervisor/native/build');

interface Harness {
  tree: Tree;
  events: TreeEvent[];
  backend: DockerBackend;
  close(): Promise<void>;
}

const live = (c: TestContainer) => ({ http: { url: `${c.url}/healthz` }, every: '500ms', timeout: '1s', failures: 3, startup_grace: '20s' });

async function startTree(proj: TestProject, notifyDir: string, children: object[]): Promise<Harness> {
  const spec = parseTreeObject({ version: 1, name: 'box', intensity: 50, period: '60s', backoff: { initial: '200ms', max: '2s', reset_after: '60s' }, docker: { project: proj.name, timeout: '20s', notify_dir: notifyDir }, children });
  const backend = createDockerBackend({ project: proj.name, timeoutMs: 20_000, notifyDir: spec.docker!.notifyDir! });
  const tree = createTree(spec, { backends: { docker: backend }, baseDir: process.cwd() });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  await tree.start();
  return { tree, events, backend, close: async () => (await tree.stop(), backend.close()) };
}

describe('sd_notify for containers through a mounted socket', { skip, timeout: 300_000 }, () => {
  let proj: TestProject;
  let notifyDir: string;
  let web: TestContainer, camera: TestContainer, onvif: TestContainer, vacuum: TestContainer;
  let h: Harness | undefined;
  const notifyEnv = (usec: number) => ({ NOTIFY_SOCKET: '/run/notify/notify.sock', WATCHDOG_USEC: String(usec), NOTIFY_ADDON: '/native/notify.node' });
  const mounts = (service: string) => [`${join(notifyDir, service)}:/run/notify`, `${NATIVE}:/native:ro`];

  before(async () => {
    notifyDir = mkdtempSync(join(tmpdir(), 'ev-notify-dir-'));
    for (const s of ['web', 'onvif', 'vacuum']) mkdirSync(join(notifyDir, s), { mode: 0o711 });
    proj = await createTestProject('ev-notify');
    web = await proj.create('web', { env: notifyEnv(1_000_000), volumes: mounts('web') });
    camera = await proj.create('camera');
    // Set up wrong, each in its own way: no NOTIFY_SOCKET; a WATCHDOG_USEC longer than the tree's watchdog.
    onvif = await proj.create('onvif', { volumes: mounts('onvif') });
    vacuum = await proj.create('vacuum', { env: notifyEnv(5_000_000), volumes: mounts('vacuum') });
  });
  after(async () => {
    await h?.close();
    await proj?.cleanup();
    rmSync(notifyDir, { recursive: true, force: true });
  });

  test('pings from the container keep it up; a blocked loop is caught in one period; outside senders do not count; siblings untouched', async () => {
    h = await startTree(proj, notifyDir, [
      { id: 'web', docker: { service: 'web' }, watchdog: '1s', shutdown: '1s', probes: [live(web)] },
      { id: 'camera', docker: { service: 'camera' }, shutdown: '1s', probes: [live(camera)] },
    ]);
    const tree = h.tree;
    await waitFor('web running', () => tree.child('web')?.state === 'running', 30_000);
    const first = await waitFor('a ping', () => tree.child('web')?.notify?.lastPingAt, 10_000);
    await waitFor('pings go on', () => (tree.child('web')?.notify?.lastPingAt ?? 0) > first, 10_000);
    assert.equal(tree.child('web')?.notify?.ready, true, 'READY=1 from inside the container arrived');
    const cameraStarted = (await proj.inspect(camera.id)).startedAt;
    const webStarted = (await proj.inspect(web.id)).startedAt;

    // Senders that hold the same socket but are not the container: a process on the host, and
    // another container with the directory mounted. Both keep pinging through the hang.
    const foreign = await proj.create('intruder', { foreign: true, env: notifyEnv(200_000), volumes: mounts('web') });
    await docker(['start', foreign.id]);
    const hostPings = setInterval(() => {
      try {
        sendNotify(join(notifyDir, 'web', 'notify.sock'), 'WATCHDOG=1');
      } catch {
        // The socket is rebound while web restarts.
      }
    }, 100);
    try {
      await waitFor('outside datagrams refused', () => (tree.child('web')?.notify?.rejected ?? 0) >= 3, 10_000);
      await fault(web.url, 'hang');
      const verdict = await waitFor('watchdog verdict', () => h!.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === 'unhealthy'), 15_000, 20);
      assert.equal(verdict.data?.['watchdog'], true, JSON.stringify(verdict));
      const age = verdict.data?.['ageMs'] as number;
      // The last ping came at most half a period before the hang: one period, not three probe periods.
      assert.ok(age >= 1000 && age < 2500, `caught ${age}ms after the last ping (watchdog 1s)`);
      const restart = h.events.find((e) => e.type === 'restart' && e.child === 'web');
      assert.match(String(restart?.data?.['words']), /^watchdog: no WATCHDOG=1 for \d\.\d s \(watchdog 1000 ms\)$/);
      await waitFor('web back', async () => tree.child('web')?.state === 'running' && (await proj.inspect(web.id)).startedAt !== webStarted, 40_000, 100);
      await waitFor('pings after the restart', () => tree.child('web')?.notify?.lastPingAt, 10_000);
    } finally {
      clearInterval(hostPings);
      await docker(['rm', '-f', foreign.id]).catch(() => {});
    }
    assert.equal(tree.child('camera')?.restarts, 0);
    assert.equal((await proj.inspect(camera.id)).startedAt, cameraStarted, 'camera was not touched');
  });

  test('a new supervisor adopts the running container: its pings reach the new socket, no restart', async () => {
    const started = (await proj.inspect(web.id)).startedAt;
    await h!.tree.stop({ leaveRunning: true }); // what a SIGTERM does with docker.on_exit: leave
    h!.backend.close();
    h = undefined;
    assert.equal((await proj.inspect(web.id)).running, true);
    h = await startTree(proj, notifyDir, [{ id: 'web', docker: { service: 'web' }, watchdog: '1s', shutdown: '1s', probes: [live(web)] }]);
    const tree = h.tree;
    await waitFor('web running', () => tree.child('web')?.state === 'running', 30_000);
    const adopted = h.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === 'starting');
    assert.match(String(adopted?.reason), /adopted/);
    const ping = await waitFor('a ping to the new socket', () => tree.child('web')?.notify?.lastPingAt, 10_000);
    await waitFor('and more', () => (tree.child('web')?.notify?.lastPingAt ?? 0) > ping, 10_000);
    assert.equal(tree.child('web')?.notify?.ready, true, 'an adopted container counts as ready');
    assert.equal((await proj.inspect(web.id)).startedAt, started, 'adopted, not restarted');
    assert.equal(tree.child('web')?.restarts, 0);
  });

  test('a container whose environment does not match the tree is refused with what to change', async () => {
    await h?.close();
    h = await startTree(proj, notifyDir, [
      { id: 'onvif', docker: { service: 'onvif' }, watchdog: '1s', shutdown: '1s' },
      { id: 'vacuum', docker: { service: 'vacuum' }, watchdog: '1s', shutdown: '1s' },
    ]);
    const failed = (id: string) => h!.events.find((e) => e.type === 'transition' && e.child === id && e.to !== 'starting' && /start failed/.test(String(e.reason)));
    const onvifFail = await waitFor('onvif refused', () => failed('onvif'), 20_000);
    assert.match(String(onvifFail.reason), /no NOTIFY_SOCKET: in compose\.yaml give service onvif NOTIFY_SOCKET=\/run\/notify\/notify\.sock/);
    const vacuumFail = await waitFor('vacuum refused', () => failed('vacuum'), 20_000);
    assert.match(String(vacuumFail.reason), /WATCHDOG_USEC is "5000000": .* at most|from 1 to 1000000/);
    assert.equal((await proj.inspect(onvif.id)).running, false, 'a refused container is not started');
    assert.equal((await proj.inspect(vacuum.id)).running, false);
    for (const e of h.events) assert.ok(!String(e.reason ?? '').includes(notifyDir), `no server path in ${e.reason}`);
  });

  test('a supervisor in a container of its own: the mount is the boundary, and a second running container holding it is refused', async () => {
    const client = createDockerClient({ timeoutMs: 20_000 });
    const dir = join(notifyDir, 'web');
    const key = `bind:${realpathSync(dir)}`;
    // As the compose stack's supervisor sees it: its own container mounts the directory at docker.notify_dir/web.
    const own = async () => ({ id: 'supervisor-container', mounts: [{ destination: dir, key }] });
    const deps = { client, project: proj.name, ownContainer: own };
    const st = await client.inspect(web.id);
    assert.equal(await checkContainer('web', 'web', st, { watchdogMs: 1000, dir }, deps), true);
    const other = await proj.create('thief', { volumes: mounts('web') });
    await docker(['start', other.id]);
    await assert.rejects(checkContainer('web', 'web', st, { watchdogMs: 1000, dir }, deps), /service thief also mounts web's notify volume: only web may/);
    await assert.rejects(checkContainer('web', 'web', st, { watchdogMs: 1000, dir: join(notifyDir, 'vacuum') }, deps), /the supervisor has nothing mounted at docker\.notify_dir\/web/);
  });
});
