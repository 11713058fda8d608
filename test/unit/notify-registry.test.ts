// sd_notify's message format (notify/protocol.ts) and the backend registry (backends/registry.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notifyEnv, parseNotify, STATUS_MAX } from '../../supervisor/src/notify/protocol.ts';
import { backendKey, createProcessUnit, defaultBackends, registerBackend } from '../../supervisor/src/backends/index.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import { codes } from '../../supervisor/src/errors.ts';
import type { WorkerSpec } from '../../supervisor/src/spec/types.ts';

test('parseNotify reads what sd_notify(3) senders write, ignores what it does not act on', () => {
  assert.deepEqual(parseNotify('READY=1\nSTATUS=serving 3 cameras\nMAINPID=4242'), { ready: true, status: 'serving 3 cameras', mainPid: 4242 });
  assert.deepEqual(parseNotify('WATCHDOG=1'), { watchdog: 'ping' });
  assert.deepEqual(parseNotify('WATCHDOG=trigger'), { watchdog: 'trigger' });
  assert.deepEqual(parseNotify('WATCHDOG_USEC=500001'), { watchdogMs: 501 });
  assert.deepEqual(parseNotify('EXTEND_TIMEOUT_USEC=30000000'), { extendTimeoutMs: 30_000 });
  assert.deepEqual(parseNotify('EXTEND_TIMEOUT_USEC=0\nEXTEND_TIMEOUT_USEC=-1\nEXTEND_TIMEOUT_USEC=2s'), {});
  assert.deepEqual(parseNotify('STOPPING=1\nRELOADING=1\nERRNO=2\nFDSTORE=1\nBARRIER=1'), { stopping: true, reloading: true });
  // Malformed values are ignored, never half-read.
  assert.deepEqual(parseNotify('READY=0\nWATCHDOG=2\nWATCHDOG_USEC=-5\nWATCHDOG_USEC=1e9\nMAINPID=abc\n=x\nnoequals'), {});
  assert.equal(parseNotify(`STATUS=${'x'.repeat(5000)}`).status!.length, STATUS_MAX);
  assert.deepEqual(notifyEnv('/run/x.sock', 500), { NOTIFY_SOCKET: '/run/x.sock', WATCHDOG_USEC: '500000' });
  assert.deepEqual(notifyEnv('/run/x.sock', 0), { NOTIFY_SOCKET: '/run/x.sock' });
});

test('registerBackend: a custom child runs the registered factory; bad names and duplicates are refused', async () => {
  const made: string[] = [];
  const reg = registerBackend(defaultBackends(), 'shell', (w, ctx) => {
    made.push(w.id);
    return createProcessUnit({ ...w, backend: { kind: 'process', command: ['true'], env: {}, logLines: 10 } }, ctx);
  });
  const spec = parseTreeObject({ name: 'r', children: [{ id: 'a', custom: { kind: 'shell', options: { x: 1 } } }] });
  assert.equal(backendKey((spec.root.children[0] as WorkerSpec).backend), 'shell');
  const tree = createTree(spec, { backends: reg });
  assert.deepEqual(made, ['a']);
  assert.equal(tree.child('a')?.backend, 'custom');
  for (const [name, re] of [['process', /is a built-in backend/], ['Bad Name', /expected a name matching/], ['shell', /already registered/]] as const) {
    assert.throws(() => registerBackend(reg, name, () => { throw new Error('unused'); }), (err: { code?: string; message: string }) => err.code === codes.BAD_REQUEST && re.test(err.message));
  }
  // A tree naming a backend nobody registered fails at build, saying how to fix it.
  const orphan = parseTreeObject({ name: 'o', children: [{ id: 'b', custom: { kind: 'ssh' } }] });
  assert.throws(() => createTree(orphan, { backends: defaultBackends() }), /child b: no ssh backend is available in this supervisor \(register it with registerBackend before building the tree\)/);
});
