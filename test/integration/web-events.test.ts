/**
 * The web app reads the safety events the inference app stores (issue 4: "stored durably so that
 * none is lost while the web app restarts; the web app reads them"). Real processes: the inference
 * app (main.ts, its SQLite file in WAL mode) and the web app (main.ts), on loopback. Events are
 * appended to the same SQLite file from this test, as the inference pipeline appends them, so the
 * test controls exactly which ids exist while one or the other process is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import sharp from 'sharp';
import { startEventsStack, type EventsStack } from '../helpers/events-stack.ts';
import { waitFor } from '../helpers/net.ts';
import { readSseFrames } from '../helpers/sse.ts';

let stack: EventsStack;
const append = (n: number) => stack.append(n);

interface Frame { id?: string; event?: string; data?: string }
/** An SSE client that keeps every frame (its own parser: id, event, data lines). */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const frames: Frame[] = [];
  void readSseFrames(res.body!, (raw) => {
    const f: Frame = {};
    for (const line of raw.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) f[m[1] as keyof Frame] = m[2];
    }
    frames.push(f);
  });
  return {
    frames,
    safetyIds: () => frames.filter((f) => f.event === 'safety').map((f) => Number(f.id)),
    close: () => ctl.abort(),
  };
}

before(async () => {
  stack = await startEventsStack();
});

after(async () => {
  await stack?.close();
});

