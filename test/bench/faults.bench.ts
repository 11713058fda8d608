// Benchmark of issue 14's faults on the real compose stack. Prints figures; asserts nothing.
// Per fault, time to detect and time to serving again, side by side in the same run:
//  - edgevisor: compose.yaml + test/e2e/faults.compose.yaml (the fault suite's tree: probes every
//    1 s, 3 s timeout, 3 failures; throughput over 8 s; staleness 20 s).
//  - Docker alone: the same apps with `restart: on-failure` and compose.yaml's shipped HEALTHCHECK
//    (30 s / 5 s / 3 retries / 30 s start period), plus a docker-autoheal replica at its shipped
//    defaults (every 5 s, `docker restart -t 10` of each `unhealthy` container of the project).
// Detect: edgevisor = the `restart` event's time; Docker = the engine's restart (the container's
// FinishedAt, for an exit) or autoheal's restart call. Serving: a new run of the container whose
// /healthz answers 200 and, for camera and inference, frames moving again (camera_frames_total
// rising, inference_last_frame_timestamp_seconds under 3 s old), measured from the injection.
// A fault Docker never notices (a stall: /healthz stays 200) is reported as "not within LIMIT".
// Run: npm run bench -- faults   (env BENCH_FAULTS=crash,oom,... to pick; BENCH_LIMIT_S, default 150)
import { execFile } from 'node:child_process';
import { docker } from '../helpers/docker.ts';
import { startFaultStack, type App, type FaultStack } from '../helpers/fault-stack.ts';
import { sleep, waitFor } from '../helpers/net.ts';

const LIMIT_MS = Number(process.env.BENCH_LIMIT_S ?? 150) * 1000;
const keepAlive = setInterval(() => {}, 1000);

