// Supervision semantics end to end with real processes (test/fixtures/http-child.js) and real
// HTTP probes: crash, hang (SIGSTOP), throughput stall under rest_for_one, intensity escalation,
// manual stop. Every assertion is on observable behaviour: pids, restart counts, state order.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { httpChild, ports, post, startTree, waitFor, type TreeHarness } from '../helpers/tree.ts';
import { sleep } from '../helpers/net.ts';

let h: TreeHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const indent = (text: string, by: number) => text.replace(/\n(?=.)/g, `\n${' '.repeat(by)}`);
const child = (id: string, port: number, probes: string, depth = 0) =>
  indent(
    `
  - id: ${id}
    shutdown: 2s
    process: { command: [node, ${httpChild}], env: { PORT: "${port}" } }
    probes:
${probes}`,
    depth,
  );
const live = (port: number) => `      - name: live
        http: { url: "http://127.0.0.1:${port}/healthz" }
        every: 300ms
        timeout: 300ms
        failures: 3`;

describe('supervision with real processes', () => {
  test('a crash restarts only that child; siblings keep their pid and zero restarts', async () => {
    const p = await ports('web', 'camera', 'vacuum');
    h = await startTree(`
version: 1
name: box
backoff: { initial: 200ms, max: 2s, reset_after: 60s }
children:${child('web', p.web, live(p.web))}${child('camera', p.camera, live(p.camera))}${child('vacuum', p.vacuum, live(p.vacuum))}
`);
    for (const id of ['web', 'camera', 'vacuum']) assert.equal(h.state(id), 'running');
    const before = { web: h.pid('web'), camera: h.pid('camera'), vacuum: h.pid('vacuum') };
    await post(`http://127.0.0.1:${p.camera}/fail/crash?code=3`);
    await waitFor('camera back with a new pid', () => h!.state('camera') === 'running' && h!.pid('camera') !== before.camera);
    assert.equal(h.restarts('camera'), 1);
    assert.deepEqual([h.restarts('web'), h.restarts('vacuum')], [0, 0]);
    assert.deepEqual([h.pid('web'), h.pid('vacuum')], [before.web, before.vacuum]);
    assert.deepEqual(h.path('camera').slice(-3), ['backoff', 'starting', 'running']);
    const restart = h.events.find((e) => e.type === 'restart' && e.child === 'camera');
    assert.equal(restart?.data?.exitCode, 3, 'the restart event records the exit code');
    assert.equal(restart?.data?.cause, 'exit');
    const res = await fetch(`http://127.0.0.1:${p.camera}/healthz`);
    assert.equal(res.status, 200);
  });

  test('a hung server (SIGSTOP) is restarted by probe timeout; siblings untouched', async () => {
    const p = await ports('web', 'camera');
    h = await startTree(`
version: 1
name: box
children:${child('web', p.web, live(p.web))}${child('camera', p.camera, live(p.camera))}
`);
    const frozen = h.pid('web')!;
    const cameraPid = h.pid('camera');
    process.kill(frozen, 'SIGSTOP');
    const t0 = Date.now();
    await waitFor('web restarted', () => h!.state('web') === 'running' && h!.pid('web') !== frozen, 15_000);
    const took = Date.now() - t0;
    assert.ok(took < 8000, `3 failures of a 300ms probe should take ~1-2 s, took ${took}ms`);
    assert.throws(() => process.kill(frozen, 0), 'the frozen process is gone (killed after its grace)');
    assert.deepEqual(h.path('web').slice(-5), ['unhealthy', 'stopping', 'backoff', 'starting', 'running']);
    const restart = h.events.find((e) => e.type === 'restart' && e.child === 'web');
    assert.equal(restart?.data?.cause, 'probe');
    assert.equal(restart?.data?.probe, 'live');
    assert.match(String(restart?.data?.error), /timeout/);
    assert.equal(h.restarts('camera'), 0);
    assert.equal(h.pid('camera'), cameraPid);
  });

  test('a throughput stall restarts camera and, under rest_for_one, inference after it, not web', async () => {
    const p = await ports('web', 'camera', 'inference');
    h = await startTree(`
version: 1
name: box
children:${child('web', p.web, live(p.web))}
  - id: pipeline
    strategy: rest_for_one
    intensity: 3
    period: 10s
    children:${child(
      'camera',
      p.camera,
      `      - name: frames
        throughput: { url: "http://127.0.0.1:${p.camera}/metrics", metric: frames_total, min_rate: 5, window: 1s }
        every: 250ms
        timeout: 250ms
        failures: 3`,
      4,
    )}${child(
      'inference',
      p.inference,
      `      - name: fresh
        staleness: { url: "http://127.0.0.1:${p.inference}/metrics", metric: last_frame_timestamp_seconds, max_age: 2s }
        every: 500ms`,
      4,
    )}
`);
    const pids = { web: h.pid('web'), camera: h.pid('camera'), inference: h.pid('inference') };
    await sleep(1500); // a full throughput window of healthy frames first
    assert.equal(h.restarts('camera'), 0, 'a healthy camera is not restarted');
    await post(`http://127.0.0.1:${p.camera}/fail/stall`);
    await waitFor('camera and inference restarted', () => h!.pid('camera') !== pids.camera && h!.pid('inference') !== pids.inference && h!.state('inference') === 'running', 15_000).catch((e) => {
      console.log(h!.events.map((x) => `${x.seq} ${x.type} ${x.child} ${x.from ?? ''}->${x.to ?? ''} ${x.reason}`).join('\n'));
      throw e;
    });
    assert.equal(h.restarts('camera'), 1);
    assert.equal(h.restarts('inference'), 1);
    assert.equal(h.restarts('web'), 0);
    assert.equal(h.pid('web'), pids.web);
    const restart = h.events.find((e) => e.type === 'restart' && e.child === 'camera');
    assert.deepEqual(restart?.data?.affected, ['camera', 'inference']);
    assert.match(String(restart?.data?.error), /rate/);
    // Reverse stop, ordered start: inference stopped before camera, started after it.
    const order = h.events.filter((e) => e.type === 'transition' && (e.to === 'stopping' || e.to === 'starting') && (e.child === 'camera' || e.child === 'inference') && e.seq > restart!.seq).map((e) => `${e.child}:${e.to}`);
    assert.deepEqual(order, ['inference:stopping', 'camera:stopping', 'camera:starting', 'inference:starting']);
  });

  test('past its intensity a nested supervisor escalates; at the root the tree gives up and says so', async () => {
    const p = await ports('web', 'flaky');
    h = await startTree(`
version: 1
name: box
intensity: 1
period: 30s
backoff: { initial: 50ms, max: 100ms, reset_after: 60s }
children:${child('web', p.web, live(p.web))}
  - id: group
    intensity: 2
    period: 30s
    children:
      - id: flaky
        process: { command: [node, ${httpChild}], env: { PORT: "${p.flaky}", CRASH_AFTER_MS: "150" } }
`);
    await waitFor('root gave up', () => h!.tree.snapshot().state === 'gave_up', 20_000);
    for (const id of ['web', 'group', 'flaky']) assert.equal(h.state(id), 'stopped', `${id} is stopped after giving up`);
    const escalations = h.events.filter((e) => e.type === 'escalation').map((e) => e.child);
    assert.deepEqual(escalations.slice(0, 1), ['group'], 'the nested supervisor escalates first');
    assert.ok(escalations.includes('box'), 'then the root');
    const alarm = h.events.find((e) => e.type === 'alarm');
    assert.equal(alarm?.child, 'box');
    // Reverse order: web (first child) is the last to be stopped by the root.
    const stops = h.events.filter((e) => e.type === 'transition' && e.to === 'stopped' && e.seq > h!.events.findLast((x) => x.type === 'escalation')!.seq).map((e) => e.child);
    assert.equal(stops.at(-1), 'web');
    // A technician can start it again.
    h.tree.startChild('box', { role: 'technician', via: 'test' });
    await waitFor('web back', () => h!.state('web') === 'running', 10_000);
  });

  test('a manually stopped child stays stopped: no probe, exit or strategy restarts it', async () => {
    const p = await ports('camera', 'inference');
    h = await startTree(`
version: 1
name: box
strategy: one_for_all
children:${child('camera', p.camera, live(p.camera))}${child('inference', p.inference, live(p.inference))}
`);
    h.tree.stopChild('camera', { role: 'technician', via: 'test' });
    await waitFor('camera stopped', () => h!.state('camera') === 'stopped');
    // A sibling failure under one_for_all must not bring it back.
    await post(`http://127.0.0.1:${p.inference}/fail/crash`);
    await waitFor('inference back', () => h!.restarts('inference') === 1 && h!.state('inference') === 'running').catch((e) => {
      console.log(h!.events.map((x) => `${x.seq} ${x.type} ${x.child} ${x.from ?? ''}->${x.to ?? ''} ${x.reason}`).join('\n'));
      throw e;
    });
    await sleep(1000);
    assert.equal(h.state('camera'), 'stopped');
    assert.equal(h.tree.child('camera')?.manuallyStopped, true);
    assert.throws(() => h!.tree.stopChild('camera', { role: 'technician' }), /already stopped/);
    assert.throws(() => h!.tree.restartChild('nope', { role: 'technician' }), (e: Error & { code?: string }) => e.code === 'EDGEVISOR_ERR_UNKNOWN_CHILD');
    const manual = h.events.find((e) => e.type === 'manual');
    assert.equal(manual?.data?.role, 'technician');
    h.tree.startChild('camera', { role: 'technician' });
    await waitFor('camera running again', () => h!.state('camera') === 'running');
  });
});
