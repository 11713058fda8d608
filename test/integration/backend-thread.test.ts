// The thread backend in a tree and on its own: a thread stuck in JavaScript is found by its
// heartbeat and really killed (terminate()), resource_limits end a thread that outgrows its heap,
// states come over the port, and a thread blocked in native code is abandoned, not waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createThreadUnit } from '../../supervisor/src/backends/thread.ts';
import type { ThreadExitInfo } from '../../supervisor/src/backends/thread.ts';
import type { WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { codes } from '../../supervisor/src/errors.ts';
import { repoRoot, startTree, waitFor } from '../helpers/tree.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';

const WORKERS = join(repoRoot, 'test/fixtures/workers.ts');
const threadWorker = (exp: string, limits: Record<string, number> = {}): WorkerSpec => ({
  type: 'worker',
  id: `t-${exp}`,
  restart: 'permanent',
  shutdown: { kind: 'grace', graceMs: 500 },
  hungShutdown: { kind: 'brutal_kill' },
  probes: [],
  backend: { kind: 'thread', module: WORKERS, export: exp, resourceLimits: limits, heartbeatTimeoutMs: 0 },
});

test('a thread spinning in JavaScript misses its heartbeat, is terminated (not abandoned) and restarted', { timeout: 60_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: spinner
    thread: { module: ${WORKERS}, export: spin, heartbeat_timeout: 500ms }
`);
  try {
    await waitFor('heartbeat verdict', () => h.events.find((e) => e.type === 'transition' && e.child === 'spinner' && e.to === 'unhealthy'), 20_000, 10);
    const u = h.events.find((e) => e.type === 'transition' && e.child === 'spinner' && e.to === 'unhealthy')!;
    assert.equal(u.data?.['hung'], true);
    await waitFor('restarted', () => h.restarts('spinner') >= 1 && h.state('spinner') === 'running', 20_000);
    const exit = h.events.find((e) => e.type === 'exit' && e.child === 'spinner')!;
    assert.equal(exit.data?.['killed'], true, 'terminate() ended it');
    assert.equal(exit.data?.['abandoned'], false, 'a thread in JS is killed, not abandoned');
    assert.equal(h.tree.child('spinner')!.info?.['abandoned'], 0);
  } finally {
    await h.close();
  }
});

test('resource_limits: a thread that outgrows its heap ends with oom, the supervisor lives on', { timeout: 30_000 }, async () => {
  const unit = createThreadUnit(threadWorker('hog', { maxOldGenerationSizeMb: 16 }), { baseDir: repoRoot });
  const exits: ThreadExitInfo[] = [];
  unit.onExit((e) => exits.push(e as ThreadExitInfo));
  await unit.start();
  await waitFor('oom exit', () => exits.length > 0, 20_000, 10);
  assert.equal(exits[0]!.oom, true);
  assert.equal(exits[0]!.normal, false);
  assert.match(exits[0]!.error ?? '', /out of memory \(resource_limits \{"maxOldGenerationSizeMb":16\}\)/);
  assert.ok(process.memoryUsage().heapUsed < 512 << 20, 'the thread had its own heap');
});

test('states come over the port: info().workerState and onWorkerState', { timeout: 30_000 }, async () => {
  const unit = createThreadUnit(threadWorker('states'), { baseDir: repoRoot });
  const seen: string[] = [];
  unit.onWorkerState!((s) => seen.push(s));
  await unit.start();
  await waitFor('streaming', () => unit.info()['workerState'] === 'streaming', 10_000, 10);
  assert.deepEqual(seen, ['connecting', 'streaming']);
  const beat = unit.lastHeartbeat!();
  await waitFor('heartbeats', () => unit.lastHeartbeat!() > beat, 5_000, 10);
  await unit.stop({ kind: 'grace', graceMs: 2000 });
});

test('a thread blocked in native code cannot be terminated: it is abandoned after 2 s and said so', { timeout: 30_000 }, async () => {
  // The worker opens a FIFO for reading: open(2) blocks in the kernel until a writer comes.
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-thread-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  process.env.EDGEVISOR_TEST_FIFO = fifo;
  const unit = createThreadUnit(threadWorker('nativeBlock'), { baseDir: repoRoot });
  const exits: ThreadExitInfo[] = [];
  unit.onExit((e) => exits.push(e as ThreadExitInfo));
  await unit.start();
  // Wait until the thread is in open(2) on the FIFO (the kernel's wait for a writer).
  const inOpen = () => readdirSync('/proc/self/task').some((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/wchan`, 'utf8') === 'wait_for_partner';
    } catch {
      return false;
    }
  });
  await waitFor('thread blocked in open(2)', inOpen, 10_000, 10);
  const t0 = Date.now();
  await unit.stop({ kind: 'brutal_kill' });
  const took = Date.now() - t0;
  assert.ok(took >= 1900, `waited for terminate() ${took}ms`);
  assert.equal(exits.length, 1);
  assert.equal(exits[0]!.abandoned, true);
  assert.match(exits[0]!.error ?? '', /blocked in native code; use the process backend/);
  assert.equal(unit.info()['abandoned'], 1);
  // When the native call returns (a writer opens the FIFO) the thread ends: no second report.
  const w = openSync(fifo, 'w');
  closeSync(w);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(exits.length, 1);
  rmSync(dir, { recursive: true, force: true });
});

