// Shared by the runtime tests (test/unit/runtime-*.test.ts, onFakeTime for those on fake time, and
// test/integration/supervision-edge.test.ts). Not a test file itself (no `.test.`).
//
// A tree built from a plain object (so in-process workers can carry `run` functions), with every
// event recorded, every worker pid remembered, and a close() that checks the invariants that hold
// for any run: seq strictly increases, each transition is in the table and starts from the state
// the previous one left, no internal error was reported, and no process outlives tree.stop().
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { defaultBackends, isProcessAlive } from '../../supervisor/src/backends/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import { canTransition, type ChildState } from '../../supervisor/src/core/lifecycle.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import type { InprocWorker } from '../../supervisor/src/spec/types.ts';
import type { Actor, Tree } from '../../supervisor/src/runtime/types.ts';
import { waitFor } from '../helpers/net.ts';
import { systemClock, type Clock } from '../../supervisor/src/runtime/clock.ts';
import { afterEach, beforeEach } from 'node:test';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const httpChild = join(repoRoot, 'test/fixtures/http-child.js');
export const tech: Actor = { role: 'technician', via: 'test' };

export interface Harness {
  tree: Tree;
  events: TreeEvent[];
  errors: unknown[];
  /** Every pid a worker had when it reached `starting` or `running`. */
  pids: Set<number>;
  state(id: string): ChildState | undefined;
  pid(id: string): number | undefined;
  restarts(id: string): number;
  /** Transition targets of `id`, in order. */
  path(id: string): ChildState[];
  /** `restart` events about `id` (decided by its supervisor), in order. */
  restartEvents(id: string): TreeEvent[];
  /** First transition event of `id` into `to` after seq `after` (default 0). */
  seqOf(id: string, to: ChildState, after?: number): number;
  dump(): string;
  close(): Promise<void>;
}

/** Checks the whole log: seq strictly increasing, every transition legal and continuous per child. */
export function checkEventLog(events: readonly TreeEvent[]): void {
  let lastSeq = 0;
  const states = new Map<string, ChildState>();
  for (const e of events) {
    assert.ok(e.seq > lastSeq, `seq must strictly increase: ${e.seq} after ${lastSeq}`);
    lastSeq = e.seq;
    if (e.type !== 'transition') continue;
    const prev = states.get(e.child) ?? 'stopped';
    assert.equal(e.from, prev, `event ${e.seq}: ${e.child} leaves ${e.from} but was ${prev}`);
    assert.ok(canTransition(e.from!, e.to!), `event ${e.seq}: ${e.child} ${e.from} -> ${e.to} is not in the table`);
    states.set(e.child, e.to!);
  }
}

export function formatEvents(events: readonly TreeEvent[]): string {
  return events.map((x) => `${x.seq} ${x.type} ${x.child} ${x.from ?? ''}->${x.to ?? ''} ${x.reason}`).join('\n');
}

/**
 * Builds (and by default starts) a tree from a spec object. With `clock` (test/helpers/fake-clock.ts)
 * the runtime and the inproc backend run on fake time: the start and close() drive it.
 */
export async function buildTree(obj: Record<string, unknown>, opts: { start?: boolean; clock?: FakeClock } = {}): Promise<Harness> {
  const spec = parseTreeObject({ version: 1, ...obj });
  const errors: unknown[] = [];
  const clock = opts.clock;
  const tree = createTree(spec, { backends: defaultBackends(), baseDir: repoRoot, onInternalError: (e) => errors.push(e), ...(clock ? { clock } : {}) });
  const events: TreeEvent[] = [];
  const pids = new Set<number>();
  tree.onEvent((e) => {
    events.push(e);
    if (e.type === 'transition' && (e.to === 'starting' || e.to === 'running')) {
      const pid = tree.child(e.child)?.info?.pid;
      if (typeof pid === 'number') pids.add(pid);
    }
  });
  const started = opts.start === false ? Promise.resolve() : tree.start();
  await drive(clock, 'the tree started', started);
  const node = (id: string) => tree.child(id);
  let closed = false;
  const h: Harness = {
    tree,
    events,
    errors,
    pids,
    state: (id) => node(id)?.state,
    pid: (id) => node(id)?.info?.pid as number | undefined,
    restarts: (id) => node(id)?.restarts ?? -1,
    path: (id) => events.filter((e) => e.type === 'transition' && e.child === id).map((e) => e.to!),
    restartEvents: (id) => events.filter((e) => e.type === 'restart' && e.child === id),
    seqOf: (id, to, after = 0) => events.find((e) => e.type === 'transition' && e.child === id && e.to === to && e.seq > after)?.seq ?? -1,
    dump: () => formatEvents(events),
    async close() {
      if (closed) return;
      closed = true;
      // A stop that hangs is a bug too; fail with the log instead of hanging the file.
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 20_000)));
      const stopping = tree.stop();
      const outcome = await Promise.race([drive(clock, 'tree.stop()', stopping).then(() => 'ok' as const), hung]);
      clearTimeout(timer);
      assert.equal(outcome, 'ok', `tree.stop() did not finish within 20 s\n${h.dump()}`);
      checkEventLog(events);
      assert.deepEqual(errors.map(String), [], 'no internal error (illegal transition, unexpected throw) during the test');
      const alive = [...pids].filter(isProcessAlive);
      assert.deepEqual(alive, [], 'no worker process outlives tree.stop()');
    },
  };
  return h;
}

