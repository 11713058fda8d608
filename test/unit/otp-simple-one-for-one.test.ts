// OTP supervisor_SUITE's simple_one_for_one and dynamic-child cases (docs/otp-suite.md), ported
// through the public API with in-process workers (test/helpers/otp-lab.ts). OTP's `start_child`
// on a simple_one_for_one supervisor is `tree.addChild(sup, overrides)`; its `terminate_child`
// (which deletes a dynamic child) is `tree.removeChild`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codes, parseTreeObject, specFromTemplate, TREE_DEFAULTS, type InprocWorker, type WorkerTemplate } from 'edgevisor';
import { Lab } from '../helpers/otp-lab.ts';

const tech = { role: 'technician', via: 'test' } as const;
/** A template worker: each child is the Lab worker of its own id. */
const template = (lab: Lab, opts: Parameters<Lab['worker']>[1] = {}): InprocWorker => (ctx) => lab.worker(ctx.id, opts)(ctx);
const sofo = (lab: Lab, extra: Record<string, unknown> = {}, opts: Parameters<Lab['worker']>[1] = {}) => ({
  id: 'sup',
  strategy: 'simple_one_for_one',
  ...extra,
  template: { shutdown: '1s', inproc: { run: template(lab, opts) } },
});

test('otp:child_adm_simple: start_child from the template, terminate_child deletes it, unknown ids and static children refused', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', children: [sofo(lab)] });
  assert.deepEqual(tree.child('sup')?.children, [], 'no children at start');
  const id = tree.addChild('sup', {}, tech).id;
  await lab.untilRun(id, 1);
  assert.deepEqual(tree.child('sup')?.children, [id]);
  assert.throws(() => tree.removeChild('hej', tech), { code: codes.UNKNOWN_CHILD });
  assert.throws(() => tree.removeChild('sup', tech), { code: codes.STATE_CONFLICT }, 'the supervisor itself is from the tree file');
  tree.removeChild(id, tech);
  await lab.until(`${id} deleted`, () => tree.child(id) === undefined);
  assert.equal(lab.run(id).stopped, true);
  assert.deepEqual(tree.child('sup')?.children, []);
});

test('otp:simple_one_for_one: a dying child is restarted alone from the template', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', intensity: 10, children: [sofo(lab, { intensity: 10 })] });
  const [a, b] = [tree.addChild('sup', {}, tech).id, tree.addChild('sup', {}, tech).id];
  await lab.untilRun(b, 1);
  lab.run(a).die();
  await lab.untilRun(a, 2);
  assert.equal(lab.count(b), 1, 'its sibling is not restarted');
  assert.deepEqual(lab.of('restart', a)[0]?.data?.['affected'], [a]);
});

test('otp:simple_one_for_one_shutdown: the children are stopped all at once, in no order', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', children: [sofo(lab, {}, { ignoreStop: true })] });
  const ids = [1, 2, 3].map(() => tree.addChild('sup', {}, tech).id);
  await lab.until('all running', () => ids.every((id) => lab.state(id) === 'running'));
  tree.stopChild('sup', tech);
  // Each ignores its stop for its whole 1 s grace: stopped one by one, the first would be down
  // before the last is asked. All three asked while none is down yet means all at once.
  await lab.until('every child asked to stop', () => ids.every((id) => lab.run(id).stopped));
  assert.deepEqual(ids.map((id) => lab.state(id)), ['stopping', 'stopping', 'stopping']);
  await lab.untilState('sup', 'stopped');
});

test('otp:simple_one_for_one_extra: start_child with extra arguments (env merged, args appended to the template)', () => {
  const tpl: WorkerTemplate = {
    type: 'worker',
    restart: 'permanent',
    shutdown: { kind: 'grace', graceMs: 5000 },
    hungShutdown: { kind: 'brutal_kill' },
    backend: { kind: 'process', command: ['node', 'cam.js'], env: { MODE: 'rtsp', LEVEL: 'info' }, logLines: 100 },
    probes: [],
  };
  const spec = specFromTemplate(tpl, { env: { CAMERA: 'dock', LEVEL: 'debug' }, args: ['--fps', '5'] }, 'dock');
  assert.equal(spec.id, 'dock');
  assert.deepEqual(spec.backend, { kind: 'process', command: ['node', 'cam.js', '--fps', '5'], env: { MODE: 'rtsp', LEVEL: 'debug', CAMERA: 'dock' }, logLines: 100 });
  assert.deepEqual(tpl.backend.kind === 'process' && tpl.backend.env, { MODE: 'rtsp', LEVEL: 'info' }, 'the template is unchanged');
});

