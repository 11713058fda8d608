/**
 * The trees' staleness probe on a real supervisor tree with vacuums as process children: the one
 * whose scheduler freezes (failpoint: timers stop, HTTP still answers, /healthz still 200) is
 * restarted because vacuum_scheduler_alive_timestamp_seconds stops moving; the healthy one is
 * left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ports, startTree, waitFor, type TreeHarness } from '../helpers/tree.ts';

test('a vacuum whose scheduler stopped is restarted by the staleness probe; a healthy one is not', async (t) => {
  const p = await ports('frozen', 'healthy');
  let h: TreeHarness | undefined;
  const child = (id: 'frozen' | 'healthy') => `
  - id: ${id}
    shutdown: 3s
    process:
      command: [node, --import, tsx, apps/vacuum/src/main.ts]
      env: { PORT: "${p[id]}", DATA_DIR: "DIR/${id}", VACUUM_CONFIG: "DIR/${id}/vacuum.yaml"${id === 'frozen' ? ', VACUUM_FAILPOINT: "freeze-scheduler@4s"' : ''} }
    probes:
      - name: live
        http: { url: "http://127.0.0.1:${p[id]}/healthz" }
        every: 1s
        timeout: 1s
        startup_grace: 30s
      - name: scheduler
        staleness: { url: "http://127.0.0.1:${p[id]}/metrics", metric: vacuum_scheduler_alive_timestamp_seconds, max_age: 3s }
        every: 1s
        timeout: 1s
        failures: 2
        startup_grace: 30s`;
  const yaml = `
version: 1
name: box
intensity: 5
period: 60s
children:${child('frozen')}${child('healthy')}
`;
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const id of ['frozen', 'healthy']) {
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'vacuum.yaml'), 'schedule: "0 0 1 1 *"\ntick: 1s\nvolumes:\n  - { name: data, path: . }\n');
  }
  h = await startTree(yaml.replaceAll('DIR', dir));
  t.after(() => h?.close());
  const pid0 = h.pid('frozen');
  await waitFor('the frozen vacuum restarted', () => h!.restarts('frozen') >= 1 && h!.state('frozen') === 'running' && h!.pid('frozen') !== pid0, 90_000, 200);
  const restart = h.events.find((e) => e.type === 'restart' && e.child === 'frozen');
  assert.equal(restart?.data?.cause, 'probe');
  assert.equal(restart?.data?.probe, 'scheduler');
  assert.match(String(restart?.data?.error), /vacuum_scheduler_alive_timestamp_seconds.* old > max 3/);
  assert.equal(h.restarts('healthy'), 0, 'the healthy vacuum keeps running');
});
