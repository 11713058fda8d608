// A simple_one_for_one supervisor's `template` takes every worker backend (process, inproc,
// thread, docker, custom) in the tree file and from code, with the checks of a worker child; a
// child made from it takes the overrides its backend has (spec/load.ts TEMPLATE_OVERRIDES) and
// a refused one names the field, the template's backend and what it takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTree, parseTreeObject, specFromTemplate } from '../../supervisor/src/spec/load.ts';
import type { SupervisorSpec, WorkerTemplate } from '../../supervisor/src/spec/types.ts';
import { hasDockerChildren } from '../../supervisor/src/backends/docker/index.ts';
import { specErrors } from '../helpers/spec.ts';

const SOFO = 'version: 1\nname: t\nchildren:\n  - id: cams\n    strategy: simple_one_for_one\n';
const tpl = (yaml: string) => (parseTree(`${SOFO}${yaml}`, '/srv/box/tree.yaml').root.children[0] as SupervisorSpec).template!;
const errs = (yaml: string) => specErrors(() => parseTree(`${SOFO}${yaml}`, '/srv/box/tree.yaml'));

test('a thread template: module resolved against the tree file, heartbeat, limits, env and args', () => {
  const t = tpl('    template:\n      shutdown: 1s\n      thread: { module: ./cam.ts, export: run, heartbeat_timeout: 500ms, resource_limits: { max_old_generation_mb: 32 }, env: { MODE: rtsp, FPS: 5 }, args: [--fast] }\n');
  assert.deepEqual(t.backend, {
    kind: 'thread',
    module: '/srv/box/cam.ts',
    export: 'run',
    resourceLimits: { maxOldGenerationSizeMb: 32 },
    heartbeatTimeoutMs: 500,
    env: { MODE: 'rtsp', FPS: '5' },
    args: ['--fast'],
  });
  assert.deepEqual(t.shutdown, { kind: 'grace', graceMs: 1000 });
  assert.deepEqual(t.hungShutdown, { kind: 'brutal_kill' });
});

test('a custom template: the registered name and its options; a process template with sd_notify', () => {
  assert.deepEqual(tpl('    template: { custom: { kind: ssh, options: { port: 22 } } }\n').backend, { kind: 'custom', name: 'ssh', options: { port: 22 } });
  assert.deepEqual(tpl('    template: { watchdog: 1s, process: { command: [node, cam.js] } }\n').notify, { ready: false, watchdogMs: 1000, startTimeoutMs: 60_000, access: 'all' });
});

test('template errors name the line and the field, and say what is accepted', () => {
  assert.deepEqual(errs('    template: { thread: { module: ./w.mjs }, custom: { kind: ssh } }\n'), [
    'tree.yaml:6 children[0].template.custom: expected exactly one of process, inproc, thread, docker or custom (a template is a worker, without id), got thread and custom',
  ]);
  assert.deepEqual(errs('    template: { restart: permanent }\n'), [
    'tree.yaml:6 children[0].template: expected exactly one of process, inproc, thread, docker or custom (a template is a worker, without id), got none',
  ]);
  assert.deepEqual(errs('    template:\n      thread: { heartbeat_timeout: 2h, resource_limits: { stack_mb: 0 }, args: [1] }\n'), [
    'tree.yaml:7 children[0].template.thread.module: required field is missing (expected a string)',
    'tree.yaml:7 children[0].template.thread.args[0]: expected a string, got 1',
    'tree.yaml:7 children[0].template.thread.heartbeat_timeout: expected a duration from 0 to 1h, got "2h"',
    'tree.yaml:7 children[0].template.thread.resource_limits.stack_mb: expected an integer from 1 to 1024, got 0',
  ]);
  assert.deepEqual(errs('    template:\n      custom: { kind: "SSH!", options: [1] }\n').map((m) => m.split(':').slice(0, 2).join(':')), [
    'tree.yaml:7 children[0].template.custom.kind',
    'tree.yaml:7 children[0].template.custom.options',
  ]);
  assert.deepEqual(errs('    template:\n      watchdog: 1s\n      thread: { module: ./w.mjs }\n      probes: [{ docker_health: {} }, { name: docker_health, tcp: { host: 127.0.0.1, port: 1 } }]\n'), [
    'tree.yaml:7 children[0].template.watchdog: "watchdog" (sd_notify) applies to a process or docker child only; this child is a thread worker',
    'tree.yaml:9 children[0].template.probes[0].docker_health: docker_health only applies to a docker child',
    'tree.yaml:9 children[0].template.probes[1].name: duplicate probe name "docker_health" (also probes[0]); give each probe of a child a distinct name',
  ]);
  assert.deepEqual(errs('    template: { id: x, thread: { module: ./w.mjs } }\n'), [
    'tree.yaml:6 children[0].template.id: unknown field "id"; accepted: restart, shutdown, hung_shutdown, start_timeout, process, inproc, thread, docker, custom, notify, watchdog, probes',
  ]);
});