/** Awaits `p`; on a fake clock, runs its timers meanwhile (a stop's grace, a start's probes). */
async function drive(clock: FakeClock | undefined, label: string, p: Promise<unknown>): Promise<void> {
  if (!clock) return void (await p);
  let done = false;
  const settled = p.then(() => (done = true), () => (done = true));
  await clock.until(label, () => done);
  await settled;
  await p;
}

/** Runs `fn` and, if it throws, prints the event log first (for failing waits). */
export async function explain<T>(h: Harness, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    console.log(h.dump());
    throw err;
  }
}

interface LiveRun {
  crash(err?: Error): void;
  finish(): void;
  stall(): void;
}

/**
 * In-process workers driven from the test: each run heartbeats every 20 ms (of `clock`'s time)
 * until it is told to crash (reject), finish (resolve) or stall (stop heartbeating), or until it
 * is aborted.
 */
export function createWorkers(clock: Clock = systemClock) {
  const runs: Record<string, number> = {};
  const live = new Map<string, LiveRun>();
  const get = (id: string): LiveRun => {
    const r = live.get(id);
    if (!r) throw new Error(`worker ${id} is not running`);
    return r;
  };
  const make = (id: string): InprocWorker =>
    async ({ signal, heartbeat }) => {
      runs[id] = (runs[id] ?? 0) + 1;
      await new Promise<void>((resolveRun, rejectRun) => {
        const beat = clock.setInterval(heartbeat, 20);
        const self: LiveRun = {
          crash: (err) => end(err ?? new Error(`${id} crashed on purpose`)),
          finish: () => end(),
          stall: () => clock.clearInterval(beat),
        };
        const end = (err?: Error) => {
          clock.clearInterval(beat);
          if (live.get(id) === self) live.delete(id);
          if (err) rejectRun(err);
          else resolveRun();
        };
        signal.addEventListener('abort', () => end(), { once: true });
        live.set(id, self);
      });
    };
  return {
    runs,
    make,
    crash: (id: string) => get(id).crash(),
    finish: (id: string) => get(id).finish(),
    stall: (id: string) => get(id).stall(),
    /** A spec entry for an inproc child. */
    child: (id: string, extra: Record<string, unknown> = {}, inproc: Record<string, unknown> = {}) => ({
      id,
      shutdown: '500ms',
      inproc: { run: make(id), ...inproc },
      ...extra,
    }),
  };
}

/**
 * A spec entry for an http-child process on `port`, by default with a fast liveness probe. Its 5 s
 * startup grace covers node's boot on a busy 2-core box; after the first pass 3 failures count.
 */
export function procChild(id: string, port: number, opts: { env?: Record<string, string>; probe?: boolean; extra?: Record<string, unknown> } = {}) {
  return {
    id,
    shutdown: '1s',
    process: { command: ['node', httpChild], env: { PORT: String(port), ...opts.env } },
    ...(opts.probe === false ? {} : { probes: [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '100ms', timeout: '300ms', failures: 3, startup_grace: '5s' }] }),
    ...opts.extra,
  };
}

export { waitFor };

/**
 * For a test file on fake time: a new fake clock for each test (`fake.clock`), and `fake.tree()`
 * builds a tree on it (started unless `start` is false) that is closed after the test.
 */
export function onFakeTime(): { readonly clock: FakeClock; tree(obj: Record<string, unknown>, start?: boolean): Promise<Harness> } {
  let clock: FakeClock | undefined;
  let open: Harness[] = [];
  beforeEach(() => {
    clock = createFakeClock();
  });
  afterEach(async () => {
    const hs = open;
    open = [];
    for (const h of hs) await h.close();
  });
  return {
    get clock() {
      if (!clock) throw new Error('onFakeTime: the clock exists inside a test only');
      return clock;
    },
    async tree(obj, start = true) {
      const h = await buildTree(obj, { clock: this.clock, start });
      open.push(h);
      return h;
    },
  };
}
