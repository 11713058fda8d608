/**
 * The trees' staleness probes on a real supervisor tree with vacuums as process children. Two
 * vacuums whose scheduler freezes (failpoint: timers stop, HTTP still answers, /healthz still 200)
 * are restarted, one by the probe on vacuum_scheduler_alive_timestamp_seconds (the tick), one by
 * the probe on vacuum_last_success_timestamp_seconds (runs every 2 s here); a healthy vacuum
 * watched by both probes is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ports, startTree, waitFor, type TreeHarness } from '../helpers/tree.ts';

type Id = 'tick' | 'runs' | 'healthy';

test('vacuums whose scheduler stopped are restarted by the staleness probes; a healthy one is not', async (t) => {
  const p = await ports('tick', 'runs', 'healthy');
  let h: TreeHarness | undefined;
  const probe = (id: Id, name: 'scheduler' | 'runs') => `
      - name: ${name}
        staleness: { url: "http://127.0.0.1:${p[id]}/metrics", metric: ${name === 'scheduler' ? 'vacuum_scheduler_alive_timestamp_seconds, max_age: 3s' : 'vacuum_last_success_timestamp_seconds, max_age: 6s'} }
        every: 1s
        timeout: 1s
        failures: 2
        startup_grace: 30s`;
  const child = (id: Id, probes: string) => `
  - id: ${id}
    shutdown: 3s
    process:
      command: [node, --import, tsx, apps/vacuum/src/main.ts]
      env: { PORT: "${p[id]}", DATA_DIR: "DIR/${id}", VACUUM_CONFIG: "DIR/${id}/vacuum.yaml"${id !== 'healthy' ? ', VACUUM_FAILPOINT: "freeze-scheduler@4s"' : ''} }
    probes:
      - name: live
        http: { url: "http://127.0.0.1:${p[id]}/healthz" }
        every: 1s
        timeout: 1s
        startup_grace: 30s${probes}`;
  const yaml = `
version: 1
name: box
intensity: 10
period: 60s
children:${child('tick', probe('tick', 'scheduler'))}${child('runs', probe('runs', 'runs'))}${child('healthy', probe('healthy', 'scheduler') + probe('healthy', 'runs'))}
`;
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const id of ['tick', 'runs', 'healthy']) {
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'vacuum.yaml'), 'schedule: "*/2 * * * * *"\ntick: 1s\nvolumes:\n  - { name: data, path: . }\n');
  }
  h = await startTree(yaml.replaceAll('DIR', dir));
  t.after(() => h?.close());
  const pid0 = { tick: h.pid('tick'), runs: h.pid('runs') };
  for (const id of ['tick', 'runs'] as const) {
    await waitFor(`the frozen vacuum "${id}" restarted`, () => h!.restarts(id) >= 1 && h!.state(id) === 'running' && h!.pid(id) !== pid0[id], 90_000, 200);
  }
  const restart = (id: Id) => h!.events.find((e) => e.type === 'restart' && e.child === id);
  assert.equal(restart('tick')?.data?.cause, 'probe');
  assert.equal(restart('tick')?.data?.probe, 'scheduler');
  assert.match(String(restart('tick')?.data?.error), /vacuum_scheduler_alive_timestamp_seconds.* old > max 3/);
  assert.equal(restart('runs')?.data?.probe, 'runs');
  assert.match(String(restart('runs')?.data?.error), /vacuum_last_success_timestamp_seconds.* old > max 6/);
  assert.equal(h.restarts('healthy'), 0, 'the healthy vacuum keeps running under both probes');
});
