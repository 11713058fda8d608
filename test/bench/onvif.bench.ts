/**
 * ONVIF service: 50 simulated cameras (one sim process, one port each) in a network namespace
 * pair (test/helpers/netns.ts; multicast stays there). Prints figures, asserts nothing:
 *  - time from POST /discovery to the first full list (50 cameras `ok`, facts, profiles, URIs);
 *  - refresh cycle (every camera refreshed once more) with 0 hung cameras, then with 5 hung;
 *  - service CPU (ms per second) and RSS while refreshing 50 cameras every 5 s;
 *  - baseline: the `onvif` package's Cam.connect() on the same cameras with 5 hung.
 * Run: node --import tsx test/bench/onvif.bench.ts (root: it creates namespaces).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createNetnsPair, readyLine } from '../helpers/netns.ts';
import { sleep, waitFor } from '../helpers/net.ts';
import type { CameraView } from '../../apps/onvif/src/cameras.ts';

const N = 50;
const HUNG = 5;
const REFRESH_MS = 5000;
const TIMEOUT_MS = 5000; // the service's default
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const net = createNetnsPair('ob');
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-onvif-bench-'));
const children: ChildProcess[] = [];
const svc = 'http://127.0.0.1:8082';

const cpuMs = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return ((Number(f[11]) + Number(f[12])) * 1000) / 100; };
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const list = () => net.http<{ cameras: CameraView[] }>(net.box, 'GET', `${svc}/cameras`).body.cameras;

/** Time until every camera in `ids` has lastOkAt after `since`. */
async function cycle(ids: Set<string>, since: number): Promise<number> {
  await waitFor('a refresh cycle', () => list().filter((c) => ids.has(c.id) && c.lastOkAt && Date.parse(c.lastOkAt) > since).length === ids.size, 60_000, 100);
  return Date.now() - since;
}

