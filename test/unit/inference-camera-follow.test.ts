// Inference following the camera controller's list (apps/inference/src/camera-follow.ts): the pure
// plan of each answer, the parse of GET /cameras bodies, and the follower's one-loop-per-camera
// rule (a camera listed again while its old loop is still stopping waits for it to end).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCameraFollower, planCameraLoops, type CameraListing, type LoopState } from '../../apps/inference/src/camera-follow.ts';
import { createServer } from 'node:http';
import { parseCameraList, readCameraList } from '../../apps/inference/src/camera-loop.ts';
import { loadConfig } from '../../apps/inference/src/config.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const loops = (o: Record<string, LoopState>) => new Map(Object.entries(o));

describe('planCameraLoops', () => {
  test('a listed camera without a loop starts; one gone from a complete list stops; the others are untouched', () => {
    assert.deepEqual(planCameraLoops(loops({ a: 'running', b: 'running' }), { ids: ['a', 'c'], complete: true }), [
      { op: 'start', camera: 'c' },
      { op: 'stop', camera: 'b' },
    ]);
    assert.deepEqual(planCameraLoops(loops({ a: 'running' }), { ids: ['a'], complete: true }), []);
  });

  test('an empty complete list stops every loop', () => {
    assert.deepEqual(planCameraLoops(loops({ a: 'running', b: 'running' }), { ids: [], complete: true }), [
      { op: 'stop', camera: 'a' },
      { op: 'stop', camera: 'b' },
    ]);
  });

  test('an incomplete list (a restarted controller without its discovered cameras yet) starts, never stops', () => {
    assert.deepEqual(planCameraLoops(loops({ a: 'running', b: 'running' }), { ids: [], complete: false }), []);
    assert.deepEqual(planCameraLoops(loops({ a: 'running' }), { ids: ['yard'], complete: false }), [{ op: 'start', camera: 'yard' }]);
  });

  test('a stopping loop is neither stopped again nor started again while it has not ended; duplicates start once', () => {
    assert.deepEqual(planCameraLoops(loops({ a: 'stopping' }), { ids: ['a'], complete: true }), []);
    assert.deepEqual(planCameraLoops(loops({ a: 'stopping' }), { ids: [], complete: true }), []);
    assert.deepEqual(planCameraLoops(new Map(), { ids: ['x', 'x'], complete: true }), [{ op: 'start', camera: 'x' }]);
  });
});

describe('parseCameraList', () => {
  test('the controller\'s body: ids, detect, ring; complete unless it says false', () => {
    const body = { complete: false, cameras: [{ id: 'dock', detect: { width: 320, height: 320, format: 'rgb24' }, ring: { file: 'dock.ring', token: 7 }, targetFps: 5 }, { id: 'yard', detect: null, ring: null }] };
    assert.deepEqual(parseCameraList(body), {
      complete: false,
      cameras: [
        { id: 'dock', detect: { width: 320, height: 320 }, ring: { file: 'dock.ring', token: 7 }, targetFps: 5 },
        { id: 'yard', detect: null, ring: null },
      ],
    });
    assert.equal(parseCameraList({ cameras: [] }).complete, true, 'a controller without the field (no discovery, older) is complete');
    assert.deepEqual(parseCameraList(['a', 'b']), { complete: true, cameras: [{ id: 'a', detect: null }, { id: 'b', detect: null }] });
  });

  test('a body that is no camera list throws (the follower then changes nothing)', () => {
    for (const body of [null, {}, { cameras: 'a' }, 'cameras', 42]) {
      assert.throws(() => parseCameraList(body), /not a camera list \(expected \{ cameras: \[\.\.\.\] \}\)/, JSON.stringify(body));
    }
  });
});