describe('web app: safety events read from the inference app', () => {
  const web = () => `http://127.0.0.1:${stack.ports.web}`;

  test('a web restart loses nothing: the stream resumes after Last-Event-ID, in order, with no repeat', async () => {
    const first = append(3);
    await stack.start('web');
    const a = await openStream(`${web()}/api/safety-events/stream?since=0`);
    await waitFor('the first three events on the stream', () => a.safetyIds().length >= 3);
    assert.deepEqual(a.safetyIds(), first);
    const lastSeen = a.safetyIds().at(-1)!;
    a.close();

    await stack.kill('web');
    const whileDown = append(2);
    await stack.start('web');
    // What EventSource sends when it reconnects.
    const b = await openStream(`${web()}/api/safety-events/stream`, { 'last-event-id': String(lastSeen) });
    await waitFor('the two events stored while web was down', () => b.safetyIds().length >= 2);
    const live = append(1);
    await waitFor('a live event', () => b.safetyIds().length >= 3);
    assert.deepEqual(b.safetyIds(), [...whileDown, ...live]);
    const ev = JSON.parse(b.frames.find((f) => f.event === 'safety')!.data!) as { camera: string; zone: string; cls: string; boxes: unknown[] };
    assert.deepEqual([ev.camera, ev.zone, ev.cls, ev.boxes.length], ['cam1', 'press', 'motion', 1]);
    b.close();

    // The same through JSON: after a cursor, and the newest N (a page opening without one).
    const since = (await (await fetch(`${web()}/api/safety-events?since=${lastSeen}`)).json()) as { events: { id: number }[]; last: number };
    assert.deepEqual(since.events.map((e) => e.id), [...whileDown, ...live]);
    assert.equal(since.last, live[0]);
    const latest = (await (await fetch(`${web()}/api/safety-events?latest=2`)).json()) as { events: { id: number }[] };
    assert.deepEqual(latest.events.map((e) => e.id), [whileDown[1], live[0]]);
    // A stream without a cursor starts with the newest events (up to 50), then goes live.
    const c = await openStream(`${web()}/api/safety-events/stream`);
    await waitFor('the newest events', () => c.safetyIds().length >= 6);
    assert.deepEqual(c.safetyIds(), [...first, ...whileDown, ...live]);
    c.close();
  });

  test('snapshots come through the web app; an unknown event is a clear 404; bad cursors are 400', async () => {
    const [id] = append(1);
    const res = await fetch(`${web()}/api/safety-events/${id}/snapshot.jpg`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(readFileSync(stack.snapshot)));
    assert.equal((await sharp(body).metadata()).width, 64);
    const missing = await fetch(`${web()}/api/safety-events/99999/snapshot.jpg`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'WEB_ERR_NO_SNAPSHOT');
    const bad = await fetch(`${web()}/api/safety-events/stream`, { headers: { 'last-event-id': 'abc' } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Last-Event-ID \/ since: expected an event id/);
    const badLatest = await fetch(`${web()}/api/safety-events?latest=0`);
    assert.equal(badLatest.status, 400);
    assert.match(await badLatest.text(), /latest: expected an integer 1\.\.1000/);
  });

  test('a dashboard resuming from further back than the shared tail gets every event from the inference app, in order', async () => {
    const from = stack.store.since(0, 100_000).at(-1)?.id ?? 0;
    const ids = append(2100);
    // The hub keeps 2000: wait until it has trimmed past the first of these.
    await waitFor('the hub has the newest', async () => ((await (await fetch(`${web()}/api/safety-events?latest=1`)).json()) as { events: { id: number }[] }).events[0]?.id === ids.at(-1), 10_000);
    const s = await openStream(`${web()}/api/stream`, { 'last-event-id': `${from}-0` });
    const got = () => s.frames.filter((f) => f.event === 'safety').map((f) => (JSON.parse(f.data!) as { id: number }).id);
    await waitFor('all 2100', () => got().length >= 2100, 30_000);
    assert.deepEqual(got().slice(0, 2100), ids);
    assert.match(s.frames.find((f) => f.event === 'safety')!.id!, new RegExp(`^${ids[0]}-0$`), 'composite id');
    s.close();
  });

  test('a dashboard that stops reading is dropped (memory stays bounded) while one that reads gets every event of a 30 MB burst', async () => {
    const metric = async (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)`, 'm').exec(await (await fetch(`${web()}/metrics`)).text())?.[1]);
    const dropsBefore = await metric('web_sse_dropped_total');
    const cursor = stack.store.since(0, 100_000).at(-1)?.id ?? 0;
    // A reader that never reads: a raw socket, paused.
    const stuck = connect(stack.ports.web, '127.0.0.1');
    stuck.pause();
    await new Promise((r) => stuck.once('connect', r));
    stuck.write(`GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nLast-Event-ID: ${cursor}-0\r\n\r\n`);
    const healthy = await openStream(`${web()}/api/stream`, { 'last-event-id': `${cursor}-0` });
    // About 30 MB of events (big box lists), far more than the socket buffers and the 1 MiB limit.
    const big = Array.from({ length: 150 }, (_, i) => ({ x1: 0.1, y1: 0.1, x2: 0.2 + i / 1000, y2: 0.3, cls: 'person', score: 0.5 }));
    const ids: number[] = [];
    for (let i = 0; i < 3000; i++) ids.push(stack.store.append({ ts: Date.now(), camera: 'cam1', zone: 'press', cls: 'person', score: 0.9, boxes: big, snapshot: null, episodeStart: Date.now() }).id);
    await waitFor('the stuck client dropped', async () => (await metric('web_sse_dropped_total')) > dropsBefore, 30_000, 200);
    const got = () => healthy.frames.filter((f) => f.event === 'safety').map((f) => (JSON.parse(f.data!) as { id: number }).id);
    await waitFor('the reading client got all 3000', () => got().length >= 3000, 60_000, 200);
    assert.deepEqual(got().slice(0, 3000), ids);
    healthy.close();
    stuck.destroy();
  });

  test('inference down: JSON answers 503 without an internal URL; the stream stays open and catches up', async () => {
    const cursor = stack.store.since(0, 10_000).at(-1)!.id;
    const s = await openStream(`${web()}/api/safety-events/stream?since=${cursor}`);
    await stack.kill('inference');
    const down = await fetch(`${web()}/api/safety-events?since=0`);
    assert.equal(down.status, 503);
    const err = ((await down.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'WEB_ERR_INFERENCE_UNAVAILABLE');
    assert.match(err.message, /the inference app is unavailable/);
    assert.doesNotMatch(err.message, new RegExp(`${stack.ports.inference}|127\\.0\\.0\\.1|http`));
    await waitFor('the status saying inference is down', async () => ((await (await fetch(`${web()}/api/status`)).json()) as { upstream?: { inference: { ok: boolean } } }).upstream?.inference.ok === false, 10_000);
    // Both the JSON call and the shared poller's failed polls are counted.
    const metrics = await (await fetch(`${web()}/metrics`)).text();
    assert.ok(Number(/^web_upstream_errors_total\{[^}]*upstream="inference"[^}]*\} (\d+)/m.exec(metrics)?.[1]) >= 2, metrics.split('\n').filter((l) => l.includes('upstream')).join('\n'));
    // Stored meanwhile (the inference app writes its file before it answers for it).
    const stored = append(1);
    await stack.start('inference');
    await waitFor('the event stored while inference was down', () => s.safetyIds().length >= 1, 15_000);
    assert.deepEqual(s.safetyIds(), stored);
    s.close();
  });
});
