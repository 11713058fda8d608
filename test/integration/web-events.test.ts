/**
 * The web app reads the safety events the inference app stores (issue 4: "stored durably so that
 * none is lost while the web app restarts; the web app reads them"). Real processes: the inference
 * app (main.ts, its SQLite file in WAL mode) and the web app (main.ts), on loopback. Events are
 * appended to the same SQLite file from this test, as the inference pipeline appends them, so the
 * test controls exactly which ids exist while one or the other process is down.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { openEventStore, type EventStore } from '../../apps/inference/src/events/store.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const dir = mkdtempSync(join(tmpdir(), 'web-events-'));
const procs = new Set<ChildProcess>();
let store: EventStore;
let snapshot: string;
let ports: { inference: number; web: number; camera: number };

function start(app: 'web' | 'inference'): ChildProcess {
  const env = app === 'web'
    ? { PORT: String(ports.web), INFERENCE_URL: `http://127.0.0.1:${ports.inference}`, WEB_EVENTS_POLL_MS: '100', DATA_DIR: dir }
    : { PORT: String(ports.inference), DATA_DIR: dir, CAMERA_URL: `http://127.0.0.1:${ports.camera}`, CAMERAS: 'cam1' };
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], { env: { ...process.env, HOST: '127.0.0.1', ...env }, stdio: 'ignore' });
  procs.add(child);
  child.on('exit', () => procs.delete(child));
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

async function healthy(port: number): Promise<void> {
  await waitFor(`127.0.0.1:${port}/healthz`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).status === 200, 30_000, 100);
}

let nextTs = 1_700_000_000_000;
function append(n: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const ts = (nextTs += 1000);
    ids.push(store.append({ ts, camera: 'cam1', zone: 'press', cls: 'motion', score: 0.9, boxes: [{ x1: 0.7, y1: 0.2, x2: 0.8, y2: 0.9, cls: 'motion', score: 0.9 }], snapshot, episodeStart: ts - 2000 }).id);
  }
  return ids;
}

interface Frame { id?: string; event?: string; data?: string }
/** An SSE client that keeps every frame (its own parser: id, event, data lines). */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const frames: Frame[] = [];
  void (async () => {
    let buf = '';
    try {
      for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const f: Frame = {};
          for (const line of buf.slice(0, cut).split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) f[m[1] as keyof Frame] = m[2];
          }
          buf = buf.slice(cut + 2);
          frames.push(f);
        }
      }
    } catch {
      // closed by the test
    }
  })();
  return {
    frames,
    safetyIds: () => frames.filter((f) => f.event === 'safety').map((f) => Number(f.id)),
    close: () => ctl.abort(),
  };
}

before(async () => {
  ports = { inference: await freePort(), web: await freePort(), camera: await freePort() };
  mkdirSync(join(dir, 'snapshots'));
  snapshot = join(dir, 'snapshots', 'cam1-press-1.jpg');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c03030' } }).jpeg().toFile(snapshot);
  start('inference');
  await healthy(ports.inference);
  store = openEventStore(join(dir, 'events.db'));
});

after(async () => {
  await Promise.all([...procs].map(kill));
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('web app: safety events read from the inference app', () => {
  const web = () => `http://127.0.0.1:${ports.web}`;

  test('a web restart loses nothing: the stream resumes after Last-Event-ID, in order, with no repeat', async () => {
    const first = append(3);
    let w = start('web');
    await healthy(ports.web);
    const a = await openStream(`${web()}/api/safety-events/stream?since=0`);
    await waitFor('the first three events on the stream', () => a.safetyIds().length >= 3);
    assert.deepEqual(a.safetyIds(), first);
    const lastSeen = a.safetyIds().at(-1)!;
    a.close();

    await kill(w);
    const whileDown = append(2);
    w = start('web');
    await healthy(ports.web);
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
    assert.ok(body.equals(readFileSync(snapshot)));
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

  test('inference down: JSON answers 503 naming INFERENCE_URL; the stream says so, stays open and catches up', async () => {
    const cursor = store.since(0, 10_000).at(-1)!.id;
    const s = await openStream(`${web()}/api/safety-events/stream?since=${cursor}`);
    const inference = [...procs].find((p) => p.spawnargs.some((a) => a.includes('apps/inference')))!;
    await kill(inference);
    const down = await fetch(`${web()}/api/safety-events?since=0`);
    assert.equal(down.status, 503);
    const err = ((await down.json()) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'WEB_ERR_INFERENCE_UNAVAILABLE');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${ports.inference} \\(INFERENCE_URL\\)`));
    await waitFor('an upstream-down frame', () => s.frames.some((f) => f.event === 'upstream' && JSON.parse(f.data!).ok === false), 10_000);
    // Stored meanwhile (the inference app writes its file before it answers for it).
    const stored = append(1);
    start('inference');
    await healthy(ports.inference);
    await waitFor('the event stored while inference was down', () => s.safetyIds().length >= 1, 15_000);
    assert.deepEqual(s.safetyIds(), stored);
    assert.ok(s.frames.some((f) => f.event === 'upstream' && JSON.parse(f.data!).ok === true), 'and a frame saying it is back');
    s.close();
  });
});