test('otp:simple_one_for_one_escalation: children dying past the intensity take their supervisor down; its parent restarts it with them', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', intensity: 10, children: [sofo(lab, { intensity: 1, period: '10s' })] });
  const [a, b] = [tree.addChild('sup', { id: 'a' }, tech).id, tree.addChild('sup', { id: 'b' }, tech).id];
  await lab.untilRun(b, 1);
  lab.run(a).die();
  await lab.untilRun(a, 2);
  lab.run(b).die(); // the second restart within 10 s, intensity 1
  await lab.until('sup escalated and back', () => lab.of('escalation', 'sup').length === 1 && lab.state('sup') === 'running' && lab.state('a') === 'running' && lab.state('b') === 'running');
  assert.equal(lab.of('restart', 'sup')[0]?.data?.['cause'], 'escalation');
  assert.deepEqual([lab.count('a'), lab.count('b')], [3, 2], 'differs: the children come back with their supervisor (OTP drops them)');
});

test('otp:count_children: a simple_one_for_one supervisor\'s children, counted from the snapshot', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', children: [sofo(lab)] });
  for (let i = 0; i < 5; i++) tree.addChild('sup', {}, tech);
  await lab.until('5 running', () => tree.snapshot().nodes.filter((n) => n.parent === 'sup' && n.state === 'running').length === 5);
  assert.equal(tree.child('sup')?.children?.length, 5);
  tree.removeChild('sup-3', tech);
  await lab.until('4 left', () => tree.child('sup')?.children?.length === 4);
});

test('otp:do_not_save_child_specs_for_temporary_children: differs: a temporary child that died stays listed (failed) until deleted', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', children: [{ ...sofo(lab), template: { restart: 'temporary', inproc: { run: template(lab) } } }] });
  const id = tree.addChild('sup', {}, tech).id;
  await lab.untilRun(id, 1);
  lab.run(id).die();
  await lab.untilState(id, 'failed');
  assert.equal(lab.count(id), 1, 'never restarted');
  tree.removeChild(id, tech);
  await lab.until('deleted', () => tree.child(id) === undefined);
});

test('otp:sup_start_child_returns_error_simple: differs: a child whose first start fails is retried with backoff, not refused to the caller', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', children: [sofo(lab, { intensity: 10 }, { failsAtStart: (n) => n === 1 })] });
  const id = tree.addChild('sup', {}, tech).id; // answers at once; the start runs afterwards
  await lab.untilRun(id, 2);
  assert.deepEqual(lab.log.filter((l) => l.endsWith(id)), [`start ${id}`, `fail ${id}`, `start ${id}`]);
});

test('otp:hanging_restart_loop_simple: a template child failing at every start can be deleted, and the tree stops promptly', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', intensity: 1000, children: [sofo(lab, { intensity: 1000 }, { failsAtStart: () => true })] });
  const id = tree.addChild('sup', {}, tech).id;
  await lab.until('looping', () => lab.count(id) >= 3);
  tree.removeChild(id, tech);
  await lab.until('deleted', () => tree.child(id) === undefined);
  const n = lab.count(id);
  const other = tree.addChild('sup', {}, tech).id;
  await lab.until('the other loops too', () => lab.count(other) >= 2);
  await tree.stop();
  assert.equal(tree.snapshot().state, 'stopped');
  assert.equal(lab.count(id), n, 'a deleted child is never started again');
});

test('otp:sup_start_map_simple: a simple_one_for_one supervisor from a minimal spec gets the defaults, starts empty and takes children from its template', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  // OTP: #{strategy => simple_one_for_one} and a child spec map with only id and start.
  const spec = parseTreeObject({ version: 1, name: 'sup_test', children: [{ id: 'sup', strategy: 'simple_one_for_one', template: { inproc: { run: template(lab) } } }] });
  const sup = spec.root.children[0]!;
  assert.ok(sup.type === 'supervisor' && sup.template);
  assert.deepEqual([sup.template.restart, sup.template.shutdown, sup.template.type], ['permanent', { kind: 'grace', graceMs: TREE_DEFAULTS.workerShutdownMs }, 'worker']);
  assert.deepEqual([sup.intensity, sup.periodMs, sup.maxChildren ?? 1000], [TREE_DEFAULTS.intensity, TREE_DEFAULTS.periodMs, 1000], "differs: edgevisor's default intensity/period, not OTP's 1 in 5 s");
  const tree = await lab.start({ name: 'sup_test', children: [{ id: 'sup', strategy: 'simple_one_for_one', template: { inproc: { run: template(lab) } } }] });
  assert.deepEqual(tree.child('sup')?.children, []);
  const ids = [1, 2, 3].map(() => tree.addChild('sup', {}, tech).id);
  await lab.until('3 running', () => ids.every((id) => lab.state(id) === 'running'));
  assert.deepEqual(tree.child('sup')?.children, ids, 'in the order they were added');
  assert.deepEqual(ids.map((id) => tree.child(id)?.type), ['worker', 'worker', 'worker']);
});

