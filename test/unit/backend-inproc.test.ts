import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createInprocUnit, type InprocExitInfo } from '../../supervisor/src/backends/inproc.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import type { Unit } from '../../supervisor/src/backends/types.ts';
import { codes, EdgevisorError } from '../../supervisor/src/errors.ts';
import type { InprocBackendSpec, InprocWorker, WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { sleep, waitFor } from '../helpers/net.ts';

function worker(backend: Partial<InprocBackendSpec>): WorkerSpec {
  return {
    type: 'worker',
    id: 'worker-under-test',
    restart: 'permanent',
    shutdown: { kind: 'grace', graceMs: 1000 },
    hungShutdown: { kind: 'brutal_kill' },
    probes: [],
    backend: { kind: 'inproc', heartbeatTimeoutMs: 0, ...backend },
  };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgevisor-inproc-'));
  writeFileSync(
    join(dir, 'worker.mjs'),
    `export async function loop({ signal, heartbeat, id }) {
       globalThis.__inprocSeen = id;
       while (!signal.aborted) { heartbeat(); await new Promise((r) => setTimeout(r, 20)); }
     }
     export const notAFunction = 42;`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function make(run: InprocWorker | Partial<InprocBackendSpec>) {
  const unit: Unit = createInprocUnit(worker(typeof run === 'function' ? { run } : run), { baseDir: dir });
  const exits: InprocExitInfo[] = [];
  unit.onExit((e) => exits.push(e as InprocExitInfo));
  return { unit, exits };
}

describe('inproc backend', () => {
  test('a worker that resolves is a normal exit with code 0, reported at once', async () => {
    const { unit, exits } = make(async () => {
      await delay(50);
    });
    await unit.start();
    await waitFor('exit', () => exits.length === 1, 2000, 5);
    assert.deepEqual(exits[0], { code: 0, signal: null, normal: true, abandoned: false, stopRequested: false });
  });

  test('a worker that rejects is abnormal with the error text; a sync throw too', async () => {
    const { unit, exits } = make(async () => {
      await delay(10);
      throw new Error('camera stream lost');
    });
    await unit.start();
    await waitFor('exit', () => exits.length === 1, 2000, 5);
    assert.equal(exits[0]!.normal, false);
    assert.equal(exits[0]!.code, null);
    assert.match(exits[0]!.error ?? '', /camera stream lost/);
    assert.ok(unit.logs().some((l) => l.includes('camera stream lost')));

    const sync = make((() => {
      throw new TypeError('bad config');
    }) as unknown as InprocWorker);
    await sync.unit.start();
    await waitFor('exit', () => sync.exits.length === 1, 2000, 5);
    assert.match(sync.exits[0]!.error ?? '', /TypeError: bad config/);
  });

  test('stop aborts the signal; a worker that ends on the abort is a normal stop', async () => {
    let sawAbort = false;
    const { unit, exits } = make(async ({ signal }) => {
      await new Promise<void>((_, reject) =>
        signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(signal.reason);
        }),
      );
    });
    await unit.start();
    const s1 = unit.stop({ kind: 'grace', graceMs: 2000 });
    assert.equal(unit.stop({ kind: 'grace', graceMs: 2000 }), s1, 'same promise while stopping');
    await s1;
    assert.equal(sawAbort, true);
    assert.equal(exits.length, 1, 'reported before stop() resolves');
    assert.equal(exits[0]!.normal, true);
    assert.equal(exits[0]!.stopRequested, true);
    assert.equal(exits[0]!.error, undefined);
  });

  test('a worker ignoring the abort is abandoned after the grace; its late settle changes nothing', async () => {
    let release!: () => void;
    let lateHeartbeat!: () => void;
    let call = 0;
    const { unit, exits } = make(async ({ heartbeat, signal }) => {
      call++;
      if (call === 1) {
        lateHeartbeat = heartbeat;
        await new Promise<void>((r) => (release = r)); // ignores the signal
        throw new Error('late failure');
      }
      await delay(10_000, undefined, { signal }); // the second run stays up until stopped
    });
    await unit.start();
    const t0 = Date.now();
    await unit.stop({ kind: 'grace', graceMs: 300 });
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 2000, `abandoned after ${took}ms (grace 300ms)`);
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.abandoned, true);
    assert.equal(exits[0]!.normal, false);
    assert.match(exits[0]!.error ?? '', /abandoned/);

    // A new run starts; then the abandoned one heartbeats and fails late.
    await unit.start();
    const startedAt = unit.lastHeartbeat!();
    await sleep(30);
    lateHeartbeat();
    release();
    await sleep(50);
    assert.equal(exits.length, 1, 'the late settle did not fire onExit again');
    assert.equal(unit.lastHeartbeat!(), startedAt, 'the old run heartbeat did not count for the new run');
    assert.ok(unit.logs().some((l) => l.includes('after it had been abandoned')));
    assert.equal(unit.info().running, true, 'the new run is still up');
    await unit.stop({ kind: 'grace', graceMs: 1000 });
    assert.equal(exits.length, 2);
    assert.equal(exits[1]!.normal, true, 'the second run ended cleanly on its own abort');
  });

  test('brutal_kill abandons at once a worker that ignores the abort', async () => {
    const { unit, exits } = make(() => new Promise<void>(() => {}));
    await unit.start();
    const t0 = Date.now();
    await unit.stop({ kind: 'brutal_kill' });
    assert.ok(Date.now() - t0 < 500);
    assert.equal(exits[0]!.abandoned, true);
  });

  test('lastHeartbeat is the start time before the first beat, then the last beat', async () => {
    let beat!: () => void;
    const { unit } = make(async ({ heartbeat, signal }) => {
      beat = heartbeat;
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()));
    });
    const before = Date.now();
    await unit.start();
    const atStart = unit.lastHeartbeat!();
    assert.ok(atStart >= before && atStart <= Date.now());
    assert.equal(unit.info().startedAt, atStart);
    await sleep(120);
    assert.equal(unit.lastHeartbeat!(), atStart, 'no beat yet: still the start time');
    beat();
    const beatAt = unit.lastHeartbeat!();
    assert.ok(beatAt - atStart >= 100, `heartbeat time ${beatAt - atStart}ms after start`);
    await unit.stop({ kind: 'grace', graceMs: 1000 });
  });

  test('loads module/export relative to baseDir', async () => {
    const { unit, exits } = make({ module: 'worker.mjs', export: 'loop' });
    await unit.start();
    const t0 = unit.lastHeartbeat!();
    await waitFor('heartbeats from the module', () => unit.lastHeartbeat!() > t0, 2000, 10);
    assert.equal((globalThis as Record<string, unknown>).__inprocSeen, 'worker-under-test');
    await unit.stop({ kind: 'grace', graceMs: 1000 });
    assert.equal(exits[0]!.normal, true);
  });

  test('a missing module or export rejects start() with START_FAILED naming it', async () => {
    const isStartFailed = (pattern: RegExp) => (err: unknown) => {
      assert.ok(err instanceof EdgevisorError);
      assert.equal(err.code, codes.START_FAILED);
      assert.match(err.message, pattern);
      return true;
    };
    await assert.rejects(make({ module: 'nope.mjs' }).unit.start(), isStartFailed(/nope\.mjs/));
    await assert.rejects(make({ module: 'worker.mjs', export: 'notAFunction' }).unit.start(), isStartFailed(/"notAFunction".*loop/));
    await assert.rejects(make({}).unit.start(), isStartFailed(/run .* or module/));
  });

  test('defaultBackends has process and inproc factories', () => {
    const reg = defaultBackends();
    assert.equal(reg.inproc, createInprocUnit);
    assert.equal(typeof reg.process, 'function');
    assert.equal(reg.docker, undefined);
  });
});