describe('createCameraFollower', () => {
  test('a camera re-listed while its stopped loop has not ended gets no second loop; it starts again after its state was forgotten', async () => {
    const app = new AbortController();
    let listing: CameraListing = { ids: ['a', 'b'], complete: true };
    let reads = 0;
    const running = new Map<string, number>();
    const release = new Map<string, () => void>();
    const forgotten: string[] = [];
    const lines: string[] = [];
    const follower = createCameraFollower({
      list: async () => { reads++; return listing; },
      everyMs: 5,
      // A loop that ends only when the test releases it (as one busy in a frame when told to stop).
      run: async (camera, signal) => {
        running.set(camera, (running.get(camera) ?? 0) + 1);
        await new Promise<void>((r) => { release.set(camera, r); signal.addEventListener('abort', () => { if (camera !== 'b') r(); }, { once: true }); });
        running.set(camera, running.get(camera)! - 1);
      },
      forget: (camera) => void forgotten.push(camera),
      log: (l) => lines.push(l),
      signal: app.signal,
    });
    await waitFor('both loops', () => running.get('a') === 1 && running.get('b') === 1);
    listing = { ids: ['a'], complete: true };
    await waitFor('b stopping', () => follower.loops().get('b') === 'stopping');
    listing = { ids: ['a', 'b'], complete: true };
    const at = reads;
    await waitFor('3 more reads', () => reads >= at + 3);
    assert.equal(running.get('b'), 1, 'no second loop of b while its first has not ended');
    assert.equal(forgotten.length, 0, 'not forgotten while its loop runs');
    release.get('b')!();
    await waitFor('b forgotten, then started again', () => forgotten.includes('b') && follower.loops().get('b') === 'running' && running.get('b') === 1);
    assert.equal(running.get('a'), 1, 'a untouched');
    assert.ok(lines.includes('inference: camera b: no longer listed by the camera controller: its frame loop stops'), lines.join('\n'));
    app.abort();
    release.get('b')!();
    await follower.settled();
    assert.deepEqual([running.get('a'), running.get('b')], [0, 0]);
  });

  test('failed reads change nothing and are logged once until the controller answers again', async () => {
    const app = new AbortController();
    let fail = false;
    let reads = 0;
    const started: string[] = [];
    const lines: string[] = [];
    const outcomes: string[] = [];
    const follower = createCameraFollower({
      list: async () => {
        reads++;
        if (fail) throw new Error('the camera controller is unreachable (ECONNREFUSED)');
        return { ids: ['a'], complete: true };
      },
      everyMs: 5,
      run: async (camera, signal) => { started.push(camera); await new Promise((r) => signal.addEventListener('abort', r, { once: true })); },
      forget: () => {},
      onList: (o) => void outcomes.push(o),
      log: (l) => lines.push(l),
      signal: app.signal,
    });
    await waitFor('a started', () => started.length === 1);
    fail = true;
    const at = reads;
    await waitFor('5 failed reads', () => reads >= at + 5);
    assert.deepEqual([...follower.loops()], [['a', 'running']]);
    assert.equal(lines.filter((l) => l.startsWith('inference: camera list unavailable')).length, 1, lines.join('\n'));
    fail = false;
    await waitFor('answers again', () => lines.includes('inference: the camera controller answers GET /cameras again'));
    assert.deepEqual(started, ['a']);
    assert.ok(outcomes.includes('failed') && outcomes.includes('complete'));
    app.abort();
    await follower.settled();
  });
});

describe('createCameraFollower: zones check', () => {
  test('the running cameras are reported after complete answers only: the first one, then each that follows a change', async () => {
    const app = new AbortController();
    const answers: CameraListing[] = [
      { ids: ['yard'], complete: false },
      { ids: ['yard'], complete: false },
      { ids: ['yard', 'x'], complete: true },
      { ids: ['yard', 'x'], complete: true },
      { ids: ['yard'], complete: true },
    ];
    let reads = 0;
    const reported: string[][] = [];
    const follower = createCameraFollower({
      list: async () => answers[Math.min(reads++, answers.length - 1)]!,
      everyMs: 5,
      run: (_camera, signal) => new Promise((r) => signal.addEventListener('abort', () => r(), { once: true })),
      forget: () => {},
      onCameras: (c) => void reported.push([...c]),
      log: () => {},
      signal: app.signal,
    });
    await waitFor('every answer read, x forgotten', () => reads > answers.length + 2 && !follower.loops().has('x'));
    // No report from the incomplete answers (yard alone would warn for x's zones for nothing).
    assert.deepEqual(reported, [['x', 'yard'], ['yard']]);
    app.abort();
    await follower.settled();
  });
});

