// Benchmark of the supervision core with the process backend (issue 2). Prints figures; asserts nothing.
//  1. Crash -> serving again: a child under `edgevisor run` vs a plain shell loop restarting the
//     same program (`while true; do node http-child.js; done`), measured in the same run.
//  2. Supervisor CPU and RSS while supervising 50 children, each HTTP-probed every 1 s
//     (targets: < 2% of one core, < 100 MB), next to an idle node process as the baseline.
// Run: node --import tsx test/bench/supervisor.bench.ts   (or npm run bench -- supervisor)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep, waitFor } from '../helpers/net.ts';
import { httpChild, repoRoot } from '../helpers/tree.ts';

const CRASHES = Number(process.env.BENCH_CRASHES ?? 8);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 50);
const SAMPLE_S = Number(process.env.BENCH_SAMPLE_S ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-bench-'));

async function healthy(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(200) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Crash the server, then time until /healthz answers 200 again (polled every 5 ms). */
async function crashToServing(port: number): Promise<number> {
  await waitFor('serving before the crash', () => healthy(port), 10_000, 10);
  const t0 = performance.now();
  await fetch(`http://127.0.0.1:${port}/fail/crash?code=1`, { method: 'POST', signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  await waitFor('down', async () => !(await healthy(port)), 2000, 2).catch(() => undefined);
  await waitFor('serving after the crash', () => healthy(port), 20_000, 5);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stop = async (p: ChildProcess) => {
  if (p.exitCode !== null || p.pid === undefined) return;
  const gone = new Promise((r) => p.once('exit', r));
  try {
    process.kill(-p.pid, 'SIGTERM');
  } catch {
    p.kill('SIGTERM');
  }
  await Promise.race([gone, sleep(8000)]);
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {}
};

function edgevisor(tree: string, apiPort: number): ChildProcess {
  const file = join(dir, `tree-${apiPort}.yaml`);
  writeFileSync(file, tree);
  // As deployed (compose.yaml, npm start, the bin's shebang): node --max-semi-space-size=2.
  return spawn(process.execPath, ['--max-semi-space-size=2', join(repoRoot, 'bin/edgevisor.mjs'), 'run', file], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, EDGEVISOR_LISTEN: `127.0.0.1:${apiPort}` },
  });
}

async function benchCrash(): Promise<void> {
  const port = await freePort();
  const apiPort = await freePort();
  const sup = edgevisor(
    `version: 1
name: bench
intensity: 1000
period: 10s
backoff: { initial: 200ms, max: 2s, reset_after: 1s }
api: { listen: 127.0.0.1:${apiPort} }
store: { path: ./bench-${apiPort}.db }
children:
  - id: app
    process: { command: [node, ${httpChild}], env: { PORT: "${port}", FPS: "0" } }
`,
    apiPort,
  );
  const ev: number[] = [];
  for (let i = 0; i < CRASHES; i++) {
    ev.push(await crashToServing(port));
    await sleep(1200); // past reset_after: every crash is a first crash after a clean run
  }
  await stop(sup);

  const port2 = await freePort();
  const loop = spawn('sh', ['-c', `while true; do PORT=${port2} FPS=0 ${process.execPath} ${httpChild} >/dev/null; done`], { detached: true, stdio: 'ignore' });
  const sh: number[] = [];
  for (let i = 0; i < CRASHES; i++) {
    sh.push(await crashToServing(port2));
    await sleep(1200);
  }
  await stop(loop);
  const e = median(ev);
  const s = median(sh);
  console.log(`crash -> serving (median of ${CRASHES}): edgevisor ${e.toFixed(0)} ms, shell loop ${s.toFixed(0)} ms, ratio ${(e / s).toFixed(2)}x`);
  console.log(`  edgevisor runs: ${ev.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`  shell runs:     ${sh.map((x) => x.toFixed(0)).join(' ')}`);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
async function sample(pid: number, seconds: number): Promise<{ cpuPct: number; rss: number }> {
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  await sleep(seconds * 1000);
  const ticks = cpuTicks(pid) - t0;
  const wall = (performance.now() - w0) / 1000;
  return { cpuPct: (ticks / 100 / wall) * 100, rss: rssMb(pid) };
}

async function benchFifty(): Promise<void> {
  const apiPort = await freePort();
  const children: string[] = [];
  for (let i = 0; i < CHILDREN; i++) {
    const port = await freePort();
    children.push(`  - id: c${i}
    process: { command: [node, ${httpChild}], env: { PORT: "${port}", FPS: "1" } }
    probes:
      - name: live
        http: { url: "http://127.0.0.1:${port}/healthz" }
        every: 1s
        timeout: 500ms`);
  }
  const sup = edgevisor(
    `version: 1
name: fifty
api: { listen: 127.0.0.1:${apiPort} }
store: { path: ./bench-${apiPort}.db }
children:
${children.join('\n')}
`,
    apiPort,
  );
  const t0 = performance.now();
  await waitFor(
    `${CHILDREN} children running`,
    async () => {
      const r = await fetch(`http://127.0.0.1:${apiPort}/metrics`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      if (!r?.ok) return false;
      const text = await r.text();
      return (text.match(/edgevisor_child_state\{[^}]*state="running"[^}]*\} 1/g) ?? []).length >= CHILDREN;
    },
    180_000,
    500,
  );
  const startS = (performance.now() - t0) / 1000;
  await sleep(3000);
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const [s, base] = await Promise.all([sample(sup.pid!, SAMPLE_S), sample(idle.pid!, SAMPLE_S)]);
  idle.kill();
  console.log(`${CHILDREN} children probed every 1 s: ordered start took ${startS.toFixed(1)} s`);
  console.log(`  supervisor: CPU ${s.cpuPct.toFixed(2)}% of one core (target < 2%), RSS ${s.rss.toFixed(1)} MB (target < 100 MB)`);
  console.log(`  baseline idle node: CPU ${base.cpuPct.toFixed(2)}%, RSS ${base.rss.toFixed(1)} MB; supervisor RSS ratio ${(s.rss / base.rss).toFixed(2)}x`);
  await stop(sup);
}

try {
  await benchCrash();
  await benchFifty();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
