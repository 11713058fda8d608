// Benchmark of issue 15's thread backend and sd_notify watchdog. Prints figures; asserts nothing.
//  1. Hang -> serving of a process child whose event loop blocks (test/fixtures/notify-child.mjs):
//     the sd_notify watchdog (500 ms, pings every 250 ms) against HTTP probes (every 1 s, timeout
//     500 ms, 3 failures), same child, same run. Target: hang caught in under 1 s.
//  2. 100 thread workers in one tree (library use, createTree): start time, memory per worker,
//     failure -> replacement running p50/p99, against a bare loop that restarts the same module
//     in a new Worker on exit (ratio), measured in the same run.
// Run: node --import tsx test/bench/thread-watchdog.bench.ts   (or npm run bench -- thread-watchdog)
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';

const HANGS = Number(process.env.BENCH_HANGS ?? 5);
const THREADS = Number(process.env.BENCH_THREADS ?? 100);
const FAILURES = Number(process.env.BENCH_FAILURES ?? 50);
const CHILD = join(repoRoot, 'test/fixtures/notify-child.mjs');
const WORKER = join(repoRoot, 'test/fixtures/thread-bench-worker.mjs');

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (n: number) => `${n.toFixed(0)} ms`;

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(200) })).ok;
  } catch {
    return false;
  }
}

