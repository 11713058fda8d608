// Dynamic children on fake time (test/helpers/fake-clock.ts) with real in-process workers:
// tree.addChild / removeChild under a static supervisor, and simple_one_for_one (children made
// from a template at run time, restarted alone, intensity shared, stopped in no order).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { onFakeTime, createWorkers, explain, tech } from './runtime-harness.ts';
import type { InprocWorker } from '../../supervisor/src/spec/types.ts';

const fake = onFakeTime();
const tree = (obj: Record<string, unknown>, start?: boolean) => fake.tree(obj, start);
const code = (c: string) => (e: Error & { code?: string }) => e.code === c;
const details = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    return [...((err as { details?: string[] }).details ?? [])];
  }
  throw new Error('expected a throw');
};

describe('addChild / removeChild under a static supervisor', () => {
  test('an added child starts at the end of the order, is supervised like the others, and is deleted after a stop', async () => {
    const w = createWorkers(fake.clock);
    const h = await tree({ name: 'box', strategy: 'rest_for_one', intensity: 10, children: [w.child('a')] });
    const snap = h.tree.addChild('box', w.child('late'), tech, { allowRun: true });
    assert.equal(snap.dynamic, true);
    await fake.clock.until('late running', () => h.state('late') === 'running');
    assert.deepEqual(h.tree.child('box')?.children, ['a', 'late']);
    const add = h.events.find((e) => e.type === 'manual' && e.data?.['action'] === 'add');
    assert.deepEqual(add?.data, { action: 'add', role: 'technician', via: 'test', added: 'late', parent: 'box' });
    // rest_for_one: a failure of a takes the added child down with it; it comes back after a.
    w.crash('a');
    await explain(h, () => fake.clock.until('both back', () => w.runs.a === 2 && w.runs.late === 2 && h.state('late') === 'running'));
    assert.ok(h.seqOf('a', 'running', h.seqOf('a', 'backoff')) < h.seqOf('late', 'running', h.seqOf('late', 'backoff')), 'started in order');

    h.tree.removeChild('late', tech);
    await fake.clock.until('late gone', () => h.tree.child('late') === undefined);
    assert.deepEqual(h.path('late').slice(-2), ['stopping', 'stopped']);
    assert.deepEqual(h.tree.child('box')?.children, ['a']);
    assert.equal(h.events.filter((e) => e.type === 'manual' && e.data?.['action'] === 'delete').length, 1);
    // Its id is free again.
    h.tree.addChild('box', w.child('late'), tech, { allowRun: true });
    await fake.clock.until('late again', () => h.state('late') === 'running' && w.runs.late === 3);
  });

  test('a supervisor being deleted: its children are being deleted with it, and it takes no new child', async () => {
    const w = createWorkers(fake.clock);
    const slow = { id: 'g1', shutdown: '1s', inproc: { run: ({ signal }: { signal: AbortSignal }) => new Promise<void>((r) => signal.addEventListener('abort', () => fake.clock.setTimeout(r, 300))) } };
    const h = await tree({ name: 'box', children: [w.child('a')] });
    h.tree.addChild('box', { id: 'grp', children: [slow] }, tech, { allowRun: true });
    await fake.clock.until('g1 running', () => h.state('g1') === 'running');
    h.tree.removeChild('grp', tech);
    assert.throws(() => h.tree.removeChild('g1', tech), /g1 is being deleted/);
    assert.throws(() => h.tree.addChild('grp', w.child('g2'), tech, { allowRun: true }), /grp is being deleted: it cannot be given children/);
    await fake.clock.until('grp and g1 gone', () => h.tree.child('grp') === undefined && h.tree.child('g1') === undefined);
    h.tree.addChild('box', { ...slow, id: 'g1' }, tech, { allowRun: true });
    await fake.clock.until('g1 back, directly under box', () => h.state('g1') === 'running' && h.tree.child('g1')?.parent === 'box');
  });

  test('refusals: unknown parent, a worker as parent, a taken id, a static child, a bad spec with the field named', async () => {
    const w = createWorkers(fake.clock);
    const h = await tree({ name: 'box', children: [w.child('a'), { id: 'group', children: [w.child('x')] }] });
    assert.throws(() => h.tree.addChild('nope', w.child('n'), tech, { allowRun: true }), code('EDGEVISOR_ERR_UNKNOWN_CHILD'));
    assert.throws(() => h.tree.addChild('a', w.child('n'), tech, { allowRun: true }), /a is running: it is a worker/);
    assert.throws(() => h.tree.addChild('group', w.child('x'), tech, { allowRun: true }), code('EDGEVISOR_ERR_CHILD_EXISTS'));
    assert.throws(() => h.tree.addChild('group', { id: 'g2', children: [w.child('a')] }, tech, { allowRun: true }), /already has a child "a"/);
    assert.throws(() => h.tree.removeChild('x', tech), /declared in the tree file/);
    assert.deepEqual(details(() => h.tree.addChild('box', { id: 'n', process: { command: 'node' }, probes: [{ tcp: 'x:1', every: 'fast' }] }, tech)), [
      'child.process.command: expected a command as a list like [node, server.js], got "node"',
      'child.probes[0].every: expected a duration like "500ms" or "2s", got "fast"',
    ]);
    assert.deepEqual(details(() => h.tree.addChild('box', { id: 'n', inproc: { run: () => undefined } }, tech)), [
      'child.inproc.module: required field is missing (expected a string)',
      'child.inproc.run: unknown field "run"; accepted: module, export, heartbeat_timeout',
    ], 'no functions from outside the code');
    assert.equal(h.events.filter((e) => e.type === 'manual').length, 0, 'refused changes leave no trace');
  });
});

