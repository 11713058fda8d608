// Erlang/OTP supervisor_SUITE cases about shutdown and kill, ported with real process children
// (the in-process ones are in test/unit/otp-supervisor-suite.test.ts; docs/otp-suite.md lists all).
// A child's exit is read from the tree's own `exit` events: what the supervisor saw.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTree, defaultBackends, parseTreeObject, type Tree, type TreeEvent } from 'edgevisor';
import { waitFor } from '../helpers/net.ts';

/** A node child that prints `up-and-ready` (spelled in pieces: the child's log also holds its command line) once its SIGTERM handling is in place. */
const TERM_EXITS = "process.on('SIGTERM',()=>process.exit(0));console.log('up'+'-and-'+'ready');setInterval(()=>{},1000)";
const TERM_IGNORED = "process.on('SIGTERM',()=>console.log('ignoring SIGTERM'));console.log('up'+'-and-'+'ready');setInterval(()=>{},1000)";
const NO_HANDLER = "console.log('up'+'-and-'+'ready');setInterval(()=>{},1000)";

interface Started {
  tree: Tree;
  events: TreeEvent[];
  exits(id: string): TreeEvent[];
  pid(id: string): number;
}

async function startTree(obj: Record<string, unknown>): Promise<Started> {
  const spec = parseTreeObject({ version: 1, backoff: { initial: '1ms', max: '5ms', reset_after: '60s' }, ...obj });
  const tree = createTree(spec, { backends: defaultBackends(), onInternalError: (e) => assert.fail(`internal error: ${String(e)}`) });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  await tree.start();
  const ids = spec.root.children.map((c) => c.id);
  for (const id of ids) await waitFor(`${id} ready`, () => tree.logs(id).some((l) => l.includes('up-and-ready')));
  return {
    tree,
    events,
    exits: (id) => events.filter((e) => e.type === 'exit' && e.child === id),
    pid: (id) => {
      const pid = tree.child(id)?.info?.pid;
      assert.equal(typeof pid, 'number', `${id} has a pid`);
      return pid as number;
    },
  };
}
const proc = (script: string) => ({ command: [process.execPath, '-e', script] });

test('otp:sup_stop_timeout: at shutdown a child past its grace is killed; one that exits in time is not', async (t) => {
  const s = await startTree({ name: 'sup_test', children: [{ id: 'child1', shutdown: '1s', process: proc(TERM_EXITS) }, { id: 'child2', shutdown: '1s', process: proc(TERM_IGNORED) }] });
  t.after(() => s.tree.stop());
  const t0 = Date.now();
  await s.tree.stop();
  const took = Date.now() - t0;
  assert.equal(s.exits('child1').at(-1)?.data?.['code'], 0, 'child1 exits on its own (OTP: shutdown)');
  assert.equal(s.exits('child2').at(-1)?.data?.['signal'], 'SIGKILL', 'child2 is killed (OTP: killed)');
  assert.ok(took >= 900, `child2 got its 1 s grace first (stop took ${took}ms)`);
  assert.ok(s.tree.logs('child2').some((l) => l.includes('ignoring SIGTERM')), 'child2 was asked first');
});

test('otp:sup_stop_brutal_kill: a brutal_kill child is killed at once, even one that would exit on SIGTERM', async (t) => {
  const s = await startTree({ name: 'sup_test', children: [{ id: 'child1', shutdown: '1s', process: proc(TERM_EXITS) }, { id: 'child2', shutdown: 'brutal_kill', process: proc(TERM_EXITS) }] });
  t.after(() => s.tree.stop());
  await s.tree.stop();
  assert.equal(s.exits('child1').at(-1)?.data?.['code'], 0);
  assert.equal(s.exits('child2').at(-1)?.data?.['signal'], 'SIGKILL');
});

test('otp:permanent_shutdown: a permanent child terminated from outside (SIGTERM) is restarted', async (t) => {
  const s = await startTree({ name: 'sup_test', children: [{ id: 'child1', restart: 'permanent', process: proc(NO_HANDLER) }] });
  t.after(() => s.tree.stop());
  const first = s.pid('child1');
  process.kill(first, 'SIGTERM');
  await waitFor('child1 restarted', () => s.tree.child('child1')?.state === 'running' && s.tree.child('child1')?.info?.pid !== first);
  assert.equal(s.exits('child1')[0]?.data?.['signal'], 'SIGTERM');
});

test('otp:temporary_shutdown: a temporary child terminated from outside (SIGTERM) is not restarted', async (t) => {
  const s = await startTree({ name: 'sup_test', children: [{ id: 'child1', restart: 'temporary', process: proc(NO_HANDLER) }] });
  t.after(() => s.tree.stop());
  process.kill(s.pid('child1'), 'SIGTERM');
  await waitFor('child1 down', () => ['stopped', 'failed'].includes(s.tree.child('child1')?.state ?? ''));
  assert.equal(s.events.filter((e) => e.type === 'restart').length, 0);
});

test('otp:transient_shutdown: a transient child that exits with code 0 on SIGTERM is not restarted (differs: death by the signal itself counts as abnormal)', async (t) => {
  // OTP's `shutdown` exit reason is a normal end for a transient child. The process analogue is a
  // child that handles SIGTERM and exits 0; a child killed by the signal (no handler) is an
  // abnormal exit to edgevisor (systemd's Restart=on-failure counts SIGTERM as clean): see docs/otp-suite.md.
  const s = await startTree({
    name: 'sup_test',
    children: [
      { id: 'child1', restart: 'transient', process: proc(TERM_EXITS) },
      { id: 'child2', restart: 'transient', process: proc(NO_HANDLER) },
    ],
  });
  t.after(() => s.tree.stop());
  process.kill(s.pid('child1'), 'SIGTERM');
  await waitFor('child1 down', () => ['stopped', 'failed'].includes(s.tree.child('child1')?.state ?? ''));
  assert.equal(s.events.filter((e) => e.type === 'restart' && e.child === 'child1').length, 0);
  const second = s.pid('child2');
  process.kill(second, 'SIGTERM');
  await waitFor('child2 restarted', () => s.tree.child('child2')?.state === 'running' && s.tree.child('child2')?.info?.pid !== second);
});

test('otp:sup_start_restart_child_returns_error: a manual start that fails (differs: not an error to the caller; retried with backoff until it works)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-otp-'));
  const script = join(dir, 'child1.sh');
  writeFileSync(script, `#!/bin/sh\necho up-and-ready\nexec sleep 600\n`);
  chmodSync(script, 0o755);
  const s = await startTree({ name: 'sup_test', backoff: { initial: '200ms', max: '200ms', reset_after: '60s' }, children: [{ id: 'child1', shutdown: '1s', process: { command: [script] } }] });
  t.after(async () => {
    await s.tree.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const tech = { role: 'technician', via: 'test' } as const;
  s.tree.stopChild('child1', tech);
  await waitFor('child1 stopped', () => s.tree.child('child1')?.state === 'stopped');
  renameSync(script, `${script}.gone`); // its start function now fails (OTP: supervisor_1 with error)
  assert.doesNotThrow(() => s.tree.startChild('child1', tech)); // OTP: {error, ...} to the caller
  await waitFor('a failed start', () => s.events.some((e) => e.type === 'restart' && e.child === 'child1' && e.data?.['cause'] === 'start_failed'));
  assert.notEqual(s.tree.child('child1')?.state, 'running');
  renameSync(`${script}.gone`, script);
  await waitFor('child1 running again without another manual action', () => s.tree.child('child1')?.state === 'running');
});
