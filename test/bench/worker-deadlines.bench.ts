// Benchmark of typed workers' deadlines (issue 15, item 2). Prints figures; asserts nothing.
//  1. Stall -> verdict lateness: WORKERS in-process workers stop heartbeating at spread-out times;
//     how long past the 500 ms limit each is declared unhealthy. Typed workers (`streaming:
//     { heartbeat: 500ms }`, one timer per deadline) against the untyped `heartbeat_timeout: 500ms`
//     (a poll every limit/4), same run, same tree shape.
//  2. Cost of a state report: ctx.setState flips (deadline check + event fold) against
//     ctx.heartbeat() calls, ns per call, on one worker.
// Run: node --import tsx test/bench/worker-deadlines.bench.ts   (or npm run bench -- worker-deadlines)
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import type { InprocContext } from '../../supervisor/src/spec/types.ts';
import { defineWorker } from '../../supervisor/src/spec/worker-lifecycle.ts';
import { waitFor } from '../helpers/net.ts';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 100);
const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const LIMIT_MS = 500;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** Each worker beats every 20 ms, then stops (first run only) after 200 + i*7 ms; returns lateness per worker. */
async function lateness(typed: boolean): Promise<number[]> {
  const lastBeat = new Map<string, number>();
  const body = (id: string, i: number) => {
    let run = 0;
    return async ({ signal, heartbeat, setState }: InprocContext) => {
      if (typed) setState('streaming');
      const first = run++ === 0;
      const stopAt = first ? Date.now() + 200 + i * 7 : Infinity;
      while (!signal.aborted) {
        if (Date.now() < stopAt) {
          heartbeat();
          if (first) lastBeat.set(id, Date.now());
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
  };
  const children = Array.from({ length: WORKERS }, (_, i) => {
    const id = `w${i}`;
    const run = typed
      ? defineWorker({ states: ['connecting', 'streaming'], initial: 'connecting', deadlines: { streaming: { heartbeat: LIMIT_MS } }, run: body(id, i) })
      : body(id, i);
    return { id, shutdown: '200ms', inproc: typed ? { run } : { run, heartbeat_timeout: `${LIMIT_MS}ms` } };
  });
  const tree = createTree(parseTreeObject({ name: typed ? 'typed' : 'untyped', intensity: 10_000, backoff: { initial: '50ms', max: '50ms', reset_after: '60s' }, children }), { backends: defaultBackends() });
  const verdicts = new Map<string, number>();
  tree.onEvent((e: TreeEvent) => {
    if (e.type === 'transition' && e.to === 'unhealthy' && !verdicts.has(e.child)) verdicts.set(e.child, e.ts);
  });
  await tree.start();
  await waitFor('every worker declared unhealthy once', () => verdicts.size === WORKERS, 60_000, 50);
  await tree.stop();
  return [...verdicts].map(([id, at]) => at - lastBeat.get(id)! - LIMIT_MS);
}

async function callCost(): Promise<{ setStateNs: number; heartbeatNs: number }> {
  let result: { setStateNs: number; heartbeatNs: number } | undefined;
  const w = defineWorker({
    states: ['a', 'b'],
    initial: 'a',
    deadlines: { a: { maxFor: '1h' }, b: { heartbeat: '1h' }, transitions: { 'a->b': '1h' } },
    async run({ heartbeat, setState }) {
      let t = process.hrtime.bigint();
      for (let i = 0; i < CALLS; i++) heartbeat();
      const heartbeatNs = Number(process.hrtime.bigint() - t) / CALLS;
      t = process.hrtime.bigint();
      for (let i = 0; i < CALLS; i++) setState(i % 2 ? 'a' : 'b');
      result = { setStateNs: Number(process.hrtime.bigint() - t) / CALLS, heartbeatNs };
    },
  });
  const tree = createTree(parseTreeObject({ name: 'cost', children: [{ id: 'w', restart: 'temporary', inproc: { run: w } }] }), { backends: defaultBackends() });
  await tree.start();
  await waitFor('measured', () => result, 60_000);
  await tree.stop();
  return result!;
}

const untyped = await lateness(false);
const typed = await lateness(true);
const row = (name: string, xs: number[]) => `${name}: p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms past the ${LIMIT_MS} ms limit`;
console.log(`stall -> unhealthy, ${WORKERS} in-process workers`);
console.log(`  ${row('typed (streaming heartbeat deadline, one timer)', typed)}`);
console.log(`  ${row('untyped (heartbeat_timeout, poll every limit/4)', untyped)}`);
console.log(`  ratio p50 typed/untyped: ${(pct(typed, 50) / Math.max(1, pct(untyped, 50))).toFixed(2)}x`);
const cost = await callCost();
console.log(`state report cost, ${CALLS} calls: setState ${cost.setStateNs.toFixed(0)} ns/call (check + fold), heartbeat ${cost.heartbeatNs.toFixed(0)} ns/call: ${(cost.setStateNs / cost.heartbeatNs).toFixed(1)}x`);
