// The per-supervisor queue that keeps restart decisions, delayed restarts and manual actions from
// interleaving: tasks run one at a time in submission order, and a failing task does not stop the
// ones after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialQueue } from '../../supervisor/src/runtime/serial-queue.ts';
import { sleep } from '../helpers/net.ts';

test('tasks run one at a time, in order, each result to its caller', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let running = 0;
  const task = (name: string, ms: number) => async () => {
    running++;
    assert.equal(running, 1, `${name} runs alone`);
    log.push(`${name}:start`);
    await sleep(ms);
    log.push(`${name}:end`);
    running--;
    return name;
  };
  const results = await Promise.all([q.run(task('a', 30)), q.run(task('b', 0)), q.run(task('c', 10))]);
  assert.deepEqual(results, ['a', 'b', 'c']);
  assert.deepEqual(log, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
});

test('a rejected task rejects only its own caller; the queue goes on', async () => {
  const q = new SerialQueue();
  const failed = q.run(async () => {
    throw new Error('boom');
  });
  const next = q.run(async () => 'still served');
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 'still served');
});

test('a task queued from inside a running task runs after it, not inside it (no deadlock on await)', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  let inner: Promise<void> | undefined;
  await q.run(async () => {
    inner = q.run(async () => {
      log.push('inner');
    });
    log.push('outer');
  });
  await inner;
  assert.deepEqual(log, ['outer', 'inner']);
});