test('a docker template makes one child (its service is one container), and the tree gets a docker backend for it', () => {
  const yaml = '    template: { docker: { service: cam } }\n';
  const spec = parseTree(`${SOFO}${yaml}`, '/srv/box/tree.yaml');
  assert.equal((spec.root.children[0] as SupervisorSpec).maxChildren, 1);
  assert.equal(hasDockerChildren(spec), true, 'a docker backend is made for a docker template');
  assert.equal(hasDockerChildren(parseTree(`${SOFO}    template: { thread: { module: ./w.mjs } }\n`, '/srv/box/tree.yaml')), false);
  assert.deepEqual(errs(`    max_children: 2\n${yaml}`), [
    'tree.yaml:6 children[0].max_children: expected 1 (the default) for a docker template: its children would all be the one container of its compose service, got 2; declare one service per child instead',
  ]);
});

test('trees built in code take thread and custom templates too', () => {
  const spec = parseTreeObject({ name: 'c', children: [
    { id: 'a', strategy: 'simple_one_for_one', template: { thread: { module: '/abs/w.mjs', heartbeat_timeout: '1s' } } },
    { id: 'b', strategy: 'simple_one_for_one', template: { custom: { kind: 'shell', options: { script: 'true' } } } },
  ] });
  const [a, b] = spec.root.children as SupervisorSpec[];
  assert.equal(a!.template?.backend.kind, 'thread');
  assert.deepEqual(b!.template?.backend, { kind: 'custom', name: 'shell', options: { script: 'true' } });
});

const base = { type: 'worker', restart: 'permanent', shutdown: { kind: 'grace', graceMs: 1000 }, hungShutdown: { kind: 'brutal_kill' }, probes: [] } as const;
const thread: WorkerTemplate = { ...base, backend: { kind: 'thread', module: '/abs/w.mjs', export: 'default', resourceLimits: { stackSizeMb: 2 }, heartbeatTimeoutMs: 300, env: { MODE: 'rtsp', LEVEL: 'info' }, args: ['--a'] } };
const custom: WorkerTemplate = { ...base, backend: { kind: 'custom', name: 'shell', options: { script: 'true', dir: '/tmp' } } };

test('overrides: thread env merged and args appended, custom options merged; the template unchanged', () => {
  const t = specFromTemplate(thread, { env: { LEVEL: 'debug', CAMERA: 'dock' }, args: ['--b'] }, 'dock');
  assert.equal(t.id, 'dock');
  assert.deepEqual(t.backend, { kind: 'thread', module: '/abs/w.mjs', export: 'default', resourceLimits: { stackSizeMb: 2 }, heartbeatTimeoutMs: 300, env: { MODE: 'rtsp', LEVEL: 'debug', CAMERA: 'dock' }, args: ['--a', '--b'] });
  assert.equal(specFromTemplate(thread, {}, 'bare').backend, thread.backend, 'no overrides: the template\'s backend as it is');
  const c = specFromTemplate(custom, { options: { script: 'echo hi', extra: 1 } }, 'c1');
  assert.deepEqual(c.backend, { kind: 'custom', name: 'shell', options: { script: 'echo hi', dir: '/tmp', extra: 1 } });
  assert.deepEqual(custom.backend.kind === 'custom' && custom.backend.options, { script: 'true', dir: '/tmp' });
  assert.ok(Object.isFrozen(c.backend) && Object.isFrozen(t.backend));
});

test('overrides a template does not take are refused, naming the field and what it takes', () => {
  assert.deepEqual(specErrors(() => specFromTemplate(custom, { env: { X: '1' }, args: ['a'] }, 'c1')), [
    'env: only a process or thread template takes env; this template is custom, whose children take id, options (its factory gets only options: put env in them if the backend takes it)',
    'args: only a process or thread template takes args; this template is custom, whose children take id, options (its factory gets only options: put env in them if the backend takes it)',
  ]);
  assert.deepEqual(specErrors(() => specFromTemplate(thread, { options: { a: 1 } }, 't1')), [
    'options: only a custom template takes options; this template is thread, whose children take id, env, args',
  ]);
  assert.deepEqual(specErrors(() => specFromTemplate(custom, { options: [1] as never }, 'c1')), ['options: expected a mapping of options for the backend']);
  assert.deepEqual(specErrors(() => specFromTemplate(thread, { env: { 'A-B': '1', C: 2 as never }, args: 'x' as never }, 't1')), [
    'env.A-B: expected an environment variable name like "CAMERA_ID"',
    'env.C: expected a string, got number',
    'args: expected a list of strings',
  ]);
});