describe('createCameraFollower: start', () => {
  test('before the controller first answers, reads are retried sooner than the period', async () => {
    const app = new AbortController();
    let reads = 0;
    const started: string[] = [];
    const follower = createCameraFollower({
      list: async () => {
        if (++reads <= 2) throw new Error('the camera controller is unreachable (ECONNREFUSED)');
        return { ids: ['a'], complete: true };
      },
      everyMs: 600_000,
      run: async (camera, signal) => { started.push(camera); await new Promise((r) => signal.addEventListener('abort', r, { once: true })); },
      forget: () => {},
      log: () => {},
      signal: app.signal,
    });
    // A period of 10 minutes: the third read comes after 250 + 500 ms, not after 20 minutes.
    await waitFor('a started after two failed reads', () => started.includes('a'), 8000);
    assert.equal(reads, 3);
    app.abort();
    await follower.settled();
  });
});

describe('readCameraList', () => {
  test('every read has a timeout; a failed one says why without the URL', async (t) => {
    let mode: 'hang' | 'error' | 'text' | 'ok' = 'hang';
    const srv = createServer((req, res) => {
      if (mode === 'hang') return; // never answers
      if (mode === 'error') return void res.writeHead(500).end('{}');
      if (mode === 'text') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ complete: false, cameras: [{ id: 'dock' }] }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    t.after(() => { srv.closeAllConnections(); srv.close(); });
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const signal = new AbortController().signal;
    const t0 = performance.now();
    await assert.rejects(readCameraList(url, 300, signal), { message: 'the camera controller did not answer GET /cameras within 300 ms' });
    assert.ok(performance.now() - t0 < 3000, 'the timeout held');
    mode = 'error';
    await assert.rejects(readCameraList(url, 2000, signal), { message: 'the camera controller answered GET /cameras with HTTP 500' });
    mode = 'text';
    await assert.rejects(readCameraList(url, 2000, signal), { message: 'the camera controller\'s GET /cameras answer is not JSON' });
    mode = 'ok';
    assert.deepEqual(await readCameraList(url, 2000, signal), { ids: ['dock'], complete: false });
    const closed = await freePort();
    await assert.rejects(readCameraList(`http://127.0.0.1:${closed}`, 2000, signal), { message: 'the camera controller is unreachable (ECONNREFUSED)' });
    // fetch refuses a URL with credentials, quoting it: the error must not.
    await assert.rejects(readCameraList(url.replace('//', '//user:secret@'), 2000, signal), (err: Error) => !err.message.includes('secret') && /unreachable/.test(err.message));
  });
});

test('CAMERA_URL with user:password@ is refused at start (fetch could never use it), naming the variable', () => {
  assert.throws(() => loadConfig({ CAMERA_URL: 'http://user:pw@camera:8081' }), /^.*env CAMERA_URL: expected the camera controller's URL, http:\/\/host:port \(without user:password@\)/);
  assert.equal(loadConfig({ CAMERA_URL: 'http://camera:8081/' }).cameraUrl, 'http://camera:8081');
});

describe('CAMERA_LIST_INTERVAL_MS', () => {
  test('5 s by default; outside 100..600000 ms or not an integer: an error naming the variable and what is accepted', () => {
    assert.equal(loadConfig({}).cameraListIntervalMs, 5000);
    assert.equal(loadConfig({ CAMERA_LIST_INTERVAL_MS: '200' }).cameraListIntervalMs, 200);
    for (const v of ['50', '700000', 'soon', '2.5', '']) {
      assert.throws(() => loadConfig({ CAMERA_LIST_INTERVAL_MS: v }), { code: 'EDGEVISOR_ERR_SPEC_INVALID', message: `invalid environment: env CAMERA_LIST_INTERVAL_MS: expected milliseconds 100..600000 (an integer), got ${JSON.stringify(v)}` });
    }
  });
});
