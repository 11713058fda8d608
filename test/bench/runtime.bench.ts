// Benchmark of the production runtime (issue 14, point 1). Prints figures and ratios; asserts nothing.
// Per app (the supervisor and the five apps), in the same run and alternating: the sources through
// tsx (`node --import tsx apps/<app>/src/main.ts`, what production ran before) against the built
// bundle (`node dist/<app>.mjs`, what it runs now):
//  - start to healthy: spawn -> the first 200 from /healthz (polled every 5 ms), i.e. the restart
//    time of that app on a box;
//  - RSS of the process 2 s after it became healthy (/proc/PID/status VmRSS), i.e. its memory.
// Medians of ROUNDS starts each; ratio = bundle / tsx (below 1: the bundle is better).
// Run: node --import tsx test/bench/runtime.bench.ts [rounds=5]   (or npm run bench -- runtime)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';

const ROUNDS = Number(process.argv[2] ?? process.env.BENCH_ROUNDS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-bench-runtime-'));

interface App {
  name: string;
  source: string;
  /** Arguments after the script, and env, for one start on `port`. */
  run: (port: number) => { args?: string[]; env: Record<string, string> };
  nodeArgs?: string[];
}

const tokens = { EDGEVISOR_VIEWER_TOKEN: 'bench-viewer-token-0123456789', EDGEVISOR_TECHNICIAN_TOKEN: 'bench-technician-token-0123456789' };
const apps: App[] = [
  {
    name: 'supervisor',
    source: 'supervisor/src/cli/main.ts',
    nodeArgs: ['--max-semi-space-size=2'],
    run: (port) => {
      const file = join(dir, `tree-${port}.yaml`);
      writeFileSync(file, [
        'version: 1', 'name: bench', `api: { listen: "127.0.0.1:${port}" }`, `store: { path: ${join(dir, `sup-${port}.db`)} }`,
        'children:', '  - id: idle', '    process: { command: [sleep, "3600"] }', '',
      ].join('\n'));
      return { args: ['run', file], env: tokens };
    },
  },
  { name: 'web', source: 'apps/web/src/main.ts', run: () => ({ env: { DATA_DIR: dir, INFERENCE_URL: 'http://127.0.0.1:9', CAMERA_URL: 'http://127.0.0.1:9' } }) },
  { name: 'onvif', source: 'apps/onvif/src/main.ts', run: () => ({ env: { DATA_DIR: dir, ONVIF_DISCOVERY: 'false' } }) },
  { name: 'vacuum', source: 'apps/vacuum/src/main.ts', run: () => ({ env: { DATA_DIR: dir, VACUUM_CONFIG: join(repoRoot, 'deploy/embedded/vacuum.yaml') } }) },
  { name: 'camera', source: 'apps/camera/src/main.ts', run: () => ({ env: { DATA_DIR: dir, CAMERAS_FILE: join(repoRoot, 'deploy/embedded/cameras.yaml') } }) },
  { name: 'inference', source: 'apps/inference/src/main.ts', run: () => ({ env: { DATA_DIR: dir, CAMERA_URL: 'http://127.0.0.1:9', MODEL: join(repoRoot, 'models/nanodet.onnx'), CLASSES: 'person' } }) },
];

async function healthy(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const gone = new Promise((r) => p.once('exit', r));
  try { process.kill(-p.pid, 'SIGTERM'); } catch { p.kill('SIGTERM'); }
  await Promise.race([gone, sleep(8000)]);
  try { process.kill(-p.pid, 'SIGKILL'); } catch {}
}

/** One start: ms to the first healthy answer and MB of RSS 2 s later. */
async function start(app: App, kind: 'tsx' | 'bundle'): Promise<{ ms: number; mb: number }> {
  const port = await freePort();
  const { args = [], env } = app.run(port);
  const entry = kind === 'tsx' ? ['--import', 'tsx', join(repoRoot, app.source)] : [join(repoRoot, 'dist', `${app.name === 'supervisor' ? 'edgevisor' : app.name}.mjs`)];
  const t0 = performance.now();
  const p = spawn(process.execPath, [...(app.nodeArgs ?? []), ...entry, ...args], {
    cwd: repoRoot,
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    const deadline = Date.now() + 60_000;
    while (!(await healthy(port))) {
      if (p.exitCode !== null) throw new Error(`${app.name} (${kind}) exited ${p.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`${app.name} (${kind}) not healthy after 60 s: ${stderr}`);
      await sleep(5);
    }
    const ms = performance.now() - t0;
    await sleep(2000); // RSS once the start's allocations settled (a figure, not a test)
    return { ms, mb: rssMb(p.pid!) };
  } finally {
    await stop(p);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f0 = (n: number) => n.toFixed(0).padStart(6);
const f2 = (n: number) => n.toFixed(2).padStart(6);

const built = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-dist.mjs'), '--if-stale'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(1);
console.log(`runtime: start to healthy and RSS, tsx (sources) vs bundle (dist/), medians of ${ROUNDS} starts each, alternating`);
console.log('app          tsx ms  dist ms  ratio   tsx MB  dist MB  ratio');
const totals = { tsxMs: 0, distMs: 0, tsxMb: 0, distMb: 0 };
try {
  for (const app of apps) {
    const r = { tsx: [] as { ms: number; mb: number }[], bundle: [] as { ms: number; mb: number }[] };
    await start(app, 'bundle'); // warm the page cache for both (the same node_modules)
    for (let i = 0; i < ROUNDS; i++) {
      const order: ('tsx' | 'bundle')[] = i % 2 ? ['bundle', 'tsx'] : ['tsx', 'bundle'];
      for (const kind of order) r[kind].push(await start(app, kind));
    }
    const m = { tsxMs: median(r.tsx.map((x) => x.ms)), distMs: median(r.bundle.map((x) => x.ms)), tsxMb: median(r.tsx.map((x) => x.mb)), distMb: median(r.bundle.map((x) => x.mb)) };
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += m[k];
    console.log(`${app.name.padEnd(11)} ${f0(m.tsxMs)}   ${f0(m.distMs)} ${f2(m.distMs / m.tsxMs)}   ${f0(m.tsxMb)}   ${f0(m.distMb)} ${f2(m.distMb / m.tsxMb)}`);
  }
  console.log(`${'all six'.padEnd(11)} ${f0(totals.tsxMs)}   ${f0(totals.distMs)} ${f2(totals.distMs / totals.tsxMs)}   ${f0(totals.tsxMb)}   ${f0(totals.distMb)} ${f2(totals.distMb / totals.tsxMb)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