try {
  const plant = net.spawn(net.plant, [process.execPath, '--import', 'tsx', 'test/sim/onvif-sim-main.ts', JSON.stringify({ host: net.plantAddr, discovery: true, cameras: Array.from({ length: N }, () => ({})) })], { cwd: root });
  children.push(plant);
  const sim = await readyLine<{ cameras: { url: string }[] }>(plant);
  writeFileSync(join(dir, 'onvif-cameras.json'), JSON.stringify({ version: 1, default: { username: 'admin', password: 'sim-password' }, cameras: [] }), { mode: 0o600 });
  const onvif = net.spawn(net.box, [process.execPath, '--import', 'tsx', 'apps/onvif/src/main.ts'], { cwd: root, env: {
    ...process.env, PORT: '8082', DATA_DIR: dir, ONVIF_DISCOVERY: 'true', ONVIF_DISCOVERY_INTERVAL_MS: '0', ONVIF_DISCOVERY_LISTEN_MS: '2000',
    ONVIF_REFRESH_INTERVAL_MS: String(REFRESH_MS), ONVIF_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), ONVIF_BACKOFF_MS: String(REFRESH_MS),
  } });
  onvif.stdout!.resume();
  onvif.stderr!.resume();
  children.push(onvif);
  await waitFor('service up', () => net.http(net.box, 'GET', `${svc}/healthz`, undefined, 2).status === 200, 30_000, 200);

  const t0 = Date.now();
  const run = net.http<{ devices: unknown[]; durationMs: number }>(net.box, 'POST', `${svc}/discovery`).body;
  await waitFor('50 cameras ok', () => { const l = list(); return l.length === N && l.every((c) => c.status === 'ok' && c.profiles.every((p) => p.streamUri)); }, 60_000, 100);
  const firstList = Date.now() - t0;
  console.log(`discovery: ${run.devices.length} devices in one run (listen window ${run.durationMs} ms)`);
  console.log(`time to the first full list (POST /discovery -> ${N} cameras ok with profiles and URIs): ${firstList} ms (discovery window included)`);

  const all = list();
  const ids = new Set(all.map((c) => c.id));
  await sleep(1000);
  const calm = await cycle(ids, Date.now());
  console.log(`refresh cycle, 0 hung: every camera refreshed again within ${calm} ms (interval ${REFRESH_MS} ms)`);

  // Hang 5 cameras (by port: the first five sim cameras).
  const hungPorts = sim.cameras.slice(0, HUNG).map((c) => new URL(c.url).port);
  for (let i = 0; i < HUNG; i++) plant.stdin!.write(`${JSON.stringify({ camera: i, set: { hang: true } })}\n`);
  const healthy = new Set(all.filter((c) => !hungPorts.includes(c.address.split(':')[1]!)).map((c) => c.id));
  const hungIds = all.filter((c) => hungPorts.includes(c.address.split(':')[1]!)).map((c) => c.id);
  const tHang = Date.now();
  await waitFor('5 unreachable', () => list().filter((c) => hungIds.includes(c.id) && c.status === 'unreachable').length === HUNG, 60_000, 100).catch((err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(list().filter((c) => hungIds.includes(c.id)).map((c) => [c.status, c.lastError, c.lastOkAt, c.nextRefreshAt]))}`);
  });
  const toUnreachable = Date.now() - tHang;
  const withHung = await cycle(healthy, Date.now());
  console.log(`refresh cycle, ${HUNG} hung: the ${healthy.size} others refreshed within ${withHung} ms (ratio to 0 hung: ${(withHung / calm).toFixed(2)}); the hung ones unreachable after ${toUnreachable} ms (timeout ${TIMEOUT_MS} ms, next refresh up to ${REFRESH_MS} ms away)`);

  const pid = onvif.pid!;
  const c0 = cpuMs(pid);
  const s0 = cpuMs(plant.pid!);
  const w0 = Date.now();
  await sleep(15_000);
  const secs = (Date.now() - w0) / 1000;
  const cpu = (cpuMs(pid) - c0) / secs;
  console.log(`service: ${cpu.toFixed(1)} ms CPU per second (${(cpu / 10).toFixed(2)} % of one core) refreshing ${N} cameras every ${REFRESH_MS / 1000} s, ${HUNG} hung; RSS ${rssMb(pid).toFixed(0)} MB`);
  console.log(`(the ${N} simulated cameras, one process: ${((cpuMs(plant.pid!) - s0) / secs).toFixed(1)} ms CPU per second; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} on this machine)`);

  const m = net.http<string>(net.box, 'GET', `${svc}/metrics`).text;
  const per = [...m.matchAll(/^onvif_request_duration_seconds_sum\{app="onvif",operation="(\w+)"\} ([\d.e-]+)$/gm)].map(([, op, sum]) => {
    const count = Number(new RegExp(`^onvif_request_duration_seconds_count\\{app="onvif",operation="${op}"\\} (\\d+)$`, 'm').exec(m)?.[1]);
    return `${op} ${((Number(sum) / count) * 1000).toFixed(1)} ms (n=${count})`;
  });
  console.log(`mean request latency by operation (hung ones' timeouts included): ${per.join(', ')}`);

  // Baseline: the package's connect() on the same cameras (5 still hung), 20 s.
  const base = net.exec(net.box, [process.execPath, '--import', 'tsx', 'test/bench/onvif-package-connect.ts', JSON.stringify({ urls: sim.cameras.map((c) => c.url), username: 'admin', password: 'sim-password', waitMs: 20_000 })], 60_000);
  const b = JSON.parse(base.trim().split('\n').pop()!) as { ok: number; failed: number; pending: number; lastOkMs: number };
  console.log(`baseline onvif package Cam.connect(): ${b.ok} connected (last after ${b.lastOkMs} ms), ${b.failed} failed, ${b.pending} still pending after 20 s (its timeout is 120 s) vs this service: ${HUNG} marked unreachable after ${toUnreachable} ms`);
} finally {
  for (const c of children) {
    c.kill('SIGTERM');
    await Promise.race([new Promise((r) => c.once('exit', r)), sleep(5000)]);
    c.kill('SIGKILL');
  }
  net.destroy();
  rmSync(dir, { recursive: true, force: true });
}
