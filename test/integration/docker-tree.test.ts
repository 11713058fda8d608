// Supervision of real containers through the real runtime: a crash, a frozen container and a
// throughput stall each restart only the failing container; rest_for_one restarts the dependant;
// the API refuses to act on a container outside the project.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { createDockerBackend, type DockerBackend } from '../../supervisor/src/backends/docker/index.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTestProject, docker, dockerUnavailable, fault, waitHealthy, type TestContainer, type TestProject } from '../helpers/docker.ts';
import { waitFor } from '../helpers/net.ts';

const skip = (await dockerUnavailable()) ?? false;
const TECH = 'technician-token-456';

const live = (c: TestContainer) => ({ name: 'live', http: { url: `${c.url}/healthz` }, every: '500ms', timeout: '500ms', failures: 3, startup_grace: '20s' });
const frames = (c: TestContainer) => ({ name: 'frames', throughput: { url: `${c.url}/metrics`, metric: 'frames_total', min_rate: 5, window: '2s' }, every: '500ms', timeout: '1s', failures: 2, startup_grace: '20s' });
const worker = (c: TestContainer, probes: object[]) => ({ id: c.service, shutdown: '1s', docker: { service: c.service }, probes });

interface Harness {
  tree: Tree;
  events: TreeEvent[];
  backend: DockerBackend;
  state(id: string): string | undefined;
  restarts(id: string): number;
  close(): Promise<void>;
}

async function startTree(proj: TestProject, treeObj: Record<string, unknown>): Promise<Harness> {
  const spec = parseTreeObject({ version: 1, name: 'box', intensity: 20, period: '60s', backoff: { initial: '100ms', max: '1s', reset_after: '60s' }, docker: { project: proj.name, timeout: '20s' }, ...treeObj });
  const backend = createDockerBackend({ project: proj.name, timeoutMs: 20_000 });
  const tree = createTree(spec, { backends: { docker: backend }, baseDir: process.cwd() });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  await tree.start();
  return {
    tree,
    events,
    backend,
    state: (id) => tree.child(id)?.state,
    restarts: (id) => tree.child(id)?.restarts ?? -1,
    close: async () => {
      await tree.stop();
      backend.close();
    },
  };
}

/** What must not change on a container we did not mean to restart. */
async function marks(proj: TestProject, cs: readonly TestContainer[]) {
  return Promise.all(cs.map(async (c) => {
    const s = await proj.inspect(c.id);
    return { service: c.service, running: s.running, startedAt: s.startedAt, restartCount: s.restartCount };
  }));
}

const started = async (proj: TestProject, c: TestContainer) => (await proj.inspect(c.id)).startedAt;

