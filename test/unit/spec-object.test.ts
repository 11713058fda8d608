// Trees built in code: same schema as the YAML, plus `run` functions for in-process workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseTree, parseTreeObject } from '../../supervisor/src/spec/load.ts';
import type { InprocWorker, WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { specErrors as details } from '../helpers/spec.ts';

const worker: InprocWorker = async ({ signal, heartbeat }) => {
  while (!signal.aborted) {
    heartbeat();
    await new Promise((r) => setTimeout(r, 10));
  }
};


test('an inproc child carries its run function through, unfrozen and callable', async () => {
  const t = parseTreeObject({
    name: 'app',
    children: [{ id: 'loop', inproc: { run: worker, heartbeat_timeout: '2s' }, probes: [{ tcp: { host: '127.0.0.1', port: 1 }, every: 200 }] }],
  });
  const loop = t.root.children[0] as WorkerSpec;
  assert.equal(loop.backend.kind, 'inproc');
  assert.ok(loop.backend.kind === 'inproc' && loop.backend.run === worker);
  assert.deepEqual(loop.backend, { kind: 'inproc', run: worker, heartbeatTimeoutMs: 2_000 });
  assert.equal(loop.probes[0]!.everyMs, 200);
  assert.equal(t.file, undefined);
  assert.equal(t.store.path, join(process.cwd(), 'var/edgevisor.db'));
  assert.ok(Object.isFrozen(loop.backend));
  assert.ok(!Object.isFrozen(worker));
  // The function still works after loading: run it for a moment and stop it.
  const ac = new AbortController();
  let beats = 0;
  const done = loop.backend.kind === 'inproc' ? loop.backend.run!({ signal: ac.signal, heartbeat: () => { beats++; }, id: 'loop', setState: () => {} }) : undefined;
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await done;
  assert.ok(beats > 0);
});

test('relative paths resolve against opts.file; messages name the file without lines', () => {
  const t = parseTreeObject({ name: 'app', store: { path: 'ev.db' }, children: [] }, { file: '/srv/app/tree.ts' });
  assert.equal(t.store.path, '/srv/app/ev.db');
  assert.equal(t.file, '/srv/app/tree.ts');
  assert.deepEqual(details(() => parseTreeObject({ name: 'app', children: [{ id: 'x', inproc: {} }] }, { file: '/srv/app/tree.ts' })), [
    'tree.ts children[0].inproc: expected exactly one of module or run, got none',
  ]);
});

test('without a file, messages are the path and the problem', () => {
  assert.deepEqual(details(() => parseTreeObject({
    name: 'app',
    children: [
      { id: 'a', inproc: { run: worker, module: './a.ts' } },
      { id: 'b', inproc: { run: 'not a function' } },
      { id: 'a', process: { command: ['x'] }, probes: [{ http: { url: 'http://x/' }, every: 'soon' }] },
    ],
  })), [
    'children[0].inproc.run: expected exactly one of module or run, got both',
    'children[1].inproc.run: expected an async function, got "not a function"',
    'children[2].probes[0].every: expected a duration like "500ms" or "2s", got "soon"',
    'children[2].id: duplicate id "a" (also at children[0].id); ids must be unique across the whole tree',
  ]);
  assert.deepEqual(details(() => parseTreeObject(undefined)), ['expected a mapping, got nothing (the document is empty)']);
});

test('a tree file cannot use run: YAML has no functions', () => {
  assert.deepEqual(details(() => parseTree('name: app\nchildren:\n  - id: w\n    inproc: { run: worker }\n', 'tree.yaml')), [
    'tree.yaml:4 children[0].inproc.module: required field is missing (expected a string)',
    'tree.yaml:4 children[0].inproc.run: unknown field "run"; accepted: module, export, heartbeat_timeout',
  ]);
});
