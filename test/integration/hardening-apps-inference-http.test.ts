/**
 * The inference app as a process (its main.ts): the zones warning for a camera the controller does
 * not have (issue 16.6, knowable only after start), an HTTP fuzz of its API over real events, and
 * credentials in CAMERA_URL refused at start, never echoed (16.1).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildCameraApp, type CameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { FIXED_HOSTILE, answerProblems, prng, randomRequest, secretForms, send } from '../helpers/http-fuzz.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PW = 'S3cretPass';
const SECRETS = secretForms('admin', PW);

interface Proc { base: URL; logs: () => string; stop(): Promise<void> }

async function startInference(env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/inference/src/main.ts'], {
    cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const base = new URL(`http://127.0.0.1:${port}`);
  await waitFor('inference listening', async () => {
    if (child.exitCode !== null) throw new Error(`inference exited ${child.exitCode}: ${out}`);
    return (await fetch(new URL('/metrics', base))).ok;
  }, 30_000, 100);
  return {
    base, logs: () => out,
    stop: () => new Promise<void>((res) => {
      if (child.exitCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 8000).unref();
    }),
  };
}

describe('inference app: zones warning, HTTP fuzz, no credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hardening-inf-'));
  const dataDir = join(dir, 'data');
  let cam: CameraApp | undefined;
  let inf: Proc | undefined;

  before(async () => {
    cam = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'cam1', source: { synthetic: { period_s: 12 } }, fps: 2, width: 160, height: 120 }] }) });
    await cam.start();
    await cam.app.listen({ port: 0, host: '127.0.0.1' });
    // Real events in the real database file, some without snapshot, one pinned.
    mkdirSync(dataDir, { recursive: true });
    const store = openEventStore(join(dataDir, 'events.db'));
    for (let i = 0; i < 30; i++) {
      store.append({ ts: 1_700_000_000_000 + i * 1000, camera: 'cam1', zone: 'press', cls: 'motion', score: 0.8, boxes: [{ x1: 0.7, y1: 0.2, x2: 0.8, y2: 0.9, cls: 'motion', score: 0.8 }], snapshot: i % 3 ? `missing-${i}.jpg` : null, snapshotError: i % 3 ? null : 'ENOSPC: no space left on device', episodeStart: 1_700_000_000_000 + i * 1000 - 2000 });
    }
    store.setPinned(2, true);
    store.close();
    writeFileSync(join(dir, 'zones.yaml'), `cameras:
  cam1:
    zones:
      - id: press
        polygon: [[0.667, 0], [1, 0], [1, 1], [0.667, 1]]
        rules: [{ class: motion, dwell: 2s }]
  dokc:
    zones:
      - id: lane
        polygon: [[0, 0], [0.3, 0], [0.3, 1]]
        rules: [{ class: motion, dwell: 1s }]
`);
    const camPort = (cam.app.server.address() as { port: number }).port;
    inf = await startInference({ CAMERA_URL: `http://127.0.0.1:${camPort}`, DATA_DIR: dataDir, ZONES_FILE: join(dir, 'zones.yaml') });
  });
  after(async () => {
    await inf?.stop();
    await cam?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a zone of a camera the controller does not have: loud warning on /healthz (degraded), a metric and a log line', async () => {
    const body = await waitFor('zones warning', async () => {
      const b = (await (await fetch(new URL('/healthz', inf!.base))).json()) as { status: string; checks: Record<string, { warning?: string }> };
      return b.checks.zones?.warning ? b : undefined;
    }, 20_000, 200);
    assert.equal(body.status, 'degraded');
    assert.match(body.checks.zones!.warning!, /names cameras the camera controller does not have: dokc \(known: cam1\)/);
    const m = await (await fetch(new URL('/metrics', inf!.base))).text();
    assert.match(m, /inference_zones_unknown_cameras\{[^}]*\} 1/);
    assert.match(inf!.logs(), /WARNING: zones file names cameras .* dokc/);
  });

  test('HTTP fuzz (600 requests): no 5xx, no stack trace, no server path, errors are {error:{code,message}}', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
    const rnd = prng(seed);
    const routes = ['/events', '/events/:id', '/events/:id/pin', '/events/:id/snapshot.jpg', '/healthz', '/metrics', '/:id', '/events/:id/:id', '/%', '/events/%E0%A4%A/pin'];
    const keys = ['since', 'limit', 'latest', 'camera', 'zone', 'cls', 'from', 'to', 'pinned', 'before', 'strict'];
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    for (const r of FIXED_HOSTILE) {
      const a = await send(inf!.base, r.method, r.path);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      problems.push(...answerProblems(a, SECRETS, [ROOT], (x) => x.status === 503 && /^\/healthz/.test(x.path)));
    }
    for (let batch = 0; batch < 75; batch++) {
      const got = await Promise.all(Array.from({ length: 8 }, () => {
        const r = randomRequest(rnd, routes, keys);
        return send(inf!.base, r.method, r.path, r.body);
      }));
      for (const a of got) {
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        problems.push(...answerProblems(a, SECRETS, [ROOT, dataDir, dir], (x) => x.status === 503 && /^\/healthz/.test(x.path)));
      }
    }
    assert.deepEqual(problems.slice(0, 20), [], `seed ${seed} (FUZZ_SEED=${seed} replays it); statuses ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0 && (statuses.get(404) ?? 0) > 0, JSON.stringify([...statuses]));
    // The store is intact and still answers.
    const r = (await (await fetch(new URL('/events?latest=5', inf!.base))).json()) as { events: unknown[] };
    assert.equal(r.events.length, 5);
  });

  test('credentials in CAMERA_URL: refused at start (fetch could never use them), and never in its output', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'apps/inference/src/main.ts'], {
      cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', CAMERA_URL: `http://admin:${PW}@127.0.0.1:9`, DATA_DIR: join(dir, 'data2') }, encoding: 'utf8', timeout: 30_000,
    });
    assert.equal(r.status, 1, r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /env CAMERA_URL: expected the camera controller's URL, http:\/\/host:port \(without user:password@\)/);
    for (const s of SECRETS) assert.ok(!out.includes(s), `output has ${s}:\n${out}`);
  });
});
