// Issue 15, items 3, 4, 7 in the tree file: `thread:`, `custom:`, `notify:` / `watchdog:`, with
// defaults, resolved module paths, and clear errors (file, line, field, what is accepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTree, parseTreeObject } from '../../supervisor/src/spec/load.ts';
import type { WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { specErrors } from '../helpers/spec.ts';

const one = (yaml: string) => parseTree(`version: 1\nname: t\nchildren:\n  - id: a\n${yaml}`, '/srv/box/tree.yaml').root.children[0] as WorkerSpec;
const errs = (yaml: string) => specErrors(() => parseTree(`version: 1\nname: t\nchildren:\n  - id: a\n${yaml}`, '/srv/box/tree.yaml'));

test('thread: module resolved against the tree file, export default, limits in camelCase, heartbeat', () => {
  const w = one('    thread: { module: ./workers/cam.ts, heartbeat_timeout: 2s, resource_limits: { max_old_generation_mb: 64, stack_mb: 2 } }\n');
  assert.deepEqual(w.backend, {
    kind: 'thread',
    module: '/srv/box/workers/cam.ts',
    export: 'default',
    resourceLimits: { maxOldGenerationSizeMb: 64, stackSizeMb: 2 },
    heartbeatTimeoutMs: 2000,
  });
  assert.deepEqual(one('    thread: { module: some-package, export: run }\n').backend, { kind: 'thread', module: 'some-package', export: 'run', resourceLimits: {}, heartbeatTimeoutMs: 0 });
});

test('thread: errors name the field, the line and what is accepted', () => {
  assert.deepEqual(errs('    thread: { export: run, resource_limits: { max_old: 64, stack_mb: 0 } }\n'), [
    'tree.yaml:5 children[0].thread.module: required field is missing (expected a string)',
    'tree.yaml:5 children[0].thread.resource_limits.stack_mb: expected an integer from 1 to 1024, got 0',
    'tree.yaml:5 children[0].thread.resource_limits.max_old: unknown field "max_old"; accepted: max_old_generation_mb, max_young_generation_mb, code_range_mb, stack_mb',
  ]);
});

test('custom: the registered name and its options, passed as written', () => {
  const w = one('    custom: { kind: ssh, options: { host: cam1, port: 22 } }\n');
  assert.deepEqual(w.backend, { kind: 'custom', name: 'ssh', options: { host: 'cam1', port: 22 } });
  assert.deepEqual(one('    custom: { kind: ssh }\n').backend, { kind: 'custom', name: 'ssh', options: {} });
  const e = errs('    custom: { kind: "SSH!", options: [1] }\n');
  assert.ok(e.some((m) => m.startsWith('tree.yaml:5 children[0].custom.kind: expected a backend name matching [a-z0-9][a-z0-9_-]*')), e.join(' | '));
  assert.ok(e.some((m) => m.startsWith('tree.yaml:5 children[0].custom.options: expected a mapping of options')), e.join(' | '));
  assert.ok(errs('    custom: { kind: ssh }\n    process: { command: [x] }\n').some((m) => m.includes('expected exactly one of process, inproc, thread, docker, custom (a worker), children (a nested supervisor) or template')));
});

test('watchdog: 500ms is notify { watchdog: 500ms }; notify has ready and start_timeout with defaults', () => {
  assert.deepEqual(one('    watchdog: 500ms\n    process: { command: [x] }\n').notify, { ready: false, watchdogMs: 500, startTimeoutMs: 60_000, access: 'all' });
  assert.deepEqual(one('    notify: { ready: true, watchdog: 2s, start_timeout: 10s }\n    process: { command: [x] }\n').notify, { ready: true, watchdogMs: 2000, startTimeoutMs: 10_000, access: 'all' });
  assert.deepEqual(one('    notify: { ready: true }\n    process: { command: [x] }\n').notify, { ready: true, watchdogMs: 0, startTimeoutMs: 60_000, access: 'all' });
  assert.equal(one('    process: { command: [x] }\n').notify, undefined);
});

test('notify/watchdog: only on process and docker children, not both, ranges and types', () => {
  assert.deepEqual(errs('    watchdog: 500ms\n    inproc: { module: ./w.js }\n'), ['tree.yaml:5 children[0].watchdog: "watchdog" (sd_notify) applies to a process or docker child only; this child is a inproc worker']);
  assert.deepEqual(errs('    notify: { ready: true }\n    children: []\n'), ['tree.yaml:5 children[0].notify: "notify" (sd_notify) applies to a process or docker child only; this child is a nested supervisor']);
  assert.deepEqual(errs('    watchdog: 1s\n    notify: { watchdog: 2s }\n    process: { command: [x] }\n'), ['tree.yaml:5 children[0].watchdog: expected either watchdog or notify.watchdog, got both']);
  assert.deepEqual(one('    watchdog: 1s\n    notify: { ready: true }\n    process: { command: [x] }\n').notify, { ready: true, watchdogMs: 1000, startTimeoutMs: 60_000, access: 'all' });
  assert.deepEqual(errs('    watchdog: 5ms\n    notify: { ready: "yes" }\n    process: { command: [x] }\n'), [
    'tree.yaml:5 children[0].watchdog: expected a duration from 20ms to 1h, got "5ms"',
    'tree.yaml:6 children[0].notify.ready: expected true or false, got "yes"',
  ]);
});

test('notify.access: main or all (default all); main is refused on a docker child, with the reason', () => {
  assert.equal(one('    notify: { watchdog: 1s, access: main }\n    process: { command: [x] }\n').notify?.access, 'main');
  assert.equal(one('    notify: { access: all }\n    process: { command: [x] }\n').notify?.access, 'all');
  assert.deepEqual(errs('    notify: { access: exec }\n    process: { command: [x] }\n'), [
    'tree.yaml:5 children[0].notify.access: expected main (only the main process) or all (any process of the child), got "exec"',
  ]);
  assert.deepEqual(
    specErrors(() => parseTree('version: 1\nname: t\ndocker: { notify_dir: ./n }\nchildren:\n  - id: web\n    docker: { service: web }\n    notify: { watchdog: 5s, access: main }\n', '/srv/box/tree.yaml')),
    ["tree.yaml:7 children[0].notify.access: access main applies to process children only: a container's senders cannot be told apart by pid (a supervisor in a container sees them all as pid 0); use all (the default)"],
  );
});

test('a docker child takes a watchdog when the tree names docker.notify_dir; without it the error says what to add', () => {
  const spec = parseTree('version: 1\nname: t\ndocker: { notify_dir: ./run/notify }\nchildren:\n  - id: web\n    docker: { service: web }\n    watchdog: 5s\n', '/srv/box/tree.yaml');
  assert.equal(spec.docker?.notifyDir, '/srv/box/run/notify', 'resolved against the tree file');
  assert.deepEqual((spec.root.children[0] as WorkerSpec).notify, { ready: false, watchdogMs: 5000, startTimeoutMs: 60_000, access: 'all' });
  assert.deepEqual(
    specErrors(() => parseTree('version: 1\nname: t\nchildren:\n  - id: p\n    children:\n      - id: web\n        docker: { service: web }\n        watchdog: 5s\n', '/srv/box/tree.yaml')),
    ["tree.yaml:8 children[0].children[0].watchdog: a docker child's sd_notify needs docker.notify_dir in the tree file: the directory holding one folder per service, each mounted into its container (see compose.yaml)"],
  );
});

test('trees built in code take the same keys', () => {
  const spec = parseTreeObject({ name: 'c', children: [{ id: 'w', thread: { module: '/abs/w.mjs' } }, { id: 'p', watchdog: '1s', process: { command: ['x'] } }] });
  const [w, p] = spec.root.children as WorkerSpec[];
  assert.equal(w!.backend.kind, 'thread');
  assert.equal(p!.notify?.watchdogMs, 1000);
});