describe('simple_one_for_one', () => {
  /** A template worker that is one of `w`'s workers, told apart by its id. */
  const fromTemplate = (w: ReturnType<typeof createWorkers>): InprocWorker => (ctx) => w.make(ctx.id)(ctx);

  test('children made from the template at run time, default ids, restarted alone', async () => {
    const w = createWorkers(fake.clock);
    const h = await tree({
      name: 'box',
      intensity: 10,
      children: [w.child('static'), { id: 'cams', strategy: 'simple_one_for_one', intensity: 10, template: { shutdown: '1s', inproc: { run: fromTemplate(w), heartbeat_timeout: '200ms' } } }],
    });
    assert.equal(h.state('cams'), 'running', 'an empty simple_one_for_one supervisor is up');
    const ids = [h.tree.addChild('cams', {}, tech).id, h.tree.addChild('cams', {}, tech).id, h.tree.addChild('cams', { id: 'dock' }, tech).id];
    assert.deepEqual(ids, ['cams-1', 'cams-2', 'dock']);
    await fake.clock.until('all three running', () => ids.every((id) => h.state(id) === 'running'));
    w.crash('cams-2');
    await fake.clock.until('cams-2 back', () => w.runs['cams-2'] === 2 && h.state('cams-2') === 'running');
    assert.deepEqual([w.runs['cams-1'], w.runs.dock, w.runs.static], [1, 1, 1], 'its siblings are not touched');
    assert.deepEqual(h.restartEvents('cams-2')[0]?.data?.['affected'], ['cams-2']);
    // A stalled one is found by its heartbeat, as the template says.
    w.stall('dock');
    await fake.clock.until('dock restarted after its heartbeat stopped', () => w.runs.dock === 2 && h.state('dock') === 'running');
    assert.equal(h.restartEvents('dock')[0]?.data?.['cause'], 'heartbeat');
  });

  test('intensity is shared: children crashing in turn escalate their supervisor, which its parent restarts with them', async () => {
    const w = createWorkers(fake.clock);
    const h = await tree({ name: 'box', intensity: 10, children: [{ id: 'cams', strategy: 'simple_one_for_one', intensity: 2, period: '10s', template: { inproc: { run: fromTemplate(w) } } }] });
    for (const id of ['c1', 'c2', 'c3']) h.tree.addChild('cams', { id }, tech);
    await fake.clock.until('running', () => ['c1', 'c2', 'c3'].every((id) => h.state(id) === 'running'));
    for (const id of ['c1', 'c2']) {
      w.crash(id);
      await fake.clock.until(`${id} back`, () => w.runs[id] === 2 && h.state(id) === 'running');
    }
    w.crash('c3'); // the third restart within 10 s, intensity 2: cams gives up
    await explain(h, () => fake.clock.until('cams escalated and restarted by box', () => h.events.some((e) => e.type === 'escalation' && e.child === 'cams') && h.state('cams') === 'running' && h.state('c3') === 'running'));
    assert.deepEqual(h.restartEvents('cams')[0]?.data?.['cause'], 'escalation');
    assert.ok(['c1', 'c2', 'c3'].every((id) => h.state(id) === 'running'), 'the added children come back with their supervisor');
  });

  test('children are stopped all at once, in no order: three 1 s graces take 1 s, not 3 s', async () => {
    const w = createWorkers(fake.clock);
    // Ignores the abort for its whole grace, as a stuck worker would.
    const deaf: InprocWorker = ({ signal }) => new Promise<void>((r) => signal.addEventListener('abort', () => fake.clock.setTimeout(r, 5_000)));
    const h = await tree({ name: 'box', children: [w.child('a'), { id: 'cams', strategy: 'simple_one_for_one', template: { shutdown: '1s', inproc: { run: deaf } } }] });
    for (let i = 0; i < 3; i++) h.tree.addChild('cams', {}, tech);
    await fake.clock.until('running', () => h.state('cams-3') === 'running');
    const t0 = fake.clock.now();
    h.tree.stopChild('cams', tech);
    await fake.clock.until('cams stopped', () => h.state('cams') === 'stopped');
    assert.equal(fake.clock.now() - t0, 1_000);
  });

  test('a child being deleted: a second delete is refused, it leaves room under max_children, its id is free once it is gone', async () => {
    // Each run takes 300 ms to end after its stop: the delete has a window in which the child is still in the tree.
    const slow: InprocWorker = ({ signal }) => new Promise<void>((r) => signal.addEventListener('abort', () => fake.clock.setTimeout(r, 300)));
    const h = await tree({ name: 'box', children: [{ id: 'cams', strategy: 'simple_one_for_one', max_children: 2, template: { shutdown: '1s', inproc: { run: slow } } }] });
    h.tree.addChild('cams', { id: 'a' }, tech);
    h.tree.addChild('cams', { id: 'b' }, tech);
    await fake.clock.until('a and b running', () => h.state('a') === 'running' && h.state('b') === 'running');
    h.tree.removeChild('a', tech);
    for (let i = 0; i < 2; i++) assert.throws(() => h.tree.removeChild('a', tech), (e: Error & { code?: string }) => e.code === 'EDGEVISOR_ERR_STATE_CONFLICT' && /a is being deleted/.test(e.message));
    await fake.clock.until('a stopping', () => h.state('a') === 'stopping');
    assert.throws(() => h.tree.removeChild('a', tech), /a is being deleted/, 'refused while its stop runs too');
    assert.throws(() => h.tree.startChild('a', tech), /a is being deleted: it cannot be started/);
    assert.throws(() => h.tree.restartChild('a', tech), /a is being deleted: it cannot be restarted/);
    // On its way out it no longer counts: max_children 2 takes c now.
    h.tree.addChild('cams', { id: 'c' }, tech);
    assert.throws(() => h.tree.addChild('cams', { id: 'd' }, tech), /cams is running: it has 2 children, its max_children/);
    // Its id is not free until it is gone: a conflict saying why, not "already has a child".
    assert.throws(() => h.tree.addChild('cams', { id: 'a' }, tech), (e: Error & { code?: string }) => e.code === 'EDGEVISOR_ERR_STATE_CONFLICT' && /a is being deleted: add it again once it is gone/.test(e.message));
    await fake.clock.until('a gone', () => h.tree.child('a') === undefined);
    assert.equal(h.events.filter((e) => e.type === 'manual' && e.data?.['action'] === 'delete').length, 1, 'one delete accepted, one recorded');
    assert.deepEqual(h.path('a').slice(-2), ['stopping', 'stopped'], 'stopped once');
    h.tree.removeChild('c', tech);
    await fake.clock.until('c gone', () => h.tree.child('c') === undefined);
    h.tree.addChild('cams', { id: 'a' }, tech);
    await fake.clock.until('a back', () => h.state('a') === 'running');
    assert.deepEqual(h.tree.child('cams')?.children, ['b', 'a']);
  });

  test('max_children, overrides the template does not take, unknown fields', async () => {
    const w = createWorkers(fake.clock);
    const h = await tree({ name: 'box', children: [{ id: 'cams', strategy: 'simple_one_for_one', max_children: 1, template: { inproc: { run: fromTemplate(w) } } }] });
    h.tree.addChild('cams', { id: 'one' }, tech);
    assert.throws(() => h.tree.addChild('cams', { id: 'two' }, tech), /cams is running: it has 1 children, its max_children/);
    h.tree.removeChild('one', tech);
    await fake.clock.until('one gone', () => h.tree.child('one') === undefined);
    assert.deepEqual(details(() => h.tree.addChild('cams', { id: 'Bad Id', env: { X: '1' } }, tech)), [
      'id: expected an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-"), got "Bad Id"',
      "env: only a process or thread template takes env; this template is inproc, whose children take id (an inproc worker shares the supervisor's process and tells its children apart by ctx.id)",
    ]);
    assert.deepEqual(details(() => h.tree.addChild('cams', { id: 'x', inproc: {} }, tech)), ['inproc: unknown field; cams is simple_one_for_one: a child is its inproc template plus id']);
  });
});
