// In-process workers under the runtime: a worker that stops heartbeating (alive, no progress) is
// restarted alone; stopping the tree while a child is still starting does not wait out its startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { sleep, waitFor } from '../helpers/net.ts';

type Ctx = { signal: AbortSignal; heartbeat: () => void; id: string };

test('an in-process worker that stops heartbeating is restarted alone', async () => {
  const beats: Record<string, number> = { a: 0, b: 0, c: 0 };
  const runs: Record<string, number> = { a: 0, b: 0, c: 0 };
  let hangB = true;
  const worker = (id: string) => async ({ signal, heartbeat }: Ctx) => {
    runs[id]++;
    while (!signal.aborted) {
      // The first run of b hangs after a few beats, like a camera driver stuck mid-frame.
      if (id === 'b' && hangB && beats.b > 5) {
        hangB = false;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return;
      }
      heartbeat();
      beats[id]++;
      await sleep(20);
    }
  };
  const spec = parseTreeObject({
    version: 1,
    name: 'cams',
    children: ['a', 'b', 'c'].map((id) => ({ id, shutdown: '1s', inproc: { run: worker(id), heartbeat_timeout: '300ms' } })),
  });
  const events: TreeEvent[] = [];
  const tree = createTree(spec, { backends: defaultBackends(), onInternalError: (e) => assert.fail(String(e)) });
  tree.onEvent((e) => events.push(e));
  await tree.start();
  try {
    await waitFor('b restarted', () => runs.b === 2 && tree.child('b')?.state === 'running', 5000);
    const restart = events.find((e) => e.type === 'restart');
    assert.equal(restart?.child, 'b');
    assert.equal(restart?.data?.cause, 'heartbeat');
    assert.deepEqual([runs.a, runs.c], [1, 1], 'the other workers were not restarted');
    assert.deepEqual([tree.child('a')?.restarts, tree.child('c')?.restarts], [0, 0]);
    const before = { a: beats.a, c: beats.c };
    await sleep(300);
    assert.ok(beats.a - before.a > 5 && beats.c - before.c > 5, 'a and c kept working throughout');
  } finally {
    await tree.stop();
  }
});

test('stopping the tree interrupts a child that is still starting', async () => {
  const spec = parseTreeObject({
    version: 1,
    name: 'slow',
    children: [
      {
        id: 'never-ready',
        shutdown: '1s',
        process: { command: ['node', '-e', 'setInterval(() => {}, 1000)'] },
        // Nothing listens there: the child stays in `starting` through a 20 s grace.
        probes: [{ name: 'live', tcp: { host: '127.0.0.1', port: 9 }, every: '200ms', timeout: '100ms', startup_grace: '20s' }],
      },
    ],
  });
  const tree = createTree(spec, { backends: defaultBackends() });
  const starting = tree.start();
  await waitFor('starting', () => tree.child('never-ready')?.state === 'starting');
  const t0 = Date.now();
  await tree.stop();
  assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0}ms`);
  assert.equal(tree.child('never-ready')?.state, 'stopped');
  await starting;
});
