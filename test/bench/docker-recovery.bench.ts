// Benchmark of container recovery (issue 3). Prints figures and ratios; asserts nothing.
//  1. Crash -> serving again: edgevisor (events stream + docker start) vs Docker's own
//     `restart: on-failure`, vs the floor (`docker kill` + `docker start` + first HTTP answer over
//     the API, no supervisor logic), same image, same run.
//  2. Hang (docker pause) -> serving again: edgevisor (HTTP probe every 1 s, timeout 1 s,
//     3 failures) vs a HEALTHCHECK with the same interval/timeout/retries plus an autoheal-style
//     poller restarting `unhealthy` containers every 5 s.
// Targets: crash within 1.3x of the floor; hang at least 3x faster than the HEALTHCHECK restarter.
// Run: node --import tsx test/bench/docker-recovery.bench.ts   (BENCH_CRASHES, BENCH_HANGS)
import { createDockerBackend, createDockerClient, LABEL_PROJECT } from '../../supervisor/src/backends/docker/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTestProject, docker, fault, type TestContainer, type TestProject } from '../helpers/docker.ts';
import { sleep, waitFor } from '../helpers/net.ts';

const CRASHES = Number(process.env.BENCH_CRASHES ?? 5);
const HANGS = Number(process.env.BENCH_HANGS ?? 3);
const keepAlive = setInterval(() => {}, 1000);
const client = createDockerClient({ timeoutMs: 30_000 });

async function healthy(c: TestContainer): Promise<boolean> {
  try {
    return (await fetch(`${c.url}/healthz`, { signal: AbortSignal.timeout(300), headers: { connection: 'close' } })).ok;
  } catch {
    return false;
  }
}

/** Fault, then wait until /healthz fails and answers again (polled every 5 ms). */
async function toServing(c: TestContainer, doFault: () => Promise<unknown>, limitMs: number, waitDown = true): Promise<number> {
  await waitFor('serving before the fault', () => healthy(c), 30_000, 10);
  const t0 = performance.now();
  await doFault();
  if (waitDown) await waitFor('down', async () => !(await healthy(c)), 5000, 2).catch(() => undefined);
  await waitFor('serving after the fault', () => healthy(c), limitMs, 5);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;

function treeFor(proj: TestProject, c: TestContainer) {
  return parseTreeObject({
    version: 1,
    name: 'bench',
    intensity: 100,
    period: '10s',
    backoff: { initial: '1ms', max: '1s', reset_after: '1s' },
    docker: { project: proj.name, timeout: '30s' },
    children: [{ id: c.service, shutdown: '1s', docker: { service: c.service }, probes: [{ name: 'live', http: { url: `${c.url}/healthz` }, every: '1s', timeout: '1s', failures: 3, startup_grace: '30s' }] }],
  });
}

async function withEdgevisor<T>(proj: TestProject, c: TestContainer, fn: () => Promise<T>): Promise<T> {
  const backend = createDockerBackend({ project: proj.name, timeoutMs: 30_000 });
  const tree = createTree(treeFor(proj, c), { backends: { docker: backend } });
  await tree.start();
  try {
    return await fn();
  } finally {
    await tree.stop();
    backend.close();
  }
}

async function main() {
  const proj = await createTestProject('ev-bench');
  try {
    // --- crash ---
    const ev = await proj.create('evcrash');
    const onFailure = await proj.create('onfailure', { restart: 'on-failure' });
    const floor = await proj.create('floor');
    const crash = (c: TestContainer) => () => fault(c.url, 'crash?code=1');

    const evCrash = await withEdgevisor(proj, ev, async () => {
      const xs: number[] = [];
      for (let i = 0; i < CRASHES; i++) xs.push(await toServing(ev, crash(ev), 60_000)), await sleep(1200);
      return xs;
    });
    await docker(['start', onFailure.id]);
    const dockerCrash: number[] = [];
    // The engine's backoff doubles from 100 ms and resets after 10 s of running: space the crashes.
    for (let i = 0; i < CRASHES; i++) dockerCrash.push(await toServing(onFailure, crash(onFailure), 60_000)), await sleep(11_000);
    await docker(['start', floor.id]);
    const floorCrash: number[] = [];
    for (let i = 0; i < CRASHES; i++) {
      floorCrash.push(await toServing(floor, async () => {
        await client.kill(floor.id, 'SIGKILL');
        await client.start(floor.id);
      }, 60_000, false));
    }
    await docker(['rm', '-f', onFailure.id, floor.id]).catch(() => {});

    // --- hang ---
    const evHangC = await proj.create('evhang');
    const healC = await proj.create('autoheal', { healthcheck: { intervalS: 1, retries: 3, timeoutS: 1 } });
    const pause = (c: TestContainer) => () => docker(['pause', c.id]);
    const evHang = await withEdgevisor(proj, evHangC, async () => {
      const xs: number[] = [];
      for (let i = 0; i < HANGS; i++) xs.push(await toServing(evHangC, pause(evHangC), 120_000)), await sleep(1500);
      return xs;
    });
    await docker(['start', healC.id]);
    // docker-autoheal's loop: every 5 s, restart containers whose health is `unhealthy`.
    let healing = true;
    const poller = (async () => {
      while (healing) {
        const rows = await client.list({ [LABEL_PROJECT]: proj.name }).catch(() => []);
        for (const r of rows) {
          const st = await client.inspect(r.id).catch(() => null);
          if (st?.health === 'unhealthy') await client.restart(r.id, 1).catch(() => undefined);
        }
        await sleep(5000);
      }
    })();
    const healHang: number[] = [];
    for (let i = 0; i < HANGS; i++) {
      await waitFor('healthcheck healthy', async () => (await client.inspect(healC.id)).health === 'healthy', 60_000, 200);
      healHang.push(await toServing(healC, pause(healC), 180_000));
    }
    healing = false;
    await poller;

    const r = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
    console.log('\n# docker recovery (same image, same box, same run)');
    console.log(`crash -> serving   edgevisor            ${fmt(evCrash)}`);
    console.log(`crash -> serving   restart: on-failure  ${fmt(dockerCrash)}`);
    console.log(`crash -> serving   floor kill+start     ${fmt(floorCrash)}`);
    console.log(`  edgevisor / floor = ${r(evCrash, floorCrash)}  (target <= 1.3);  on-failure / edgevisor = ${r(dockerCrash, evCrash)}`);
    console.log(`hang  -> serving   edgevisor 1s x3      ${fmt(evHang)}`);
    console.log(`hang  -> serving   HEALTHCHECK+autoheal ${fmt(healHang)}`);
    console.log(`  autoheal / edgevisor = ${r(healHang, evHang)}  (target >= 3)`);
  } finally {
    await proj.cleanup();
    clearInterval(keepAlive);
  }
}

await main();
