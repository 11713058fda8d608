// Intensity exceeded at the root: the tree ends in `gave_up`, raises an alarm, and the API keeps
// answering (the supervisor never exits silently); a technician can start the tree again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { call, fixture, startService, tempDir, TECH, VIEWER } from './api-helpers.ts';
import { freePort, waitFor } from '../helpers/net.ts';

test('the root gives up past its intensity and the API still answers', async () => {
  const tmp = tempDir();
  const port = await freePort();
  const svc = await startService(
    {
      version: 1,
      name: 'box',
      intensity: 2,
      period: '30s',
      backoff: { initial: '50ms', max: '100ms', reset_after: '30s' },
      children: [{ id: 'crashy', process: { command: [process.execPath, fixture], env: { PORT: String(port), CRASH_AFTER_MS: '200' } } }],
    },
    join(tmp.dir, 'events.db'),
  );
  try {
    await waitFor('gave_up', async () => (await call(`${svc.url}/v1/tree`, { token: VIEWER })).body?.state === 'gave_up', 20_000);
    const health = await call(`${svc.url}/healthz`);
    assert.equal(health.status, 200, 'the API keeps serving');
    const ev = await call(`${svc.url}/v1/events?since=0&limit=1000`, { token: VIEWER });
    const list = (ev.body.events ?? ev.body) as { type: string; child: string }[];
    assert.ok(list.some((e) => e.type === 'escalation' && e.child === 'box'));
    assert.ok(list.some((e) => e.type === 'alarm' && e.child === 'box'));
    const child = await call(`${svc.url}/v1/children/crashy`, { token: VIEWER });
    assert.equal((child.body.child ?? child.body).state, 'stopped');
    const metrics = await call(`${svc.url}/metrics`);
    assert.match(metrics.body, /edgevisor_child_state\{[^}]*child="box"[^}]*state="gave_up"[^}]*\} 1|edgevisor_child_state\{[^}]*state="gave_up"[^}]*child="box"[^}]*\} 1/);
    const start = await call(`${svc.url}/v1/children/box/start`, { method: 'POST', token: TECH });
    assert.equal(start.status, 202);
    await waitFor('tree starting again', async () => ['starting', 'running'].includes((await call(`${svc.url}/v1/tree`, { token: VIEWER })).body?.state));
  } finally {
    await svc.close();
    tmp.remove();
  }
});

test('on_give_up: stop_failed: the root stops only the crash-looping child; its healthy sibling keeps serving; a stop of the root stops it too', async () => {
  const tmp = tempDir();
  const [crashPort, webPort] = [await freePort(), await freePort()];
  const svc = await startService(
    {
      version: 1,
      name: 'box',
      intensity: 2,
      period: '30s',
      on_give_up: 'stop_failed',
      backoff: { initial: '50ms', max: '100ms', reset_after: '30s' },
      children: [
        { id: 'web', process: { command: [process.execPath, fixture], env: { PORT: String(webPort) } }, probes: [{ http: { url: `http://127.0.0.1:${webPort}/healthz` }, every: '200ms', timeout: '1s', failures: 3, startup_grace: '10s' }] },
        { id: 'crashy', process: { command: [process.execPath, fixture], env: { PORT: String(crashPort), CRASH_AFTER_MS: '200' } } },
      ],
    },
    join(tmp.dir, 'events.db'),
  );
  try {
    await waitFor('gave_up', async () => (await call(`${svc.url}/v1/tree`, { token: VIEWER })).body?.state === 'gave_up', 20_000);
    const state = async (id: string) => ((await call(`${svc.url}/v1/children/${id}`, { token: VIEWER })).body.child ?? (await call(`${svc.url}/v1/children/${id}`, { token: VIEWER })).body).state;
    assert.equal(await state('crashy'), 'stopped');
    assert.equal(await state('web'), 'running');
    assert.equal((await fetch(`http://127.0.0.1:${webPort}/healthz`, { signal: AbortSignal.timeout(3000) })).status, 200, 'web still serves');
    const ev = await call(`${svc.url}/v1/events?since=0&limit=1000`, { token: VIEWER });
    const alarm = ((ev.body.events ?? ev.body) as { type: string; reason: string }[]).find((e) => e.type === 'alarm');
    assert.match(alarm?.reason ?? '', /crashy is stopped; the others keep running unsupervised; the API keeps serving/);
    assert.equal((await call(`${svc.url}/v1/children/box/stop`, { method: 'POST', token: TECH })).status, 202);
    await waitFor('web stopped with the root', async () => (await state('web')) === 'stopped', 20_000);
  } finally {
    await svc.close();
    tmp.remove();
  }
});
