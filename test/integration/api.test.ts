import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, call, childrenTree, startService, tempDir, type Service } from './api-helpers.ts';

describe('control API on a real tree', () => {
  const tmp = tempDir();
  let svc: Service;
  before(async () => {
    svc = await startService(await childrenTree('box', ['web', 'cam']), join(tmp.dir, 'events.db'));
    await waitFor('both children running', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running'), 20_000);
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  test('open routes answer without a token', async () => {
    const health = await call(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', tree: 'running' });

    const metrics = await call(`${svc.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    const text = metrics.body as string;
    assert.match(text, /edgevisor_child_state\{child="web",state="running"\} 1/);
    assert.match(text, /edgevisor_child_state\{child="web",state="stopped"\} 0/);
    assert.match(text, /edgevisor_probe_up\{child="cam",probe="live"\} 1/);
    assert.match(text, /edgevisor_probe_latency_seconds\{child="cam",probe="live"\} \d/);
    assert.match(text, /# TYPE edgevisor_events_total counter/);
  });

  test('auth matrix: none / wrong / viewer / technician on read and mutation routes', async () => {
    const read = `${svc.url}/v1/tree`;
    const none = await call(read);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'EDGEVISOR_ERR_UNAUTHORIZED');
    assert.equal((await call(read, { token: 'not-a-real-token' })).status, 401);
    // A prefix of a real token must not pass (length-independent comparison).
    assert.equal((await call(read, { token: VIEWER.slice(0, -1) })).status, 401);
    const asViewer = await call(read, { token: VIEWER });
    assert.equal(asViewer.status, 200);
    assert.equal(asViewer.body.name, 'box');
    assert.deepEqual(asViewer.body.nodes.map((n: { id: string }) => n.id), ['box', 'web', 'cam']);
    assert.equal((await call(read, { token: TECH })).status, 200);

    const mutate = `${svc.url}/v1/children/cam/restart`;
    assert.equal((await call(mutate, { method: 'POST' })).status, 401);
    assert.equal((await call(mutate, { method: 'POST', token: 'nope-nope-nope' })).status, 401);
    const viewerMutation = await call(mutate, { method: 'POST', token: VIEWER });
    assert.equal(viewerMutation.status, 403);
    assert.equal(viewerMutation.body.error.code, 'EDGEVISOR_ERR_FORBIDDEN');
    // Nothing happened to cam on refused calls.
    assert.equal(svc.tree.child('cam')!.restarts, 0);
  });

  test('without a technician token configured, every mutation is refused with a code saying so', async () => {
    const app = buildApi({ tree: svc.tree, store: svc.store, tokens: { viewer: VIEWER } });
    const url = await listenApi(app, { host: '127.0.0.1', port: 0 });
    try {
      for (const token of [undefined, VIEWER, TECH]) {
        const r = await call(`${url}/v1/children/web/stop`, { method: 'POST', token });
        assert.equal(r.status, 403, `token ${token}`);
        assert.equal(r.body.error.code, 'EDGEVISOR_ERR_NO_TECHNICIAN_TOKEN');
        assert.match(r.body.error.message, /no technician token is configured/);
      }
      assert.equal((await call(`${url}/v1/tree`, { token: VIEWER })).status, 200);
      assert.equal(svc.tree.child('web')!.state, 'running');
    } finally {
      await app.close();
    }
  });

  test('404, 400 and unknown route error shapes', async () => {
    const unknown = await call(`${svc.url}/v1/children/nope`, { token: VIEWER });
    assert.equal(unknown.status, 404);
    assert.deepEqual(Object.keys(unknown.body), ['error']);
    assert.equal(unknown.body.error.code, 'EDGEVISOR_ERR_UNKNOWN_CHILD');
    assert.equal(unknown.body.error.message, 'no child "nope" (known: box, web, cam)');
    const unknownPost = await call(`${svc.url}/v1/children/nope/restart`, { method: 'POST', token: TECH });
    assert.equal(unknownPost.status, 404);
    assert.equal(unknownPost.body.error.code, 'EDGEVISOR_ERR_UNKNOWN_CHILD');

    for (const q of ['since=abc', 'since=-1', 'limit=0', 'limit=1001', 'limit=2.5']) {
      const r = await call(`${svc.url}/v1/events?${q}`, { token: VIEWER });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.code, 'EDGEVISOR_ERR_BAD_REQUEST');
      assert.match(r.body.error.message, /^(since|limit): expected /);
    }
    const badHeader = await call(`${svc.url}/v1/events`, { token: VIEWER, headers: { accept: 'text/event-stream', 'last-event-id': 'x' } });
    assert.equal(badHeader.status, 400);
    assert.match(badHeader.body.error.message, /Last-Event-ID/);

    const noRoute = await call(`${svc.url}/v1/nothing`, { token: VIEWER });
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body.error.code, 'EDGEVISOR_ERR_ROUTE_NOT_FOUND');
  });

  test('child details carry the snapshot and its last log lines', async () => {
    const r = await call(`${svc.url}/v1/children/web`, { token: VIEWER });
    assert.equal(r.status, 200);
    assert.equal(r.body.id, 'web');
    assert.equal(r.body.state, 'running');
    assert.ok(Array.isArray(r.body.logs));
    assert.ok(r.body.logs.some((l: string) => /listening on 127\.0\.0\.1:/.test(l)), JSON.stringify(r.body.logs));
  });

  test('a 202 restart is carried out and recorded with the role', async () => {
    const before = svc.store.lastSeq();
    const pidBefore = svc.tree.child('web')!.info?.pid;
    const r = await call(`${svc.url}/v1/children/web/restart`, { method: 'POST', token: TECH });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { accepted: true, action: 'restart', child: 'web', restarting: ['web'], stopping: [], strategy: 'one_for_one', only: false, message: 'restarting web (one_for_one)' });

    await waitFor('web running again with a new pid', () => {
      const web = svc.tree.child('web')!;
      return web.state === 'running' && web.info?.pid !== pidBefore;
    }, 20_000);
    const events = await call(`${svc.url}/v1/events?since=${before}&limit=1000`, { token: VIEWER });
    assert.equal(events.status, 200);
    const list = events.body.events as { seq: number; type: string; child: string; to?: string; data?: Record<string, unknown> }[];
    const manual = list.find((e) => e.type === 'manual' && e.child === 'web');
    assert.ok(manual, JSON.stringify(list));
    assert.equal(manual.data?.['role'], 'technician');
    assert.equal(manual.data?.['via'], 'api');
    assert.equal(manual.data?.['action'], 'restart');
    const webStates = list.filter((e) => e.type === 'transition' && e.child === 'web').map((e) => e.to);
    assert.deepEqual(webStates.slice(0, 2), ['stopping', 'stopped']);
    assert.equal(webStates.at(-1), 'running');
    // Seqs are strictly increasing and contiguous; cam was not touched.
    list.forEach((e, i) => assert.equal(e.seq, before + 1 + i));
    assert.equal(svc.tree.child('cam')!.restarts, 0);
    assert.equal(events.body.lastSeq, svc.store.lastSeq());
    const metrics = await call(`${svc.url}/metrics`);
    assert.match(metrics.body, /edgevisor_child_restarts_total\{child="web",reason="manual"\} 1/);
  });

  test('a crash is restarted and counted by cause in /metrics', async () => {
    const logs = svc.tree.logs('cam', 50).join('\n');
    const camPort = /listening on 127\.0\.0\.1:(\d+)/.exec(logs)![1];
    const pidBefore = svc.tree.child('cam')!.info?.pid;
    await fetch(`http://127.0.0.1:${camPort}/fail/crash?code=3`, { method: 'POST', signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    await waitFor('cam restarted after its crash', () => {
      const cam = svc.tree.child('cam')!;
      return cam.state === 'running' && cam.info?.pid !== pidBefore;
    }, 20_000);
    const cam = await call(`${svc.url}/v1/children/cam`, { token: VIEWER });
    assert.equal(cam.body.lastRestartReason, 'crashed: exit code 3', 'kept after the restart\'s "startup probes passed"');
    assert.equal(cam.body.lastReason, 'startup probes passed');
    const metrics = await call(`${svc.url}/metrics`);
    assert.match(metrics.body, /edgevisor_child_restarts_total\{child="cam",reason="exit"\} 1/);
    assert.match(metrics.body, /edgevisor_events_total\{type="exit"\} [1-9]/);
  });

  test('stop, 409 on a second stop and on restart, then start brings it back', async () => {
    const stop = await call(`${svc.url}/v1/children/cam/stop`, { method: 'POST', token: TECH });
    assert.equal(stop.status, 202);
    await waitFor('cam stopped', () => svc.tree.child('cam')!.state === 'stopped', 10_000);
    assert.equal(svc.tree.child('cam')!.manuallyStopped, true);

    for (const action of ['stop', 'restart']) {
      const r = await call(`${svc.url}/v1/children/cam/${action}`, { method: 'POST', token: TECH });
      assert.equal(r.status, 409, action);
      assert.equal(r.body.error.code, 'EDGEVISOR_ERR_STATE_CONFLICT');
    }
    const start = await call(`${svc.url}/v1/children/cam/start`, { method: 'POST', token: TECH });
    assert.equal(start.status, 202);
    await waitFor('cam running', () => svc.tree.child('cam')!.state === 'running', 15_000);
    const again = await call(`${svc.url}/v1/children/cam/start`, { method: 'POST', token: TECH });
    assert.equal(again.status, 409);
  });

  test('events list: default limit 100, paging with since, oldest first', async () => {
    const all = await call(`${svc.url}/v1/events?limit=1000`, { token: VIEWER });
    assert.ok(all.body.events.length > 3);
    const page = await call(`${svc.url}/v1/events?since=2&limit=2`, { token: VIEWER });
    assert.deepEqual(page.body.events.map((e: { seq: number }) => e.seq), [3, 4]);
    const dflt = await call(`${svc.url}/v1/events`, { token: VIEWER });
    assert.equal(dflt.body.events[0].seq, 1);
    assert.ok(dflt.body.events.length <= 100);
  });
});
