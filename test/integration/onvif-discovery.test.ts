/**
 * WS-Discovery end to end, only inside two network namespaces this test creates (a veth pair:
 * the "box" with the ONVIF service and the camera controller, the "plant" with 3 simulated
 * cameras and the RTSP sim). No multicast ever reaches the machine's own interfaces.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetnsPair, readyLine, type NetnsPair } from '../helpers/netns.ts';
import { sleep, waitFor } from '../helpers/net.ts';
import type { CameraView } from '../../apps/onvif/src/cameras.ts';

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const epr = (i: number) => `urn:uuid:5e1a0000-0000-4000-8000-${String(process.pid).padStart(10, '0')}0${i}`;
const idOf = (i: number) => epr(i).slice('urn:uuid:'.length);

describe('ONVIF discovery in a network namespace', () => {
  let net: NetnsPair;
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-onvif-disc-'));
  const svc = 'http://127.0.0.1:8082';
  let sim: { rtsp: string; cameras: { port: number }[] };
  let second: ReturnType<NetnsPair['addPlant']>;

  before(async () => {
    net = createNetnsPair('od');
    const plant = net.spawn(net.plant, [process.execPath, '--import', 'tsx', 'test/sim/onvif-sim-main.ts', JSON.stringify({
      host: net.plantAddr, discovery: true, rtsp: { fps: 10, width: 640, height: 360 },
      cameras: [0, 1, 2].map((i) => ({ endpointReference: epr(i), serialNumber: `00010${i}`, model: `SV-${i}`, unreachableXAddr: i === 2 })),
    })], { cwd: root });
    children.push(plant);
    sim = await readyLine(plant);
    // A second network on a second interface: camera 3, and camera 1 again (same endpoint
    // reference: one camera with two NICs) which must count once.
    second = net.addPlant();
    const plant2 = net.spawn(second.ns, [process.execPath, '--import', 'tsx', 'test/sim/onvif-sim-main.ts', JSON.stringify({
      host: second.plantAddr, discovery: true, cameras: [{ endpointReference: epr(3), serialNumber: '000103', model: 'SV-3' }, { endpointReference: epr(1), serialNumber: '000101', model: 'SV-1' }],
    })], { cwd: root });
    children.push(plant2);
    await readyLine(plant2);
    // Default credentials for discovered cameras, in the store the service loads at start.
    writeFileSync(join(dir, 'onvif-cameras.json'), JSON.stringify({ version: 1, default: { username: 'admin', password: 'sim-password' }, cameras: [] }), { mode: 0o600 });
    await startOnvif(1500);
  });

  /** The onvif service in the box, its discovery run at start listening `listenMs`. */
  let onvif: ChildProcess | undefined;
  const startOnvif = async (listenMs: number) => {
    onvif = net.spawn(net.box, [process.execPath, '--import', 'tsx', 'apps/onvif/src/main.ts'], { cwd: root, env: {
      ...process.env, PORT: '8082', HOST: '127.0.0.1', DATA_DIR: dir, ONVIF_DISCOVERY: 'true', ONVIF_DISCOVERY_INTERVAL_MS: '600000', ONVIF_DISCOVERY_LISTEN_MS: String(listenMs), ONVIF_REQUEST_TIMEOUT_MS: '3000',
    } });
    onvif.stdout!.resume();
    onvif.stderr!.resume();
    children.push(onvif);
    await waitFor('onvif service up', () => net.http(net.box, 'GET', `${svc}/healthz`, undefined, 2).status === 200, 30_000, 200);
  };

  after(async () => {
    // SIGTERM first: the sim stops its GStreamer child (a SIGKILL would orphan it in the namespace).
    await Promise.all(children.map((c) => stopChild(c)));
    net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('finds the cameras on both interfaces (at start and on demand, once each), reads their facts, profiles and URIs; the controller streams from the URI at the expected fps', async () => {
    // The run at start (joined by any request made while it listens), then one on demand.
    await waitFor('discovery at start', () => /onvif_discovery_runs_total\{trigger="start",app="onvif"\} 1/.test(net.http<string>(net.box, 'GET', `${svc}/metrics`).text), 20_000, 200);
    const run = net.http<{ interfaces: string[]; devices: { endpointReference: string; answeredFrom: string }[] }>(net.box, 'POST', `${svc}/discovery`);
    assert.equal(run.status, 200, run.text);
    assert.deepEqual(run.body.interfaces, [net.boxIf, second.boxIf].sort(), 'lo has no multicast: only the two veths are probed');
    assert.deepEqual(run.body.devices.map((d) => d.endpointReference).sort(), [0, 1, 2, 3].map(epr), 'one entry per endpoint reference');
    assert.equal(run.body.devices.find((d) => d.endpointReference === epr(3))!.answeredFrom, second.plantAddr, 'found through the interface without a multicast route');
    assert.ok(run.body.devices.filter((d) => d.endpointReference !== epr(3) && d.endpointReference !== epr(1)).every((d) => d.answeredFrom === net.plantAddr));

    const cams = await waitFor('4 cameras ok', () => {
      const list = net.http<{ cameras: CameraView[] }>(net.box, 'GET', `${svc}/cameras`).body.cameras;
      return list.length === 4 && list.every((c) => c.status === 'ok') ? list : undefined;
    }, 30_000, 300);
    assert.equal(cams.find((c) => c.id === idOf(3))!.device!.serialNumber, '000103');
    for (const i of [0, 1, 2]) {
      const c = cams.find((x) => x.endpointReference === epr(i))!;
      assert.equal(c.id, idOf(i));
      assert.equal(c.source, 'discovery');
      // Camera 1 answered on both networks: kept at whichever address answered first.
      if (i !== 1) assert.equal(c.address, `${net.plantAddr}:${sim.cameras[i]!.port}`);
      assert.deepEqual(c.device, { manufacturer: 'SimVision', model: `SV-${i}`, firmwareVersion: '1.2.3', serialNumber: `00010${i}`, hardwareId: 'HW-1' });
      assert.ok(c.scopes.includes('onvif://www.onvif.org/type/video_encoder'));
      assert.deepEqual(c.profiles.map((p) => [p.token, p.width, p.height, p.fps]), [['main', 1280, 720, 10], ['sub', 640, 360, 5]]);
      for (const p of c.profiles) {
        if (i === 1 && c.address.startsWith(second.plantAddr)) continue; // the second network has no RTSP sim
        assert.equal(p.streamUri, sim.rtsp);
        assert.equal(p.snapshotUri, `http://${net.plantAddr}:${sim.cameras[i]!.port}/onvif/snapshot?profile=${p.token}`);
      }
      assert.equal(c.drift!.warning, false);
    }
    // Camera 2 advertises 192.0.2.1: rewritten to the address its ProbeMatch came from, and said so.
    const odd = cams.find((x) => x.id === idOf(2))!;
    assert.ok(odd.rewrites.some((r) => r.what === 'discovery XAddr' && r.from.startsWith('http://192.0.2.1:') && r.to.startsWith(`http://${net.plantAddr}:`)), JSON.stringify(odd.rewrites));
    assert.ok(odd.rewrites.some((r) => r.what.startsWith('stream URI')));
    const metrics = net.http<string>(net.box, 'GET', `${svc}/metrics`).text;
    assert.match(metrics, /onvif_discovery_runs_total\{trigger="start",app="onvif"\} 1/);
    assert.match(metrics, /onvif_discovery_runs_total\{trigger="api",app="onvif"\} 1/);
    assert.match(metrics, /onvif_discovery_devices_found\{app="onvif"\} 4/);
    assert.match(metrics, /onvif_cameras_reachable\{app="onvif"\} 4/);

    // The camera controller, in the box too, takes camera 0's sub stream from the service.
    const camerasFile = join(dir, 'cameras.yaml');
    writeFileSync(camerasFile, `cameras:\n  - id: dock\n    source: { onvif: { device: "${idOf(0)}", profile: sub } }\n    fps: 5\n    width: 320\n    height: 180\n`);
    const camera = net.spawn(net.box, [process.execPath, '--import', 'tsx', 'apps/camera/src/main.ts'], { cwd: root, env: { ...process.env, PORT: '8081', HOST: '127.0.0.1', CAMERAS_FILE: camerasFile, ONVIF_URL: svc } });
    camera.stdout!.resume();
    camera.stderr!.resume();
    children.push(camera);
    const frames = () => {
      const line = net.http<string>(net.box, 'GET', 'http://127.0.0.1:8081/metrics', undefined, 3).text.split('\n').find((l) => l.startsWith('camera_frames_total{') && l.includes('camera="dock"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    await waitFor('frames from the ONVIF camera', () => { try { return frames() > 0; } catch { return false; } }, 40_000, 500);
    const a = frames();
    const t0 = Date.now();
    await sleep(4000);
    const rate = (frames() - a) / ((Date.now() - t0) / 1000);
    assert.ok(rate >= 3.5 && rate <= 6.5, `${rate.toFixed(2)} frames/s, expected about 5`);
  });

  test('a restart of the onvif service removes no adopted worker: its list is partial until its discovery run at start has finished', async () => {
    // A controller with no configured camera adopting the 4 discovered ones; forget_after_polls: 1,
    // so a single poll that read the restarted service's list as whole would remove them.
    const camerasFile = join(dir, 'adopt-cameras.yaml');
    writeFileSync(camerasFile, 'cameras: []\ndiscovered: { fps: 2, width: 160, height: 90, profile: sub, forget_after_polls: 1 }\n');
    const camera = net.spawn(net.box, [process.execPath, '--import', 'tsx', 'apps/camera/src/main.ts'], { cwd: root, env: { ...process.env, PORT: '8091', HOST: '127.0.0.1', CAMERAS_FILE: camerasFile, ONVIF_URL: svc, ONVIF_ADOPT: 'true' } });
    let out = '';
    camera.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    camera.stderr!.resume();
    children.push(camera);
    type Cam = { id: string; discovered: boolean; worker: { since: string; restarts: number } | null };
    const list = () => net.http<{ cameras: Cam[] }>(net.box, 'GET', 'http://127.0.0.1:8091/cameras', undefined, 3).body?.cameras ?? [];
    const ids = [0, 1, 2, 3].map(idOf).sort();
    const before = await waitFor('4 adopted workers', () => { try { const l = list(); return l.length === 4 && l.every((c) => c.worker) ? l : undefined; } catch { return undefined; } }, 30_000, 300);
    assert.deepEqual(before.map((c) => c.id).sort(), ids);

    // The service restarts; its run at start listens 12 s, more than twice the controller's 5 s poll (a loaded box may delay one).
    const old = onvif!;
    await stopChild(old);
    await startOnvif(12_000);
    const early = net.http<{ cameras: CameraView[]; partial: boolean }>(net.box, 'GET', `${svc}/cameras`).body;
    assert.deepEqual([early.partial, early.cameras.length], [true, 0], 'no discovered camera is back yet, and the list says it is partial');
    await waitFor(() => `a poll of the partial list; the controller said: ${out.split('\n').filter((l) => l.includes('onvif')).slice(-8).join('\n')}`, () => out.includes('the onvif service has just started and its first discovery run has not finished'), 15_000, 200);
    const whole = await waitFor('the whole list again', () => {
      const b = net.http<{ cameras: CameraView[]; partial: boolean }>(net.box, 'GET', `${svc}/cameras`).body;
      return !b.partial && b.cameras.length === 4 ? b : undefined;
    }, 30_000, 300);
    assert.deepEqual(whole.cameras.map((c) => c.id).sort(), ids);
    // The controller's next poll reads it (its poll counter, whole lists); every worker is the run it was before the restart.
    const polls = (result: string) => {
      const text = net.http<string>(net.box, 'GET', 'http://127.0.0.1:8091/metrics', undefined, 3).text;
      return Number(new RegExp(`^camera_discovery_polls_total\\{result="${result}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    };
    assert.ok(polls('partial') >= 1, 'the partial list was polled');
    const seen = polls('whole');
    await waitFor('a poll of the whole list', () => polls('whole') > seen, 15_000, 300);
    const afterRestart = list();
    assert.deepEqual(afterRestart.map((c) => [c.id, c.worker?.since]).sort(), before.map((c) => [c.id, c.worker?.since]).sort(), 'the same worker runs');
    assert.ok(!out.includes('its worker is removed'), out.split('\n').filter((l) => l.includes('missing')).join('\n'));
  });
});