/** One child under its own tree, hung HANGS times: hang -> verdict and hang -> serving, in ms. */
async function hangs(arm: 'watchdog' | 'probes'): Promise<{ verdict: number[]; serving: number[] }> {
  const port = await freePort();
  const child: Record<string, unknown> = { id: 'app', process: { command: [process.execPath, CHILD], env: { PORT: String(port) } } };
  if (arm === 'watchdog') child['notify'] = { ready: true, watchdog: '500ms' };
  else child['probes'] = [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '1s', timeout: '500ms', failures: 3 }];
  const tree = createTree(parseTreeObject({ name: `bench-${arm}`, intensity: 100, children: [child] }), { backends: defaultBackends(), baseDir: repoRoot });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  await tree.start();
  const verdict: number[] = [];
  const serving: number[] = [];
  try {
    for (let i = 0; i < HANGS; i++) {
      await waitFor('running', () => tree.child('app')?.state === 'running' && healthy(port), 30_000, 10);
      // Let probes settle into their steady rate, as in the field: the hang lands at a random phase.
      await sleep(1000 + Math.random() * 1000);
      const seen = events.length;
      const t0 = Date.now();
      await fetch(`http://127.0.0.1:${port}/fail/hang`, { method: 'POST', signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      const u = await waitFor('verdict', () => events.slice(seen).find((e) => e.type === 'transition' && e.to === 'unhealthy'), 30_000, 5);
      verdict.push(u.ts - t0);
      await waitFor('serving again', async () => events.slice(seen).some((e) => e.type === 'exit') && (await healthy(port)), 30_000, 5);
      serving.push(Date.now() - t0);
    }
  } finally {
    await tree.stop();
  }
  return { verdict, serving };
}

/** 100 thread workers under one tree: start, memory, failure -> replacement running. */
async function threadTree(): Promise<{ startMs: number; perWorkerMb: number; replace: number[] }> {
  const children = Array.from({ length: THREADS }, (_, i) => ({ id: `w${i}`, thread: { module: WORKER, heartbeat_timeout: '5s' } }));
  const tree = createTree(parseTreeObject({ name: 'bench-threads', intensity: 10_000, period: '1s', children }), { backends: defaultBackends(), baseDir: repoRoot });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  await tree.start();
  await waitFor('all running', () => tree.snapshot().nodes.every((n) => n.state === 'running'), 120_000, 10);
  const startMs = performance.now() - t0;
  await sleep(500);
  const perWorkerMb = (process.memoryUsage().rss - rss0) / THREADS / (1 << 20);
  const bc = new BroadcastChannel('edgevisor-bench');
  const replace: number[] = [];
  try {
    for (let i = 0; i < FAILURES; i++) {
      const id = `w${(i * 7) % THREADS}`;
      const before = tree.child(id)!.restarts;
      const seen = events.length;
      const start = Date.now();
      bc.postMessage(id);
      await waitFor('replaced', () => tree.child(id)!.restarts > before && events.slice(seen).some((e) => e.child === id && e.type === 'transition' && e.to === 'running'), 20_000, 1);
      const running = events.slice(seen).find((e) => e.child === id && e.type === 'transition' && e.to === 'running')!;
      replace.push(running.ts - start);
    }
  } finally {
    bc.close();
    await tree.stop();
  }
  return { startMs, perWorkerMb, replace };
}

/** The baseline: the same module in bare Workers, restarted by `on('exit')`, nothing else. */
async function bareLoop(): Promise<{ startMs: number; replace: number[] }> {
  const src = `const { workerData } = require('node:worker_threads');
    import(workerData.url).then((m) => m.default({ signal: new AbortController().signal, heartbeat() {}, id: workerData.id })).then(() => process.exit(0), () => process.exit(1));`;
  const url = pathToFileURL(WORKER).href;
  const bc = new BroadcastChannel('edgevisor-bench');
  const up = new Map<string, () => void>();
  bc.onmessage = (e: MessageEvent) => {
    const m = String(e.data);
    if (m.startsWith('up:')) up.get(m.slice(3))?.();
  };
  const waitUp = (id: string) => new Promise<void>((r) => up.set(id, r));
  let stopping = false;
  const workers = new Set<Worker>();
  const launch = (id: string) => {
    const w = new Worker(src, { eval: true, workerData: { url, id } });
    workers.add(w);
    w.on('exit', () => {
      workers.delete(w);
      if (!stopping) launch(id);
    });
  };
  const t0 = performance.now();
  for (let i = 0; i < THREADS; i++) {
    const ready = waitUp(`w${i}`);
    launch(`w${i}`);
    await ready; // one after the other, as the tree starts them
  }
  const startMs = performance.now() - t0;
  const replace: number[] = [];
  for (let i = 0; i < FAILURES; i++) {
    const id = `w${(i * 7) % THREADS}`;
    const ready = waitUp(id);
    const t = performance.now();
    bc.postMessage(id);
    await ready;
    replace.push(performance.now() - t);
  }
  stopping = true;
  await Promise.all([...workers].map((w) => w.terminate()));
  bc.close();
  return { startMs, replace };
}

const wd = await hangs('watchdog');
const pr = await hangs('probes');
console.log(`hang -> verdict (median of ${HANGS}): watchdog 500ms ${ms(pct(wd.verdict, 50))} (max ${ms(Math.max(...wd.verdict))}), HTTP probes 1s x 3 ${ms(pct(pr.verdict, 50))} (max ${ms(Math.max(...pr.verdict))}), ratio ${(pct(wd.verdict, 50) / pct(pr.verdict, 50)).toFixed(2)}x`);
console.log(`hang -> serving (median of ${HANGS}): watchdog ${ms(pct(wd.serving, 50))}, HTTP probes ${ms(pct(pr.serving, 50))}, ratio ${(pct(wd.serving, 50) / pct(pr.serving, 50)).toFixed(2)}x`);

const tt = await threadTree();
const bare = await bareLoop();
console.log(`${THREADS} thread workers: start ${ms(tt.startMs)} (${(tt.startMs / THREADS).toFixed(1)} ms each; bare Workers ${ms(bare.startMs)}, ratio ${(tt.startMs / bare.startMs).toFixed(2)}x), RSS ${tt.perWorkerMb.toFixed(1)} MB per worker`);
console.log(
  `failure -> replacement running (${FAILURES} failures): tree p50 ${ms(pct(tt.replace, 50))} p99 ${ms(pct(tt.replace, 99))}; bare loop p50 ${ms(pct(bare.replace, 50))} p99 ${ms(pct(bare.replace, 99))}; ratio p50 ${(pct(tt.replace, 50) / pct(bare.replace, 50)).toFixed(2)}x`,
);
process.exit(0);
