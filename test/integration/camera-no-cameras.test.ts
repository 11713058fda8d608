// A camera controller whose cameras all come from the onvif service (`cameras: []` with a
// discovered: section, ONVIF_ADOPT=true) and that has adopted none yet, supervised with the site
// tree's frames probe: it exports no frame counter, and `absent: pass` keeps that from reading as
// a stall (without it the same probe fails "not found" and restarts the controller, then
// inference after it: a crash loop on a box that simply has no camera yet). Real parts: the camera app as a process child of a real tree, the
// in-process onvif service with no camera, HTTP on loopback.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTree, type Harness } from '../unit/runtime-harness.ts';
import { startService, type ServiceHarness } from '../helpers/onvif.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const dir = mkdtempSync(join(tmpdir(), `edgevisor-no-cameras-${process.pid}-`));
let onvif: ServiceHarness | undefined;
let h: Harness | undefined;
after(async () => {
  await h?.close();
  await onvif?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('no camera adopted yet: no frame counter, the frames probe with absent: pass passes, the controller is never restarted', async () => {
  onvif = await startService();
  const port = await freePort();
  writeFileSync(join(dir, 'cameras.yaml'), 'cameras: []\ndiscovered: { fps: 2, width: 160, height: 90 }\n');
  const metrics = `http://127.0.0.1:${port}/metrics`;
  // The site tree's frames probe, faster.
  h = await buildTree({
    name: 'box',
    children: [{
      id: 'camera',
      shutdown: '3s',
      process: { command: [process.execPath, '--import', 'tsx', 'apps/camera/src/main.ts'], env: { PORT: String(port), HOST: '127.0.0.1', CAMERAS_FILE: join(dir, 'cameras.yaml'), ONVIF_URL: onvif.base, ONVIF_ADOPT: 'true' } },
      probes: [
        { name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '200ms', timeout: '1s', failures: 3, startup_grace: '20s' },
        { name: 'frames', throughput: { url: metrics, metric: 'camera_frames_total', min_rate: 1, window: '1s', absent: 'pass' }, every: '200ms', timeout: '1s', failures: 2, startup_grace: '20s' },
      ],
    }],
  });
  const probe = (name: string) => h!.tree.child('camera')?.probes.find((p) => p.name === name);
  // Passes of the frames probe, counted by their run time, over more than two windows.
  const passes = new Set<number>();
  await waitFor(() => `12 passes of the frames probe (${JSON.stringify(h!.tree.child('camera'))})`, () => {
    const p = probe('frames');
    if (p?.ok === true && p.lastRunAt) passes.add(p.lastRunAt);
    return passes.size >= 12;
  }, 30_000, 20);
  // What it passed on: no frame counter at all (the same probe without absent: pass fails then:
  // test/unit/probes-metrics.test.ts), and the camera app says it has no camera.
  const text = await (await fetch(metrics, { signal: AbortSignal.timeout(5000) })).text();
  assert.ok(!/^camera_frames_total\{/m.test(text), 'no frame counter series');
  const listed = await (await fetch(`http://127.0.0.1:${port}/cameras`, { signal: AbortSignal.timeout(5000) })).json() as { cameras: unknown[] };
  assert.deepEqual(listed.cameras, []);
  assert.deepEqual([h.state('camera'), h.restarts('camera'), probe('frames')?.consecutiveFailures], ['running', 0, 0]);
});
