// Web dashboard benchmark (issue 10): SSE fan-out to 1 and 100 dashboard clients on loopback while
// safety events are stored at 50/s. Real inference and web processes (main.ts); the events are
// appended to the inference app's SQLite file from here, as its pipeline appends them, each with
// ts = the moment it was stored, so delivery latency = (received by the client) - ts.
//
// Prints per row: delivery latency p50/p99, web CPU (ms per s, and per client over the idle
// baseline measured in the same run), upstream requests per second (must stay flat in N: one
// shared poller), the web app's event-loop delay p99 (its own /metrics), and the page weight
// (bytes transferred for a first load, gzip).
//
// Run: node --import tsx test/bench/web.bench.ts [seconds=10] [pollMs=500]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';
import { readSseFrames } from '../helpers/sse.ts';

const seconds = Number(process.argv[2] ?? 10);
const pollMs = Number(process.argv[3] ?? 500);
const dir = mkdtempSync(join(tmpdir(), 'web-bench-'));
mkdirSync(join(dir, 'snapshots'));
const ports = { inference: await freePort(), web: await freePort(), camera: await freePort() };
const procs: ReturnType<typeof spawn>[] = [];
const startApp = async (app: 'inference' | 'web', env: Record<string, string>, port: number) => {
  const p = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env }, stdio: 'ignore' });
  procs.push(p);
  await waitFor(`${app} healthz`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000, 200);
  return p;
};
const web = `http://127.0.0.1:${ports.web}`;
try {
  await startApp('inference', { DATA_DIR: dir, CAMERA_URL: `http://127.0.0.1:${ports.camera}`, CAMERAS: 'cam1' }, ports.inference);
  const webProc = await startApp('web', { INFERENCE_URL: `http://127.0.0.1:${ports.inference}`, WEB_EVENTS_POLL_MS: String(pollMs), DATA_DIR: dir }, ports.web);
  const store = openEventStore(join(dir, 'events.db'));
  const cpuMs = () => {
    const f = readFileSync(`/proc/${webProc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime in clock ticks (100/s)
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${web}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)`, 'gm'))].map((m) => ({ labels: m[1] ?? '', value: Number(m[2]) }));
  };
  const upstream = async () => (await metric('web_upstream_requests_total')).reduce((s, m) => s + m.value, 0);

  // Page weight: the first load, every file the page asks for, as transferred (gzip).
  const files = ['/', '/ui/vendor/uPlot.css', '/ui/style.css', '/ui/vendor/uPlot.js', '/ui/main.js', '/ui/cameras.js', '/ui/vendor/preact.mjs', '/ui/vendor/hooks.mjs', '/ui/vendor/htm.mjs'];
  let weight = 0;
  let raw = 0;
  for (const f of files) {
    const r = await fetch(`${web}${f}`, { headers: { 'accept-encoding': 'gzip' } });
    weight += Number(r.headers.get('content-length') ?? 0);
    raw += (await r.arrayBuffer()).byteLength;
  }
  console.log(`page weight: ${(weight / 1024).toFixed(1)} KiB transferred (gzip) for ${files.length} files, ${(raw / 1024).toFixed(1)} KiB uncompressed`);

  const window = async (ms: number) => {
    await metric('web_event_loop_delay_seconds'); // resets the delay histogram
    const c0 = cpuMs();
    const u0 = await upstream();
    const t0 = Date.now();
    await sleep(ms);
    const dt = (Date.now() - t0) / 1000;
    const cpu = (cpuMs() - c0) / dt;
    const ups = ((await upstream()) - u0) / dt;
    const p99 = (await metric('web_event_loop_delay_seconds')).find((m) => m.labels.includes('"0.99"'))!.value * 1000;
    return { cpu, ups, p99 };
  };
  await window(5000); // warm-up (module compile, JIT): discarded
  const idle = await window(5000);
  console.log(`idle (0 clients, no events): web CPU ${idle.cpu.toFixed(1)} ms/s, upstream ${idle.ups.toFixed(2)} req/s`);
  console.log('clients | latency p50 | p99      | web CPU ms/s | CPU/client ms/s | upstream req/s | loop delay p99 | events/client');
  const rows: { n: number; ups: number; cpu: number }[] = [];
  for (const n of [1, 100]) {
    const latencies: number[] = [];
    const ctls: AbortController[] = [];
    let received = 0;
    for (let i = 0; i < n; i++) {
      const ctl = new AbortController();
      ctls.push(ctl);
      const res = await fetch(`${web}/api/stream`, { headers: { accept: 'text/event-stream' }, signal: ctl.signal });
      void readSseFrames(res.body!, (f) => {
        if (!f.includes('event: safety')) return;
        const ts = Number(/"ts":(\d+)/.exec(f)?.[1]);
        latencies.push(Date.now() - ts);
        received++;
      });
    }
    await sleep(1500);
    latencies.length = 0;
    received = 0;
    // 50 events a second, spread evenly; the window runs meanwhile.
    let stored = 0;
    const writer = setInterval(() => {
      const ts = Date.now();
      store.append({ ts, camera: 'cam1', zone: 'press', cls: 'person', score: 0.9, boxes: [{ x1: 0.1, y1: 0.1, x2: 0.2, y2: 0.4, cls: 'person', score: 0.9 }], snapshot: null, episodeStart: ts - 2000 });
      stored++;
    }, 20);
    const w = await window(seconds * 1000);
    clearInterval(writer);
    await sleep(pollMs + 500);
    for (const c of ctls) c.abort();
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    rows.push({ n, ups: w.ups, cpu: w.cpu });
    console.log(`${String(n).padStart(7)} | ${q(0.5).toFixed(0).padStart(8)} ms | ${q(0.99).toFixed(0).padStart(5)} ms | ${w.cpu.toFixed(1).padStart(12)} | ${((w.cpu - idle.cpu) / n).toFixed(2).padStart(15)} | ${w.ups.toFixed(2).padStart(14)} | ${w.p99.toFixed(2).padStart(11)} ms | ${(received / n).toFixed(0)} of ${stored}`);
    await sleep(1000);
  }
  // Less noisy than against the idle window on a shared machine: both rows carry the same event load.
  console.log(`web CPU per added client: (${rows[1]!.cpu.toFixed(1)} - ${rows[0]!.cpu.toFixed(1)}) / 99 = ${((rows[1]!.cpu - rows[0]!.cpu) / 99).toFixed(2)} ms/s`);
  console.log(`upstream requests/s, 100 clients vs 1: ${(rows[1]!.ups / rows[0]!.ups).toFixed(2)}x (1.00 = flat: one shared poller)`);
  console.log(`(events polled every ${pollMs} ms: WEB_EVENTS_POLL_MS; delivery latency is bounded by it)`);
  store.close();
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
