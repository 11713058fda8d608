// Benchmark of edgevisor as a library (issue 15): what supervising in-process workers costs, next
// to a bare loop that restarts the same function (`for (;;) { try { await fn() } catch {} }`),
// measured in the same run. Prints figures and ratios; asserts nothing.
//  - start: build + start N workers until every one is running;
//  - memory per worker: heap and RSS with N workers up, minus before, after GC, over N;
//  - failure -> replacement running: a worker throws; time until its function is called again (p50/p99);
//  - CPU at rest: N idle workers, each heartbeating every 1 s (heartbeat_timeout 5 s), % of one core.
// Each side runs in a fresh process (`--expose-gc`), so one side's heap does not bill the other.
// Thread workers are measured by test/bench/thread-watchdog.bench.ts. Run: npm run bench -- library
// (or node --import tsx test/bench/library.bench.ts). BENCH_WORKERS, BENCH_FAILURES, BENCH_REST_S.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 1000);
const FAILURES = Number(process.env.BENCH_FAILURES ?? 300);
const REST_S = Number(process.env.BENCH_REST_S ?? 10);

interface Result {
  side: 'edgevisor' | 'bare';
  startMs: number;
  heapPerWorkerB: number;
  rssPerWorkerB: number;
  replaceP50Ms: number;
  replaceP99Ms: number;
  replaceP90Ms: number;
  replaceMaxMs: number;
  restCpuPct: number;
}

type Ctx = { signal: AbortSignal; heartbeat: () => void };

/** N controllable workers: worker i throws when `fail(i)` is called; `nextStart(i)` resolves at its next call. */
function workers(n: number) {
  const fail: ((err: Error) => void)[] = new Array(n);
  const waiting: (() => void)[] = new Array(n);
  const fns = Array.from({ length: n }, (_, i) => async ({ signal, heartbeat }: Ctx) => {
    waiting[i]?.();
    const hb = setInterval(heartbeat, 1000);
    try {
      await new Promise<void>((resolve, reject) => {
        fail[i] = reject;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      clearInterval(hb);
    }
  });
  return {
    fns,
    fail: (i: number) => fail[i](new Error(`worker ${i} failed`)),
    nextStart: (i: number) => new Promise<void>((r) => (waiting[i] = r)),
  };
}

const gc = () => {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

async function measure(side: Result['side']): Promise<Result> {
  const w = workers(WORKERS);
  const lib = side === 'edgevisor' ? await import('edgevisor') : null;
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  let stop: () => Promise<void>;
  if (lib) {
    const { createTree, defaultBackends, parseTreeObject } = lib;
    const spec = parseTreeObject({
      version: 1,
      name: 'bench',
      intensity: 10_000,
      period: '1s',
      children: w.fns.map((run, i) => ({ id: `w${i}`, shutdown: '1s', inproc: { run, heartbeat_timeout: '5s' } })),
    });
    const tree = createTree(spec, { backends: defaultBackends(), onInternalError: (e) => console.error(e) });
    await tree.start();
    const notRunning = tree.snapshot().nodes.filter((x) => x.type === 'worker' && x.state !== 'running').length;
    if (notRunning) throw new Error(`${notRunning} workers not running after start`);
    stop = () => tree.stop();
  } else {
    const controllers = w.fns.map(() => new AbortController());
    const started = w.fns.map((fn, i) => {
      const first = w.nextStart(i);
      void (async () => {
        while (!controllers[i].signal.aborted) {
          try {
            await fn({ signal: controllers[i].signal, heartbeat: () => {} });
          } catch {
            // restart at once
          }
        }
      })();
      return first;
    });
    await Promise.all(started);
    stop = async () => controllers.forEach((c) => c.abort());
  }
  const startMs = performance.now() - t0;
  gc();
  const after = process.memoryUsage();

  const replace: number[] = [];
  for (let k = 0; k < FAILURES; k++) {
    const i = (k * 7) % WORKERS; // a different worker each time: each restart is a first one
    const next = w.nextStart(i);
    const t = performance.now();
    w.fail(i);
    await next;
    replace.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 2)); // let the old run's bookkeeping settle
  }

  await new Promise((r) => setTimeout(r, 1000));
  const cpu0 = process.cpuUsage();
  const r0 = performance.now();
  await new Promise((r) => setTimeout(r, REST_S * 1000));
  const cpu = process.cpuUsage(cpu0);
  const restCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - r0)) * 100;
  await stop();
  return {
    side,
    startMs,
    heapPerWorkerB: (after.heapUsed - before.heapUsed) / WORKERS,
    rssPerWorkerB: (after.rss - before.rss) / WORKERS,
    replaceP50Ms: pct(replace, 50),
    replaceP99Ms: pct(replace, 99),
    replaceP90Ms: pct(replace, 90),
    replaceMaxMs: Math.max(...replace),
    restCpuPct,
  };
}

const side = process.argv[2] as Result['side'] | undefined;
if (side) {
  console.log(JSON.stringify(await measure(side)));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const results: Record<string, Result> = {};
for (const s of ['bare', 'edgevisor'] as const) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, s], { encoding: 'utf8', timeout: 600_000, env: process.env });
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  results[s] = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Result;
}
const b = results.bare;
const e = results.edgevisor;
const row = (name: string, ev: number, bare: number, unit: string, digits = 2) =>
  console.log(`${name.padEnd(34)} edgevisor ${ev.toFixed(digits).padStart(9)} ${unit.padEnd(3)}  bare loop ${bare.toFixed(digits).padStart(9)} ${unit.padEnd(3)}  ratio ${(ev / bare).toFixed(1)}x`);
console.log(`${WORKERS} in-process workers, ${FAILURES} failures, ${REST_S} s at rest (node ${process.version})`);
row('start (all running)', e.startMs, b.startMs, 'ms', 1);
row('heap per worker', e.heapPerWorkerB / 1024, b.heapPerWorkerB / 1024, 'KB');
row('RSS per worker', e.rssPerWorkerB / 1024, b.rssPerWorkerB / 1024, 'KB');
row('failure -> replacement p50', e.replaceP50Ms, b.replaceP50Ms, 'ms', 3);
row('failure -> replacement p99', e.replaceP99Ms, b.replaceP99Ms, 'ms', 3);
row('failure -> replacement p90', e.replaceP90Ms, b.replaceP90Ms, 'ms', 3);
row('failure -> replacement max', e.replaceMaxMs, b.replaceMaxMs, 'ms', 3);
row('CPU at rest (% of one core)', e.restCpuPct, b.restCpuPct, '%');
