// Benchmark of the embedded appliance's sd_notify watchdog (deploy/embedded.tree.yaml: every app
// `notify: { ready: true, watchdog: 5s, access: main }`). Prints figures; asserts nothing.
// Two arms in the same run, the same appliance (npm start on free ports, runtime failpoints on):
// the shipped tree, and the same tree without its notify lines (probes only). In each, once every
// app runs and is past its startup grace, the event loops of camera, web, onvif and vacuum are
// blocked at once (POST /failpoints/block) and the time to each app's `unhealthy` verdict is taken
// (and what caught it). Also: each app's start -> running and whether READY=1 or its probes ended it.
// Run: node --import tsx test/bench/embedded-watchdog.bench.ts   (or npm run bench -- embedded-watchdog)
import { loadavg } from 'node:os';
import { sleep, waitFor } from '../helpers/net.ts';
import { EMBEDDED_APPS, startEmbedded, type EmbeddedApp } from '../helpers/embedded-tree.ts';

const BLOCKED = ['camera', 'web', 'onvif', 'vacuum'] as const satisfies readonly EmbeddedApp[];
/** Past the longest startup grace of the blocked apps' probes (15 s) and inference's (20 s). */
const SETTLE_MS = 25_000;

interface Ev { seq: number; ts: number; type: string; child?: string; to?: string; reason?: string }
interface Arm { caught: Record<string, { ms: number; by: string }>; startup: Record<string, { ms: number; reason: string }> }

async function arm(withNotify: boolean): Promise<Arm> {
  const app = await startEmbedded({
    edit: (y) => {
      const on = y.replace(/env: \{ PORT: /g, 'env: { EDGEVISOR_FAILPOINTS: "1", PORT: ');
      return withNotify ? on : on.replace(/^\s*notify: .*\n/gm, '');
    },
  });
  try {
    await waitFor('every app running', async () => {
      const t = await app.api<{ nodes: { id: string; state: string }[] }>('/v1/tree').catch(() => null);
      return t !== null && EMBEDDED_APPS.every((id) => t.nodes.find((n) => n.id === id)?.state === 'running');
    }, 180_000, 500);
    const early = (await app.api<{ events: Ev[] }>('/v1/events?since=0&limit=1000')).events;
    const startup: Arm['startup'] = {};
    for (const id of EMBEDDED_APPS) {
      const s = early.find((e) => e.type === 'transition' && e.child === id && e.to === 'starting');
      const r = early.find((e) => e.type === 'transition' && e.child === id && e.to === 'running');
      if (s && r) startup[id] = { ms: r.ts - s.ts, reason: r.reason ?? '' };
    }
    await sleep(SETTLE_MS);
    const { lastSeq } = await app.api<{ lastSeq: number }>('/v1/events?since=0&limit=1');
    const at: Record<string, number> = {};
    for (const id of BLOCKED) {
      at[id] = Date.now();
      void fetch(`http://127.0.0.1:${app.ports[id]}/failpoints/block`, { method: 'POST', signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    }
    const caught: Arm['caught'] = {};
    await waitFor('every blocked app judged unhealthy', async () => {
      const { events } = await app.api<{ events: Ev[] }>(`/v1/events?since=${lastSeq}&limit=1000`);
      for (const e of events) {
        if (e.type === 'transition' && e.to === 'unhealthy' && e.child && at[e.child] && !caught[e.child]) {
          caught[e.child] = { ms: e.ts - at[e.child]!, by: /WATCHDOG/.test(e.reason ?? '') ? 'watchdog' : (e.reason ?? '').split(' failed')[0]! };
        }
      }
      return BLOCKED.every((id) => caught[id]);
    }, 120_000, 200);
    return { caught, startup };
  } finally {
    await app.close();
  }
}

const notify = await arm(true);
const probes = await arm(false);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores)`);
console.log('\nstart -> running (what ended startup), watchdog arm:');
for (const id of EMBEDDED_APPS) console.log(`  ${id.padEnd(10)} ${String(notify.startup[id]?.ms ?? '?').padStart(6)} ms  (${notify.startup[id]?.reason ?? '?'}); probes-only arm ${probes.startup[id]?.ms ?? '?'} ms`);
console.log('\nevent loop blocked -> unhealthy:');
console.log('  app          watchdog arm             probes-only arm          ratio');
for (const id of BLOCKED) {
  const a = notify.caught[id]!;
  const b = probes.caught[id]!;
  console.log(`  ${id.padEnd(10)} ${`${a.ms} ms (${a.by})`.padEnd(24)} ${`${b.ms} ms (${b.by})`.padEnd(24)} ${(a.ms / b.ms).toFixed(2)}`);
}
