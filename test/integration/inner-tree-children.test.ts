// Adding and deleting children of an app's inner tree through the supervisor (issue 15): a real
// supervisor (tree + SQLite store + API on 127.0.0.1:0) runs the real camera controller as a
// process child with `inner_tree` and ONVIF_ADOPT, the real onvif service (in this process) knows
// one simulated ONVIF camera (SOAP; its RTSP URI leads nowhere, so that worker just reconnects).
// POST /v1/children under `camera/discovered` and DELETE /v1/children/camera%2F<cam> are passed to
// the controller, which answers for its own tree; the CLI's add|delete take the inner ids.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type OnvifApp } from '../../apps/onvif/src/app.ts';
import { edgevisorBin } from '../helpers/supervisor-process.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { startSimCamera, type SimCamera } from '../sim/onvif-camera.ts';
import { TECH, VIEWER, startService, tempDir, type Service } from './api-helpers.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [edgevisorBin, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** One request with a JSON body (or none), bounded. */
async function send(url: string, opts: { method: string; token?: string; body?: unknown; via?: string }) {
  const headers: Record<string, string> = {};
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.via) headers['x-edgevisor-via'] = opts.via;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: opts.method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('inner tree: children added and deleted through the supervisor', () => {
  const tmp = tempDir();
  let svc: Service;
  let camUrl: string;
  let onvif: OnvifApp;
  let sim: SimCamera;
  let simId: string;
  /** GET /cameras answered by the onvif service: one per poll of the controller. */
  let listed = 0;
  const node = (id: string) => svc.tree.child(id);
  const events = (since: number): TreeEvent[] => svc.store.since(since, 1000);
  const env = () => ({ EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH });

  before(async () => {
    onvif = buildApp({ config: { refreshIntervalMs: 60_000, requestTimeoutMs: 2000, backoffMs: 1000 }, log: () => undefined });
    onvif.app.addHook('onResponse', async (req) => {
      if (req.method === 'GET' && req.url.split('?')[0] === '/cameras') listed++;
    });
    onvif.start();
    await onvif.app.listen({ port: 0, host: '127.0.0.1' });
    const onvifUrl = `http://127.0.0.1:${(onvif.app.server.address() as { port: number }).port}`;
    sim = await startSimCamera({ rtspUri: `rtsp://127.0.0.1:${await freePort()}/none`, password: 'sim-pw' });
    const added = await send(`${onvifUrl}/cameras`, { method: 'POST', body: { address: `127.0.0.1:${sim.port}`, username: 'admin', password: 'sim-pw' } });
    assert.equal(added.body?.status, 'ok', JSON.stringify(added.body));
    simId = added.body.id;

    const port = await freePort();
    camUrl = `http://127.0.0.1:${port}`;
    const camerasFile = join(tmp.dir, 'cameras.yaml');
    writeFileSync(camerasFile, 'cameras:\n  - { id: dock, source: { synthetic: {} }, fps: 5, width: 160, height: 90 }\n');
    svc = await startService(
      {
        version: 1,
        name: 'box',
        children: [
          {
            id: 'camera',
            shutdown: '5s',
            process: {
              command: [process.execPath, '--import', 'tsx', 'apps/camera/src/main.ts'],
              env: { PORT: String(port), CAMERAS_FILE: camerasFile, FRAMES_DIR: join(tmp.dir, 'frames'), ONVIF_URL: onvifUrl, ONVIF_ADOPT: 'true' },
            },
            probes: [{ name: 'live', http: { url: `${camUrl}/healthz` }, every: '500ms', timeout: '1s', failures: 3, startup_grace: '30s' }],
            inner_tree: { url: camUrl, every: '250ms', timeout: '250ms' },
          },
        ],
      },
      join(tmp.dir, 'events.db'),
    );
    await waitFor(`the discovered camera ${simId} merged under camera/discovered`, () => node(`camera/${simId}`)?.parent === 'camera/discovered' && node('camera/dock')?.stale === false, 45_000);
  });
  after(async () => {
    await svc?.close();
    await onvif?.stop();
    await sim?.stop();
    tmp.remove();
  });

  test('a discovered camera\'s worker deleted with edgevisor delete: gone, recorded once, and not adopted again by the next polls', async () => {
    const id = `camera/${simId}`;
    assert.equal(node(id)!.dynamic, true, 'added at run time, so deletable');
    assert.equal(node(id)!.inner, true);
    const seq = svc.store.lastSeq();
    const r = await cli(['delete', id], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `deleting ${id} (stopped, then removed from the tree)`);
    await waitFor(`${id} gone from the merged tree`, () => node(id) === undefined && !node('camera/discovered')!.children!.includes(id), 15_000);
    const manual = events(seq).filter((e) => e.type === 'manual');
    assert.deepEqual(manual.map((e) => [e.child, e.data?.['action'], e.data?.['role'], e.data?.['via'], e.data?.['forwardedTo']]), [[id, 'delete', 'technician', 'cli', 'camera']], 'recorded once, by the supervisor (the app\'s echo is skipped)');
    assert.match(manual[0]!.reason, /^delete requested by technician via cli \(passed to camera\)$/);
    // The onvif service still lists the camera: two more polls of the controller, and still no worker.
    const polls = listed;
    await waitFor('two more polls of the onvif service', () => listed >= polls + 2, 20_000, 200);
    await waitFor('a fresh snapshot after those polls', async () => {
      const t = await send(`${camUrl}/v1/tree`, { method: 'GET' });
      return t.status === 200 && !t.body.nodes.some((n: { id: string }) => n.id === simId);
    }, 5_000);
    assert.equal(node(id), undefined, 'a camera deleted by a technician is not adopted again');
    const cams = await send(`${camUrl}/cameras`, { method: 'GET' });
    assert.ok(!cams.body.cameras.some((c: { id: string }) => c.id === simId), 'and the controller forgot it');
  });

  test('a worker added under camera/discovered through the API and the CLI; the same refusals as for the supervisor\'s own tree', async () => {
    const seq = svc.store.lastSeq();
    const r = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, via: 'dashboard', body: { parent: 'camera/discovered', child: { id: simId } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.added, `camera/${simId}`);
    assert.equal(r.body.parent, 'camera/discovered');
    assert.equal(r.body.child.id, `camera/${simId}`);
    assert.equal(r.body.child.parent, 'camera/discovered');
    assert.equal(r.body.child.inner, true);
    assert.equal(r.body.child.dynamic, true);
    await waitFor(`camera/${simId} merged again`, () => node(`camera/${simId}`)?.parent === 'camera/discovered', 10_000);
    const manual = events(seq).filter((e) => e.type === 'manual');
    assert.deepEqual(manual.map((e) => [e.child, e.data?.['action'], e.data?.['added'], e.data?.['role'], e.data?.['via']]), [['camera/discovered', 'add', `camera/${simId}`, 'technician', 'dashboard']]);
    const cams = await send(`${camUrl}/cameras`, { method: 'GET' });
    assert.equal(cams.body.cameras.find((c: { id: string }) => c.id === simId)?.source, 'onvif', 'the controller registered the camera for its worker');

    const again = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, body: { parent: 'camera/discovered', child: { id: simId } } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'EDGEVISOR_ERR_CHILD_EXISTS', 'the app\'s code comes back unchanged');
    const field = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, body: { parent: 'camera/discovered', child: { id: 'cam-x', env: { A: '1' } } } });
    assert.equal(field.status, 400);
    assert.equal(field.body.error.code, 'EDGEVISOR_ERR_SPEC_INVALID');
    assert.match(field.body.error.message, /child\.env: unknown field/);
    const badId = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, body: { parent: 'camera/discovered', child: { id: 'no spaces' } } });
    assert.equal(badId.status, 400);
    assert.match(badId.body.error.message, /child\.id: .*expected an id of letters, digits, _ or -/);
    const unknown = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, body: { parent: 'camera/nope', child: { id: 'cam-x' } } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'EDGEVISOR_ERR_UNKNOWN_CHILD');
    assert.match(unknown.body.error.message, /camera\/discovered/, 'the known ids include the inner ones');
    // The body checks are one function: the supervisor and the app refuse a bad body in the same words.
    const extra = { parent: 'camera/discovered', child: {}, mode: 'x' };
    const bySupervisor = await send(`${svc.url}/v1/children`, { method: 'POST', token: TECH, body: extra });
    const byApp = await send(`${camUrl}/v1/children`, { method: 'POST', body: { ...extra, parent: 'discovered' } });
    assert.equal(bySupervisor.status, 400);
    assert.deepEqual(bySupervisor.body, byApp.body);
    assert.equal(bySupervisor.body.error.message, 'mode: unknown field; accepted: parent, child');
    assert.equal(events(seq).filter((e) => e.type === 'manual').length, 1, 'refusals record nothing');

    const viaCli = await cli(['add', 'camera/discovered', '--id', 'cam-cli'], env());
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaCli.stdout.trim(), 'added camera/cam-cli to camera/discovered');
    await waitFor('camera/cam-cli merged', () => node('camera/cam-cli')?.parent === 'camera/discovered', 10_000);
    const exists = await cli(['add', 'camera/discovered', '--id', 'cam-cli'], env());
    assert.equal(exists.code, 2);
    assert.equal(exists.stderr.trim(), 'edgevisor: camera/discovered: the camera controller already has a camera "cam-cli"');
    const gone = await cli(['delete', 'camera/cam-cli'], env());
    assert.equal(gone.code, 0, gone.stderr);
    await waitFor('camera/cam-cli deleted', () => node('camera/cam-cli') === undefined, 15_000);
  });

  test('a child of the app\'s tree file cannot be deleted (409); a viewer token can neither add nor delete (403)', async () => {
    const seq = svc.store.lastSeq();
    for (const id of ['camera/dock', 'camera/discovered']) {
      const r = await send(`${svc.url}/v1/children/${encodeURIComponent(id)}`, { method: 'DELETE', token: TECH });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
      assert.match(r.body.error.message, new RegExp(`^${id}: .*declared in the tree file; only children added at run time can be deleted \\(stop it instead\\)$`));
    }
    const viaCli = await cli(['delete', 'camera/dock'], env());
    assert.equal(viaCli.code, 2);
    assert.match(viaCli.stderr, /declared in the tree file/);
    const del = await send(`${svc.url}/v1/children/${encodeURIComponent(`camera/${simId}`)}`, { method: 'DELETE', token: VIEWER });
    assert.equal(del.status, 403);
    assert.equal(del.body.error.code, 'EDGEVISOR_ERR_FORBIDDEN');
    const add = await send(`${svc.url}/v1/children`, { method: 'POST', token: VIEWER, body: { parent: 'camera/discovered', child: { id: 'cam-v' } } });
    assert.equal(add.status, 403);
    const addCli = await cli(['add', 'camera/discovered', '--id', 'cam-v'], { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: VIEWER });
    assert.equal(addCli.code, 2);
    assert.match(addCli.stderr, /needs a technician token/);
    assert.equal(node('camera/dock')!.state, 'running', 'dock untouched');
    assert.equal(node(`camera/${simId}`)?.parent, 'camera/discovered', 'the viewer deleted nothing');
    assert.deepEqual(events(seq).filter((e) => e.type === 'manual'), [], 'refusals record nothing');
  });
});