const kill = (pid: number, signal: string) => new Promise<void>((res, rej) => execFile('kill', [`-${signal}`, String(pid)], { timeout: 5000 }, (e) => (e ? rej(e) : res())));
const post = async (s: FaultStack, app: App, path: string) => {
  const r = await fetch(`${s.url(app)}${path}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  if (r.status !== 202) throw new Error(`${app} ${path}: ${r.status}`);
};

interface FaultDef {
  name: string;
  app: App;
  inject(s: FaultStack): Promise<void>;
}
const FAULTS: FaultDef[] = [
  { name: 'crash', app: 'web', inject: async (s) => kill(await s.nodePid('web'), 'KILL') },
  {
    name: 'oom',
    app: 'onvif',
    inject: async (s) => {
      await docker(['update', '--memory', '192m', '--memory-swap', '192m', await s.container('onvif')]);
      await post(s, 'onvif', '/failpoints/oom?mb=1024');
    },
  },
  { name: 'pause', app: 'vacuum', inject: async (s) => void (await docker(['pause', await s.container('vacuum')])) },
  { name: 'sigstop', app: 'web', inject: async (s) => kill(await s.nodePid('web'), 'STOP') },
  { name: 'block', app: 'onvif', inject: (s) => post(s, 'onvif', '/failpoints/block') },
  { name: 'hang-healthz', app: 'vacuum', inject: (s) => post(s, 'vacuum', '/failpoints/hang-healthz') },
  { name: 'stop-frames', app: 'camera', inject: (s) => post(s, 'camera', '/failpoints/stop-frames') },
  { name: 'stuck', app: 'inference', inject: (s) => post(s, 'inference', '/failpoints/stuck') },
];
const picked = process.env.BENCH_FAULTS ? FAULTS.filter((f) => process.env.BENCH_FAULTS!.split(',').includes(f.name)) : FAULTS;

async function metric(s: FaultStack, app: App, name: string): Promise<number[]> {
  const t = await (await fetch(`${s.url(app)}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return t.split('\n').filter((l) => l.startsWith(`${name}{`)).map((l) => Number(l.split(' ').at(-1)));
}

/** A new run of `app` that does its job. */
async function serving(s: FaultStack, app: App, oldStart: string): Promise<boolean> {
  if ((await s.inspect(app)).startedAt === oldStart) return false;
  const h = await fetch(`${s.url(app)}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  if (h?.status !== 200) return false;
  if (app === 'camera') {
    const a = (await metric(s, 'camera', 'camera_frames_total')).reduce((x, y) => x + y, 0);
    await sleep(300);
    return (await metric(s, 'camera', 'camera_frames_total')).reduce((x, y) => x + y, 0) > a;
  }
  if (app === 'inference') return (await metric(s, 'inference', 'inference_last_frame_timestamp_seconds')).some((ts) => Date.now() / 1000 - ts < 3);
  return true;
}

/** docker-autoheal at its defaults: every 5 s, `docker restart -t 10` each unhealthy container. */
function autoheal(project: string, onRestart: (id: string, at: number) => void): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const ids = await docker(['ps', '-q', '--filter', 'health=unhealthy', '--filter', `label=com.docker.compose.project=${project}`], 15_000).catch(() => '');
      for (const id of ids.split('\n').filter(Boolean)) {
        onRestart(id, Date.now());
        await docker(['restart', '-t', '10', id], 60_000).catch(() => {});
      }
      await sleep(5000);
    }
  })();
  return () => void (stopped = true);
}

interface Row { detectMs?: number; servingMs?: number }

async function measure(s: FaultStack, f: FaultDef, side: 'edgevisor' | 'docker', healed: Map<string, number>): Promise<Row> {
  await waitFor('whole before the fault', () => s.whole(), 240_000, 500);
  // Docker alone: start from a healthy HEALTHCHECK, or autoheal may act on an earlier (load-induced)
  // failure and be credited with this fault.
  if (side === 'docker') await waitFor(`${f.app} healthy per HEALTHCHECK`, async () => (await docker(['inspect', '-f', '{{.State.Health.Status}}', await s.container(f.app)])) === 'healthy', 240_000, 1000);
  const before = await s.inspect(f.app);
  const seq = side === 'edgevisor' ? ((await s.events(0)).at(-1)?.seq ?? 0) : 0;
  const t0 = Date.now();
  await f.inject(s);
  const row: Row = {};
  try {
    await waitFor(`${f.app} serving again`, () => serving(s, f.app, before.startedAt), LIMIT_MS, 100);
    row.servingMs = Date.now() - t0;
  } catch {
    // Never noticed within the limit: put the app right by hand for the next fault.
    await docker(['unpause', before.id], 15_000).catch(() => {});
    await docker(['restart', '-t', '0', before.id], 60_000).catch(() => {});
  }
  if (side === 'edgevisor') {
    const r = (await s.events(seq)).find((e) => e.type === 'restart' && e.child === f.app);
    if (r) row.detectMs = r.ts - t0;
  } else {
    const heal = [...healed.entries()].find(([id, at]) => before.id.startsWith(id) && at >= t0);
    if (heal) row.detectMs = heal[1] - t0;
    else if (row.servingMs !== undefined) {
      const fin = Date.parse(JSON.parse(await docker(['inspect', '-f', '{{json .State}}', before.id])).FinishedAt);
      row.detectMs = fin - t0;
    }
  }
  if (f.app === 'onvif') await docker(['update', '--memory', '0', '--memory-swap', '-1', before.id]).catch(() => {});
  return row;
}

const secs = (ms?: number) => (ms === undefined ? `not within ${LIMIT_MS / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

const results = new Map<string, { edgevisor?: Row; docker?: Row }>();
for (const side of ['edgevisor', 'docker'] as const) {
  const t = Date.now();
  const s = await startFaultStack({ prefix: side === 'edgevisor' ? 'evbenchev' : 'evbenchdk', dockerAlone: side === 'docker' });
  console.log(`${side}: stack up in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  const healed = new Map<string, number>();
  const stopHeal = side === 'docker' ? autoheal(s.project, (id, at) => healed.set(id, at)) : () => {};
  try {
    for (const f of picked) {
      // Spaced like the fault suite: past the tree's intensity period (30 s) since the last fault.
      const row = await measure(s, f, side, healed);
      results.set(f.name, { ...results.get(f.name), [side]: row });
      console.log(`  ${side} ${f.name.padEnd(13)} ${f.app.padEnd(9)} detect ${secs(row.detectMs).padStart(16)}  serving ${secs(row.servingMs).padStart(16)}`);
      if (side === 'edgevisor') await sleep(31_000);
    }
  } finally {
    stopHeal();
    await s.down();
  }
}

console.log('\nfault          app        edgevisor detect / serving      Docker alone detect / serving     serving ratio');
for (const f of picked) {
  const r = results.get(f.name)!;
  const ratio = r.edgevisor?.servingMs !== undefined && r.docker?.servingMs !== undefined ? `${(r.docker.servingMs / r.edgevisor.servingMs).toFixed(1)}x faster` : r.edgevisor?.servingMs !== undefined ? 'Docker never' : '-';
  console.log(`${f.name.padEnd(14)} ${f.app.padEnd(10)} ${secs(r.edgevisor?.detectMs).padStart(10)} / ${secs(r.edgevisor?.servingMs).padEnd(16)} ${secs(r.docker?.detectMs).padStart(14)} / ${secs(r.docker?.servingMs).padEnd(16)} ${ratio}`);
}
clearInterval(keepAlive);