test('start failures: a module that does not load, an export that is not there', { timeout: 30_000 }, async () => {
  const missing = createThreadUnit({ ...threadWorker('x'), backend: { kind: 'thread', module: join(repoRoot, 'test/fixtures/no-such.mjs'), export: 'default', resourceLimits: {}, heartbeatTimeoutMs: 0 } }, { baseDir: repoRoot });
  await assert.rejects(missing.start(), (err: { code?: string; message: string }) => {
    assert.equal(err.code, codes.START_FAILED);
    assert.match(err.message, /thread module no-such\.mjs cannot be imported: /);
    assert.ok(!err.message.includes(repoRoot), `no server path in the message: ${err.message}`);
    return true;
  });
  const noExport = createThreadUnit(threadWorker('nope'), { baseDir: repoRoot });
  await assert.rejects(noExport.start(), /thread module workers\.ts has no function export "nope" \(exports: clean, crash, hog, nativeBlock, releaseStubborn, spin, states, stubborn, typedStreaming, typedStuck\)/);
});

test("a typed worker's declaration comes over the port: declared states only, its deadlines apply", { timeout: 60_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: ok
    thread: { module: ${WORKERS}, export: typedStreaming }
  - id: stuck
    thread: { module: ${WORKERS}, export: typedStuck }
`);
  try {
    await waitFor('ok streaming', () => h.tree.child('ok')?.workerState === 'streaming', 20_000);
    await waitFor('stuck restarted by its deadline', () => h.events.find((e) => e.type === 'restart' && e.child === 'stuck'), 20_000, 10);
    const r = h.events.find((e) => e.type === 'restart' && e.child === 'stuck')!;
    assert.equal(r.data?.['cause'], 'deadline');
    assert.match(String(r.data?.['words']), /^stayed in connecting \d+ ms, limit 400 ms$/);
  } finally {
    await h.close();
  }
});

// Issue 15 review: a start that never finishes must not block the tree.
const startStuck = (file: string): WorkerSpec => ({ ...threadWorker('stuck'), backend: { kind: 'thread', module: join(repoRoot, 'test/fixtures', file), export: 'run', resourceLimits: {}, heartbeatTimeoutMs: 0 } });

test('stop() during a start that never finishes terminates the thread: the start rejects START_FAILED, no exit', { timeout: 30_000 }, async () => {
  // spin-start.mjs spins in its top-level code, hang-start.mjs awaits forever there.
  for (const [file, shutdown] of [['spin-start.mjs', { kind: 'brutal_kill' }], ['hang-start.mjs', { kind: 'grace', graceMs: 10_000 }]] as const) {
    const unit = createThreadUnit(startStuck(file), { baseDir: repoRoot });
    const exits: ThreadExitInfo[] = [];
    unit.onExit((e) => exits.push(e as ThreadExitInfo));
    let settled = false;
    const start = unit.start();
    start.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, `${file}: its start does not finish by itself`);
    const t0 = Date.now();
    await unit.stop(shutdown);
    // A starting thread has no shutdown handler to wait for: even a grace ends it at once.
    assert.ok(Date.now() - t0 < 1_500, `${file}: stop() took ${Date.now() - t0} ms`);
    await assert.rejects(start, (err: { code?: string; message: string }) => {
      assert.equal(err.code, codes.START_FAILED);
      assert.match(err.message, new RegExp(`thread module ${file.replace('.', '\\.')} was stopped before its function started`));
      return true;
    });
    assert.equal(unit.info().running, false);
    assert.equal(unit.info()['abandoned'], 0, 'terminated, not abandoned');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(exits.length, 0, 'a start that never completed reports no exit');
  }
});

test("heartbeats and start times are read from the tree's clock (ctx.clock), not Date.now()", { timeout: 30_000 }, async () => {
  const clock = createFakeClock(0);
  const unit = createThreadUnit(threadWorker('clean'), { baseDir: repoRoot, clock });
  await unit.start();
  try {
    assert.equal(unit.info().startedAt, 0);
    assert.equal(unit.lastHeartbeat!(), 0);
    await clock.advance(5_000);
    await waitFor('a heartbeat at fake 5 s', () => unit.lastHeartbeat!() === 5_000, 5_000, 10);
  } finally {
    await unit.stop({ kind: 'brutal_kill' });
  }
  assert.equal(unit.info().running, false);
});

test('in a tree: a thread whose start never finishes is ended by start_timeout; its siblings start, tree.stop() returns', { timeout: 60_000 }, async () => {
  const h = await startTree(`
name: t
intensity: 20
children:
  - id: before
    thread: { module: ${WORKERS}, export: clean }
  - id: stuck
    start_timeout: 500ms
    thread: { module: ${join(repoRoot, 'test/fixtures/spin-start.mjs')}, export: run }
  - id: after
    thread: { module: ${WORKERS}, export: clean }
`);
  try {
    await waitFor('after running', () => h.state('after') === 'running', 20_000, 10);
    const failed = h.events.find((e) => e.type === 'transition' && e.child === 'stuck' && e.from === 'starting' && e.to === 'backoff')!;
    assert.match(failed.reason, /the start did not finish within 500ms \(start_timeout\); ended with brutal_kill/);
    assert.equal(h.tree.child('stuck')!.info?.['abandoned'], 0, 'each stuck start was terminated');
    assert.equal(h.state('before'), 'running');
  } finally {
    const t0 = Date.now();
    await h.close();
    assert.ok(Date.now() - t0 < 10_000, `tree.stop() took ${Date.now() - t0} ms`);
  }
});