test('otp:count_children_supervisor: supervisors added at run time are counted as supervisors, their workers apart', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  // A template is a worker here (no supervisor templates): OTP's supervisor children are dynamic
  // supervisors added to a static one.
  const tree = await lab.start({ name: 'sup_test', children: [{ id: 'sup', children: [] }] });
  for (const i of [1, 2, 3]) tree.addChild('sup', { id: `s${i}`, children: [{ id: `w${i}`, inproc: { run: lab.worker(`w${i}`) } }] }, tech, { allowRun: true });
  const count = () => {
    const under = tree.snapshot().nodes.filter((n) => n.parent === 'sup');
    return { specs: under.length, active: under.filter((n) => n.state === 'running').length, supervisors: under.filter((n) => n.type === 'supervisor').length, workers: under.filter((n) => n.type === 'worker').length };
  };
  await lab.until('3 supervisors running', () => count().active === 3 && [1, 2, 3].every((i) => lab.state(`w${i}`) === 'running'));
  assert.deepEqual(count(), { specs: 3, active: 3, supervisors: 3, workers: 0 });
  tree.removeChild('s2', tech);
  await lab.until('s2 deleted', () => tree.child('s2') === undefined);
  assert.deepEqual(count(), { specs: 2, active: 2, supervisors: 2, workers: 0 });
  assert.equal(tree.child('w2'), undefined, 'its worker went with it');
});

test('otp:count_restarting_children: a child whose restart fails is still counted, not as active; once it starts again it is', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  // Its second run fails at start; with a 30 s backoff it then waits, listed, in backoff.
  const tree = await lab.start({ name: 'sup_test', children: [sofo(lab, { intensity: 10, backoff: { initial: '30s', max: '30s', reset_after: '60s' } }, { failsAtStart: (n) => n === 2 })] });
  const ids = [1, 2, 3].map(() => tree.addChild('sup', {}, tech).id);
  await lab.until('3 running', () => ids.every((id) => lab.state(id) === 'running'));
  const count = () => {
    const under = tree.snapshot().nodes.filter((n) => n.parent === 'sup');
    return { specs: under.length, active: under.filter((n) => n.state === 'running').length };
  };
  const [a] = ids as [string];
  lab.run(a).die();
  await lab.until(`${a} restarting: its restart failed, the next one is 30 s away`, () => lab.count(a) === 2 && lab.state(a) === 'backoff');
  assert.deepEqual(count(), { specs: 3, active: 2 });
  tree.startChild(a, tech); // OTP's restart_child: run 3 starts
  await lab.untilRun(a, 3);
  assert.deepEqual(count(), { specs: 3, active: 3 });
});

test('otp:sup_start_child_returns_error: differs: a child added under a static supervisor whose start fails is retried with backoff, not refused to the caller', async (t) => {
  const lab = new Lab();
  t.after(() => lab.close());
  const tree = await lab.start({ name: 'sup_test', intensity: 10, children: [{ id: 'sup', intensity: 10, children: [] }] });
  const snap = tree.addChild('sup', { id: 'child1', inproc: { run: lab.worker('child1', { failsAtStart: (n) => n === 1 }) } }, tech, { allowRun: true });
  assert.equal(snap.id, 'child1', 'answered at once, with the child');
  await lab.untilRun('child1', 2);
  assert.deepEqual(lab.log, ['start child1', 'fail child1', 'start child1']);
  assert.equal(lab.of('restart', 'child1')[0]?.data?.['cause'], 'exit');
  // What OTP answers {error, ...} for and edgevisor refuses: what is wrong with the spec or the tree.
  assert.throws(() => tree.addChild('sup', { id: 'child1', inproc: { run: lab.worker('x') } }, tech, { allowRun: true }), { code: codes.CHILD_EXISTS });
  assert.throws(() => tree.addChild('sup', { id: 'child2' }, tech, { allowRun: true }), { code: codes.SPEC_INVALID });
});