describe('docker children under one_for_one', { skip, timeout: 400_000 }, () => {
  let proj: TestProject;
  let h: Harness;
  let web: TestContainer, camera: TestContainer, vacuum: TestContainer, onvif: TestContainer;
  before(async () => {
    proj = await createTestProject();
    web = await proj.create('web');
    camera = await proj.create('camera');
    vacuum = await proj.create('vacuum');
    onvif = await proj.create('onvif');
    // onvif has a long grace: a hung container must not wait it out (hung_shutdown, default brutal_kill).
    h = await startTree(proj, { children: [worker(web, [live(web)]), worker(camera, [live(camera)]), worker(vacuum, [live(vacuum), frames(vacuum)]), { ...worker(onvif, [live(onvif)]), shutdown: '60s' }] });
    for (const id of ['web', 'camera', 'vacuum', 'onvif']) assert.equal(h.state(id), 'running', id);
  });
  after(async () => {
    await h?.close();
    await proj?.cleanup();
  });

  test('a crashed container is restarted alone; siblings keep StartedAt and RestartCount; the event log has the exit code', async () => {
    const others = await marks(proj, [web, vacuum]);
    const before = await started(proj, camera);
    await fault(camera.url, 'crash?code=3');
    await waitFor('camera restarted', async () => h.state('camera') === 'running' && (await started(proj, camera)) !== before, 60_000, 100);
    assert.equal(h.restarts('camera'), 1);
    assert.deepEqual([h.restarts('web'), h.restarts('vacuum')], [0, 0]);
    assert.deepEqual(await marks(proj, [web, vacuum]), others);
    const exit = h.events.find((e) => e.type === 'exit' && e.child === 'camera');
    assert.equal(exit?.data?.code, 3, JSON.stringify(exit));
    const restart = h.events.find((e) => e.type === 'restart' && e.child === 'camera');
    assert.equal(restart?.data?.exitCode, 3);
    assert.equal(restart?.data?.cause, 'exit');
    await waitHealthy(camera.url, 5000); // serving again (a fresh connection: the old one died with the process)
  });

  test('a Docker child\'s log lines (GET /v1/children/:id, edgevisor logs) are the container\'s own output, across its restart', async () => {
    const app = buildApi({ tree: h.tree, store: { since: () => [], lastSeq: () => 0 }, tokens: { technician: TECH } });
    const url = await listenApi(app, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${url}/v1/children/camera`, { headers: { authorization: `Bearer ${TECH}` }, signal: AbortSignal.timeout(10_000) });
      const logs = ((await res.json()) as { logs: string[] }).logs;
      // The crash of the test above, printed by the process inside before it exited, and the next run's lines.
      assert.ok(logs.some((l) => /^stdout\| http-child\[\d+\] fault: crash with code 3$/.test(l)), JSON.stringify(logs));
      assert.ok(logs.every((l) => /^(stdout|stderr)\| /.test(l)), JSON.stringify(logs));
    } finally {
      await app.close();
    }
  });

  test('a frozen container (docker pause) fails its HTTP probe by timeout and is restarted; siblings untouched', async () => {
    const others = await marks(proj, [camera, vacuum]);
    const before = await started(proj, web);
    const n = h.restarts('web');
    await docker(['pause', web.id]);
    await waitFor('web restarted', async () => h.state('web') === 'running' && (await started(proj, web)) !== before, 90_000, 200);
    assert.equal(h.restarts('web'), n + 1);
    const restart = h.events.findLast((e) => e.type === 'restart' && e.child === 'web');
    assert.equal(restart?.data?.cause, 'probe', JSON.stringify(restart));
    assert.match(String(restart?.data?.error ?? restart?.reason), /timeout|timed out/i);
    assert.equal((await proj.inspect(web.id)).paused, false);
    assert.deepEqual(await marks(proj, [camera, vacuum]), others);
  });

  test('a hung app (event loop blocked, SIGTERM never handled) is killed without waiting its 60 s grace', async () => {
    const others = await marks(proj, [web, camera, vacuum]);
    const before = await started(proj, onvif);
    const t0 = Date.now();
    await fault(onvif.url, 'hang');
    await waitFor('onvif restarted', async () => h.state('onvif') === 'running' && (await started(proj, onvif)) !== before, 40_000, 200);
    const took = Date.now() - t0;
    assert.ok(took < 30_000, `hang -> running took ${took}ms; the 60 s grace was not waited out`);
    const stopping = h.events.findLast((e) => e.type === 'transition' && e.child === 'onvif' && e.to === 'stopping');
    assert.equal(stopping?.data?.shutdown, 'brutal_kill', JSON.stringify(stopping));
    assert.equal(stopping?.data?.hung, true);
    assert.deepEqual(await marks(proj, [web, camera, vacuum]), others);
  });

  test('a throughput stall (frames stop, /healthz fine) is restarted by the throughput probe', async () => {
    const others = await marks(proj, [web, camera]);
    const before = await started(proj, vacuum);
    await fault(vacuum.url, 'stall');
    await waitFor('vacuum restarted', async () => h.state('vacuum') === 'running' && (await started(proj, vacuum)) !== before, 90_000, 200);
    const restart = h.events.findLast((e) => e.type === 'restart' && e.child === 'vacuum');
    assert.equal(restart?.data?.probe, 'frames', JSON.stringify(restart));
    assert.deepEqual(await marks(proj, [web, camera]), others);
  });
});

describe('docker children under rest_for_one, and the API', { skip, timeout: 300_000 }, () => {
  let proj: TestProject;
  let h: Harness;
  let camera: TestContainer, inference: TestContainer, foreign: TestContainer;
  before(async () => {
    proj = await createTestProject();
    camera = await proj.create('camera');
    inference = await proj.create('inference');
    foreign = await proj.create('camera', { foreign: true });
    await docker(['start', foreign.id]);
    h = await startTree(proj, { children: [{ id: 'pipeline', strategy: 'rest_for_one', children: [worker(camera, [live(camera)]), worker(inference, [live(inference)])] }] });
  });
  after(async () => {
    await h?.close();
    await proj?.cleanup();
  });

  test('the dependant restarts with its dependency, not the other way round', async () => {
    const cam0 = await started(proj, camera);
    const inf0 = await started(proj, inference);
    await fault(camera.url, 'crash?code=2');
    await waitFor('both restarted', async () => h.state('camera') === 'running' && h.state('inference') === 'running' && (await started(proj, inference)) !== inf0 && (await started(proj, camera)) !== cam0, 60_000, 100);
    const cam1 = await started(proj, camera);
    const inf1 = await started(proj, inference);
    await fault(inference.url, 'crash?code=2');
    await waitFor('inference restarted', async () => h.state('inference') === 'running' && (await started(proj, inference)) !== inf1, 60_000, 100);
    assert.equal(await started(proj, camera), cam1, 'camera untouched by its dependant');
  });

  test('the API refuses to act on a container outside the project (404) and leaves it untouched', async () => {
    const app = buildApi({ tree: h.tree, store: { since: () => [], lastSeq: () => 0 }, tokens: { technician: TECH } });
    const url = await listenApi(app, { host: '127.0.0.1', port: 0 });
    try {
      const before = await proj.inspect(foreign.id);
      for (const target of [foreign.name, foreign.id, foreign.id.slice(0, 12)]) {
        for (const action of ['restart', 'stop']) {
          const res = await fetch(`${url}/v1/children/${encodeURIComponent(target)}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${TECH}` }, signal: AbortSignal.timeout(5000) });
          assert.equal(res.status, 404, `${action} ${target}`);
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
      const afterCalls = await proj.inspect(foreign.id);
      assert.deepEqual({ running: afterCalls.running, startedAt: afterCalls.startedAt }, { running: true, startedAt: before.startedAt });
      // The tree's own camera is the labelled one, never the foreign container with the same service name.
      assert.equal(h.tree.child('camera')?.info?.containerId, camera.id);
    } finally {
      await app.close();
    }
  });
});
