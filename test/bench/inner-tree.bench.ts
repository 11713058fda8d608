// Benchmark of the inner-tree merge (issue 10): what polling an app's tree costs the supervisor.
// The real camera controller (4 synthetic cameras) runs as a process; in this process, the
// supervisor's poller (inner/inner-tree.ts) polls its /v1/tree + /v1/events every PERIOD_MS.
// Baseline in the same run: a GET /healthz of the same app at the same period over the same
// keep-alive socket client (what one HTTP probe costs). Prints supervisor CPU per poll, poll latency p50/p99 and the ratio; asserts nothing.
// Run: node --import tsx test/bench/inner-tree.bench.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep, waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';
import { createInnerTree } from '../../supervisor/src/inner/inner-tree.ts';
import { httpGet, type ConnectionSlot } from '../../supervisor/src/probes/http-get.ts';

const PERIOD_MS = Number(process.env.BENCH_PERIOD_MS ?? 100);
const SAMPLE_S = Number(process.env.BENCH_SAMPLE_S ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-inner-bench-'));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
writeFileSync(join(dir, 'cameras.yaml'), `cameras:\n${['a', 'b', 'c', 'd'].map((id) => `  - { id: ${id}, source: { synthetic: {} }, fps: 5, width: 160, height: 90 }\n`).join('')}`);
const app = spawn(process.execPath, ['--import', 'tsx', 'apps/camera/src/main.ts'], {
  cwd: repoRoot,
  env: { ...process.env, PORT: String(port), CAMERAS_FILE: join(dir, 'cameras.yaml'), FRAMES_DIR: join(dir, 'frames') },
  stdio: 'ignore',
});
try {
  await waitFor('camera app up', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 60_000, 200);
  await sleep(2000);

  // Baseline: one GET /healthz per period.
  const baseLat: number[] = [];
  let cpu0 = process.cpuUsage();
  const slot: ConnectionSlot = {};
  for (let end = Date.now() + SAMPLE_S * 1000; Date.now() < end; ) {
    const t0 = performance.now();
    await httpGet(`${url}/healthz`, { signal: AbortSignal.timeout(500), maxBytes: 65536, slot });
    baseLat.push(performance.now() - t0);
    await sleep(Math.max(0, PERIOD_MS - (performance.now() - t0)));
  }
  const baseCpu = process.cpuUsage(cpu0);
  const baseMsPerReq = (baseCpu.user + baseCpu.system) / 1000 / baseLat.length;

  // The poller: GET /v1/tree + GET /v1/events per period, merged on demand like a snapshot.
  let polls = 0;
  let events = 0;
  const t = createInnerTree('camera', { url, everyMs: PERIOD_MS, timeoutMs: Math.min(500, PERIOD_MS) }, {
    // Called once per good poll (its fetchedAt) while nothing else asks: counts the polls.
    now: () => {
      polls++;
      return Date.now();
    },
    emit: (d) => ({ ...d, seq: ++events, ts: d.ts ?? Date.now() }),
    outer: () => ({ state: 'running', startedAt: 0 }),
    onInternalError: (e) => console.error(e),
  });
  const lat: number[] = [];
  cpu0 = process.cpuUsage();
  t.start();
  await sleep(SAMPLE_S * 1000);
  t.stop();
  const cpu = process.cpuUsage(cpu0);
  const merged = t.nodes().length;
  // Latency of a poll's GET /v1/tree, measured apart (the poller does not expose timings); in steady
  // state no /v1/events request follows (the tree's lastSeq says nothing happened).
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await httpGet(`${url}/v1/tree`, { signal: AbortSignal.timeout(500), maxBytes: 2 << 20, slot });
    lat.push(performance.now() - t0);
    await sleep(PERIOD_MS);
  }
  const msPerPoll = (cpu.user + cpu.system) / 1000 / Math.max(1, polls);
  console.log(`inner-tree poll, period ${PERIOD_MS} ms, ${SAMPLE_S} s, camera app with 4 cameras (${merged} inner nodes)`);
  console.log(`  baseline GET /healthz (a probe's bare keep-alive socket): ${baseLat.length} requests, CPU ${baseMsPerReq.toFixed(3)} ms/request, latency p50 ${pct(baseLat, 0.5).toFixed(2)} ms p99 ${pct(baseLat, 0.99).toFixed(2)} ms`);
  console.log(`  inner poll (GET /v1/tree, /v1/events only when its lastSeq moved): ${polls} polls, CPU ${msPerPoll.toFixed(3)} ms/poll (${(msPerPoll / baseMsPerReq).toFixed(2)}x a probe), latency p50 ${pct(lat, 0.5).toFixed(2)} ms p99 ${pct(lat, 0.99).toFixed(2)} ms`);
  console.log(`  at the default every: 1s that is ${(msPerPoll / 10).toFixed(3)}% of one core for the supervisor`);
} finally {
  app.kill('SIGTERM');
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}
