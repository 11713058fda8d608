import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, call, childrenTree, openSse, startService, tempDir, type Service } from './api-helpers.ts';

const seqs = (evs: { seq: number }[]) => evs.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SSE event stream', () => {
  const tmp = tempDir();
  const services: Service[] = [];
  after(async () => {
    for (const s of services) await s.close();
    tmp.remove();
  });

  test('resumes with Last-Event-ID across a supervisor restart: exactly the missed events, then live', async () => {
    const db = join(tmp.dir, 'events.db');
    const treeObj = await childrenTree('box', ['web']);

    // Service 1: a client follows from the start, then disconnects.
    const s1 = await startService(treeObj, db);
    services.push(s1);
    const first = await openSse(`${s1.url}/v1/events?since=0`, VIEWER);
    assert.equal(first.status, 200);
    assert.match(first.contentType ?? '', /^text\/event-stream/);
    await first.until('web running', (evs) => evs.some((e) => e.child === 'web' && e.to === 'running'));
    await first.close();
    assert.deepEqual(seqs(first.events), range(1, first.events.length), 'replay from 0 is complete and ordered');
    assert.ok(first.raw.some((f) => /^id: 1\nevent: transition\ndata: \{/.test(f)), 'frames carry id, event and data');
    const lastSeen = first.events.at(-1)!.seq;

    // Events the client misses: a manual restart, then the whole supervisor stops...
    assert.equal((await call(`${s1.url}/v1/children/web/restart`, { method: 'POST', token: TECH })).status, 202);
    await waitFor('web restarted', () => s1.tree.snapshot().nodes.some((n) => n.id === 'web' && n.state === 'running' && n.restarts === 1), 15_000);
    await s1.close();
    const lastOfS1 = s1.store.lastSeq();
    assert.ok(lastOfS1 > lastSeen + 3);

    // ...and a new supervisor opens the same file and starts the tree again.
    const s2 = await startService(treeObj, db);
    services.push(s2);
    await waitFor('web running under s2', () => s2.tree.child('web')!.state === 'running', 20_000);
    const missedUntil = s2.store.lastSeq();
    assert.ok(missedUntil > lastOfS1, 'seq continued after reopen');

    // Reconnect like EventSource does: same URL (?since=0) plus Last-Event-ID, which wins.
    const second = await openSse(`${s2.url}/v1/events?since=0`, VIEWER, { 'last-event-id': String(lastSeen) });
    await second.until('replay of the missed events', (evs) => evs.some((e) => e.seq === missedUntil));
    const expected = s2.store.since(lastSeen, 10_000).filter((e) => e.seq <= missedUntil);
    assert.deepEqual(second.events.slice(0, expected.length), expected, 'exactly the missed events, as stored');

    // Then live: a new manual action arrives on the same stream, with no gap and no duplicate.
    assert.equal((await call(`${s2.url}/v1/children/web/stop`, { method: 'POST', token: TECH })).status, 202);
    await second.until('live stop events', (evs) => evs.some((e) => e.child === 'web' && e.to === 'stopped' && e.seq > missedUntil));
    await second.close();
    assert.deepEqual(seqs(second.events), range(lastSeen + 1, lastSeen + second.events.length));
    const manual = second.events.find((e) => e.type === 'manual' && e.data?.['action'] === 'stop');
    assert.equal(manual?.data?.['role'], 'technician');
  });

  test('without since or Last-Event-ID only live events are sent; heartbeats keep the stream alive', async () => {
    const s = await startService(await childrenTree('hb', ['a']), join(tmp.dir, 'hb.db'), undefined, 200);
    services.push(s);
    await waitFor('a running', () => s.tree.child('a')!.state === 'running', 20_000);
    const before = s.store.lastSeq();
    const sse = await openSse(`${s.url}/v1/events`, TECH);
    await sse.until('a heartbeat', () => sse.raw.some((f) => f.startsWith(': heartbeat')), 5_000);
    assert.equal(sse.events.length, 0, 'nothing replayed');
    assert.equal((await call(`${s.url}/v1/children/a/stop`, { method: 'POST', token: TECH })).status, 202);
    await sse.until('a stopped', (evs) => evs.some((e) => e.to === 'stopped'));
    assert.equal(sse.events[0]!.seq, before + 1);
    await sse.close();
  });

  test('SSE needs a token and closing the app ends open streams', async () => {
    const s = await startService(await childrenTree('cl', ['b']), join(tmp.dir, 'cl.db'));
    services.push(s);
    const denied = await call(`${s.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
    assert.equal(denied.status, 401);
    const sse = await openSse(`${s.url}/v1/events?since=0`, VIEWER);
    await sse.until('some events', (evs) => evs.length > 0);
    // app.close() must not hang on the open stream.
    const t0 = Date.now();
    await s.close();
    assert.ok(Date.now() - t0 < 10_000);
    await sse.close();
  });
});
