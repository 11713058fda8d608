// The Docker backend's units against a real engine: start/stop/kill, exits from the events stream,
// adoption, exec, ownership, and an events stream that is cut and comes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDockerBackend, type DockerBackend } from '../../supervisor/src/backends/docker/index.ts';
import type { ExitInfo, Unit } from '../../supervisor/src/backends/types.ts';
import type { WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { codes } from '../../supervisor/src/errors.ts';
import { createSocketProxy, createTestProject, dockerUnavailable, fault, waitHealthy, type SocketProxy, type TestProject } from '../helpers/docker.ts';
import { sleep, waitFor } from '../helpers/net.ts';

const skip = (await dockerUnavailable()) ?? false;

const worker = (service: string): WorkerSpec => ({
  type: 'worker',
  id: service,
  restart: 'permanent',
  shutdown: { kind: 'grace', graceMs: 2000 },
  hungShutdown: { kind: 'brutal_kill' },
  backend: { kind: 'docker', service },
  probes: [],
});

/** Collects a unit's exits with the time each was reported. */
function exits(unit: Unit) {
  const seen: Array<ExitInfo & { at: number }> = [];
  unit.onExit((e) => seen.push({ ...e, at: Date.now() }));
  return seen;
}

describe('docker backend units', { skip, timeout: 300_000 }, () => {
  let proj: TestProject;
  let backend: DockerBackend;
  const ctx = { baseDir: process.cwd() };

  before(async () => {
    proj = await createTestProject();
    backend = createDockerBackend({ project: proj.name, timeoutMs: 20_000 });
  });
  after(async () => {
    backend?.close();
    await proj?.cleanup();
  });

  test('start, crash seen from the die event with its exit code, restart, stop', async () => {
    const c = await proj.create('app');
    const unit = backend(worker('app'), ctx);
    const seen = exits(unit);
    await unit.start();
    await waitHealthy(c.url);
    assert.equal(unit.info().containerId, c.id);
    const t0 = Date.now();
    await fault(c.url, 'crash?code=3');
    await waitFor('exit reported', () => seen.length === 1, 10_000, 5);
    assert.equal(seen[0]!.code, 3);
    assert.equal(seen[0]!.normal, false);
    assert.ok(seen[0]!.at - t0 < 5000, `exit seen after ${seen[0]!.at - t0}ms`);

    await unit.start();
    await waitHealthy(c.url);
    const t1 = Date.now();
    await unit.stop({ kind: 'grace', graceMs: 2000 });
    // The fixture exits 0 on SIGTERM: a graceful stop, well inside the grace.
    assert.ok(Date.now() - t1 < 8000, `stop took ${Date.now() - t1}ms`);
    assert.equal(seen.length, 2, 'exactly one exit per start');
    assert.equal(seen[1]!.code, 0);
    assert.equal((await proj.inspect(c.id)).running, false);
    await unit.stop({ kind: 'grace', graceMs: 2000 }); // idempotent
    assert.equal(seen.length, 2);
    await unit.close();
  });

  test('stop kills after the grace when SIGTERM is ignored; brutal_kill kills at once', async () => {
    const c = await proj.create('stubborn', { env: { IGNORE_SIGTERM: '1' } });
    const unit = backend(worker('stubborn'), ctx);
    const seen = exits(unit);
    await unit.start();
    await waitHealthy(c.url);
    const t0 = Date.now();
    await unit.stop({ kind: 'grace', graceMs: 1000 });
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 15_000, `graceful stop took ${took}ms`);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.code, 137);

    await unit.start();
    await waitHealthy(c.url);
    const t1 = Date.now();
    await unit.stop({ kind: 'brutal_kill' });
    assert.ok(Date.now() - t1 < 10_000, `kill took ${Date.now() - t1}ms`);
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.code, 137);
    await unit.close();
  });

  test('adopt attaches to a running container without restarting it and still sees its exit', async () => {
    const c = await proj.create('adoptee');
    const { docker } = await import('../helpers/docker.ts');
    await docker(['start', c.id]);
    await waitHealthy(c.url);
    const before = await proj.inspect(c.id);
    const unit = backend(worker('adoptee'), ctx);
    const seen = exits(unit);
    assert.equal(await unit.adopt!(), 'running');
    const afterAdopt = await proj.inspect(c.id);
    assert.equal(afterAdopt.startedAt, before.startedAt, 'not restarted');
    assert.equal(unit.info().startedAt, Math.floor(Date.parse(before.startedAt)));
    await fault(c.url, 'crash?code=7');
    await waitFor('exit of adopted container', () => seen.length === 1, 10_000, 5);
    assert.equal(seen[0]!.code, 7);
    assert.equal(await unit.adopt!(), 'stopped');
    await unit.close();
    const missing = backend(worker('nosuch'), ctx);
    assert.equal(await missing.adopt!(), 'absent');
  });

  test('exec runs inside the container and returns output and exit code; health() follows HEALTHCHECK', async () => {
    const c = await proj.create('execd', { healthcheck: { intervalS: 1, retries: 1 } });
    const unit = backend(worker('execd'), ctx);
    await unit.start();
    await waitHealthy(c.url);
    const ok = await unit.exec!(['node', '-e', 'console.log(process.env.PORT); process.exit(4)'], 5000, AbortSignal.timeout(5000));
    assert.deepEqual({ code: ok.code, out: ok.stdout.trim() }, { code: 4, out: '8080' });
    await waitFor('healthy', async () => (await unit.health!(AbortSignal.timeout(5000))) === 'healthy', 20_000, 200);
    await unit.stop({ kind: 'brutal_kill' });
    await unit.close();
  });

  test('a missing service, a foreign container and a one-off are never started', async () => {
    const foreign = await proj.create('ghost', { foreign: true, labels: { 'com.docker.compose.service': 'ghost' } });
    const oneoff = await proj.create('ghost', { oneoff: true });
    const unit = backend(worker('ghost'), ctx);
    await assert.rejects(unit.start(), (err: { code: string; message: string }) => {
      assert.equal(err.code, codes.START_FAILED);
      assert.match(err.message, new RegExp(`no container for service ghost in project ${proj.name}: run docker compose up --no-start`));
      return true;
    });
    assert.equal((await proj.inspect(foreign.id)).status, 'created');
    assert.equal((await proj.inspect(oneoff.id)).status, 'created');
    await unit.close();
  });

  test('without a project and outside a container, the first start fails with a clear message', async () => {
    const lost = createDockerBackend({ timeoutMs: 5000 });
    await assert.rejects(lost.project(), /set docker\.project in the tree file/);
    await assert.rejects(lost(worker('app'), ctx).start(), (err: { code: string }) => err.code === codes.START_FAILED);
    lost.close();
  });

  describe('events stream cut', () => {
    let proxy: SocketProxy;
    before(async () => {
      proxy = await createSocketProxy();
    });
    after(async () => {
      await proxy?.close();
    });

    test('a crash while disconnected is reported once after reconnecting, and the next crash is caught', async () => {
      const c = await proj.create('flaky');
      const lines: string[] = [];
      const viaProxy = createDockerBackend({ project: proj.name, socketPath: proxy.path, timeoutMs: 20_000, reconnect: { initialMs: 100, maxMs: 400 }, log: (l) => lines.push(l) });
      const unit = viaProxy(worker('flaky'), ctx);
      const seen = exits(unit);
      await unit.start();
      await waitHealthy(c.url);
      const w = await viaProxy.watcher();
      assert.equal(w.connections, 1);

      // Cut and keep the engine unreachable while the container dies: its die event is lost.
      proxy.cut(1500);
      await fault(c.url, 'crash?code=5');
      await sleep(300);
      assert.equal(seen.length, 0, 'nothing can be seen while cut');
      await waitFor('reconnected', () => w.connections >= 2, 15_000);
      await waitFor('missed exit reported by the resync', () => seen.length === 1, 10_000);
      assert.equal(seen[0]!.code, 5);
      await sleep(300);
      assert.equal(seen.length, 1, 'reported once');

      // A short cut (immediate reconnect) and then a crash: seen from the new stream.
      await unit.start();
      await waitHealthy(c.url);
      const n = w.connections;
      proxy.cut();
      await waitFor('reconnected again', () => w.connections > n, 15_000);
      const t0 = Date.now();
      await fault(c.url, 'crash?code=6');
      await waitFor('crash after reconnect', () => seen.length === 2, 10_000, 5);
      assert.equal(seen[1]!.code, 6);
      assert.ok(seen[1]!.at - t0 < 5000, `seen after ${seen[1]!.at - t0}ms`);
      assert.ok(lines.some((l) => /reconnected/.test(l)), lines.join('\n'));
      await unit.close();
      viaProxy.close();
    });
  });
});
