// The tree loader on real files: the example, defaults, inheritance, paths, freezing.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTreeFile, parseTree, TREE_DEFAULTS } from '../../supervisor/src/spec/load.ts';
import type { SupervisorSpec, WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures/trees');
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'edgevisor-spec-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function writeTree(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('the issue example', () => {
  test('loads with the values written and the defaults filled in', () => {
    const file = join(fixtures, 'example.yaml');
    const t = loadTreeFile(file);
    assert.equal(t.version, 1);
    assert.equal(t.name, 'plant-box');
    assert.equal(t.file, file);
    assert.deepEqual(t.api, { host: '127.0.0.1', port: 7070 });
    assert.deepEqual(t.store, { path: join(fixtures, 'var/edgevisor.db'), retainEvents: 100_000 });
    assert.deepEqual(t.docker, { timeoutMs: 10_000, onExit: 'leave' });

    const root = t.root;
    assert.equal(root.id, 'plant-box');
    assert.equal(root.type, 'supervisor');
    assert.equal(root.strategy, 'one_for_one');
    assert.equal(root.intensity, 5);
    assert.equal(root.periodMs, 30_000);
    assert.deepEqual(root.backoff, { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 });
    assert.deepEqual(root.children.map((c) => c.id), ['web', 'pipeline']);

    const web = root.children[0] as WorkerSpec;
    assert.equal(web.type, 'worker');
    assert.equal(web.restart, 'permanent');
    assert.deepEqual(web.shutdown, { kind: 'grace', graceMs: 5_000 });
    assert.deepEqual(web.backend, { kind: 'process', command: ['node', 'test/fixtures/http-child.js'], env: { PORT: '18080' }, logLines: 1000 });
    assert.deepEqual(web.probes, [{
      name: 'live',
      check: { kind: 'http', url: 'http://127.0.0.1:18080/healthz' },
      everyMs: 1_000, timeoutMs: 500, failures: 3, startupGraceMs: 5_000,
    }]);

    const pipeline = root.children[1] as SupervisorSpec;
    assert.equal(pipeline.type, 'supervisor');
    assert.equal(pipeline.strategy, 'rest_for_one');
    assert.equal(pipeline.intensity, 3);
    assert.equal(pipeline.periodMs, 10_000);
    assert.deepEqual(pipeline.shutdown, { kind: 'grace', graceMs: 30_000 });
    assert.deepEqual(pipeline.backoff, root.backoff);
    const [camera, inference] = pipeline.children as WorkerSpec[];
    assert.deepEqual(camera!.probes[0], {
      name: 'frames',
      check: { kind: 'throughput', url: 'http://127.0.0.1:18081/metrics', metric: 'frames_total', minRate: 5, windowMs: 3_000 },
      everyMs: 1_000, timeoutMs: 1_000, failures: 3, startupGraceMs: 0,
    });
    assert.deepEqual(inference!.probes[0], {
      name: 'fresh',
      check: { kind: 'staleness', url: 'http://127.0.0.1:18082/metrics', metric: 'last_frame_timestamp_seconds', maxAgeMs: 2_000 },
      everyMs: 500, timeoutMs: 1_000, failures: 3, startupGraceMs: 0,
    });
  });

  test('is deep-frozen', () => {
    const t = loadTreeFile(join(fixtures, 'example.yaml'));
    const web = t.root.children[0] as WorkerSpec;
    assert.ok(Object.isFrozen(t) && Object.isFrozen(t.root.children) && Object.isFrozen(web.probes[0]!.check));
    assert.throws(() => { (web.backend as unknown as { command: string[] }).command.push('x'); }, TypeError);
    assert.throws(() => { (t.api as { port: number }).port = 1; }, TypeError);
  });

  test('bad.yaml gives exactly the messages its header documents', () => {
    const file = join(fixtures, 'bad.yaml');
    const want = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('# expect: ')).map((l) => l.slice('# expect: '.length));
    assert.ok(want.length >= 5);
    assert.throws(() => loadTreeFile(file), (e: EdgevisorError) => {
      assert.ok(e instanceof EdgevisorError);
      assert.equal(e.code, codes.SPEC_INVALID);
      assert.deepEqual(e.details, want);
      assert.match(e.message, /^invalid bad\.yaml \(7 problems\):/);
      return true;
    });
  });
});

describe('defaults', () => {
  test('a minimal tree gets every documented default', () => {
    const t = parseTree('name: box\nchildren:\n  - id: w\n    process: { command: [sleep, "60"] }\n    probes:\n      - tcp: 127.0.0.1:9\n', join(dir, 'min.yaml'));
    assert.equal(t.version, 1);
    assert.deepEqual(t.api, { host: '127.0.0.1', port: 7070 });
    assert.deepEqual(t.store, { path: join(dir, 'var/edgevisor.db'), retainEvents: 100_000 });
    assert.equal(t.root.strategy, 'one_for_one');
    assert.equal(t.root.intensity, 3);
    assert.equal(t.root.periodMs, 30_000);
    assert.deepEqual(t.root.backoff, { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 });
    const w = t.root.children[0] as WorkerSpec;
    assert.equal(w.restart, 'permanent');
    assert.deepEqual(w.shutdown, { kind: 'grace', graceMs: 5_000 });
    assert.deepEqual(w.backend, { kind: 'process', command: ['sleep', '60'], env: {}, logLines: 1_000 });
    assert.deepEqual(w.probes, [{ name: 'tcp', check: { kind: 'tcp', host: '127.0.0.1', port: 9 }, everyMs: 1_000, timeoutMs: 1_000, failures: 3, startupGraceMs: 0 }]);
    assert.equal(TREE_DEFAULTS.probe.failures, 3);
  });

  test('a nested supervisor inherits backoff field by field, not strategy or intensity', () => {
    const t = parseTree([
      'name: box',
      'strategy: one_for_all',
      'intensity: 9',
      'backoff: { initial: 1s, max: 1m }',
      'children:',
      '  - id: group',
      '    backoff: { reset_after: 5m }',
      '    children:',
      '      - { id: w, docker: { service: cam } }',
    ].join('\n'), join(dir, 'inherit.yaml'));
    const group = t.root.children[0] as SupervisorSpec;
    assert.deepEqual(t.root.backoff, { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 60_000 });
    assert.deepEqual(group.backoff, { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 300_000 });
    assert.equal(group.strategy, 'one_for_one');
    assert.equal(group.intensity, 3);
    assert.deepEqual(group.shutdown, { kind: 'grace', graceMs: 30_000 });
    assert.deepEqual((group.children[0] as WorkerSpec).backend, { kind: 'docker', service: 'cam' });
  });
});

describe('fields', () => {
  test('relative cwd, store.path, inproc.module and docker.socket resolve against the tree file', () => {
    const file = writeTree('paths.yaml', [
      'name: box',
      'store: { path: data/ev.db, retain_events: 50 }',
      'docker: { project: plant, socket: ./docker.sock, timeout: 3s, on_exit: stop }',
      'api: { listen: "0.0.0.0:0" }',
      'children:',
      '  - id: p',
      '    process: { command: [./run.sh], cwd: sub, log_lines: 10 }',
      '  - id: q',
      '    inproc: { module: ./workers/q.ts, export: worker, heartbeat_timeout: 2s }',
      '  - id: r',
      '    inproc: { module: some-package }',
      '    shutdown: brutal_kill',
      '    restart: temporary',
    ].join('\n'));
    const t = loadTreeFile(file);
    assert.deepEqual(t.store, { path: join(dir, 'data/ev.db'), retainEvents: 50 });
    assert.deepEqual(t.docker, { project: 'plant', socketPath: join(dir, 'docker.sock'), timeoutMs: 3_000, onExit: 'stop' });
    assert.deepEqual(t.api, { host: '0.0.0.0', port: 0 });
    const [p, q, r] = t.root.children as WorkerSpec[];
    assert.deepEqual(p!.backend, { kind: 'process', command: ['./run.sh'], env: {}, cwd: join(dir, 'sub'), logLines: 10 });
    assert.deepEqual(q!.backend, { kind: 'inproc', module: join(dir, 'workers/q.ts'), export: 'worker', heartbeatTimeoutMs: 2_000 });
    assert.deepEqual(r!.backend, { kind: 'inproc', module: 'some-package', export: 'default', heartbeatTimeoutMs: 0 });
    assert.deepEqual(r!.shutdown, { kind: 'brutal_kill' });
    assert.equal(r!.restart, 'temporary');
  });

  test('every probe kind, with status as a number or a list', () => {
    const t = parseTree([
      'name: box',
      'children:',
      '  - id: d',
      '    docker: { service: web_1 }',
      '    probes:',
      '      - { name: a, http: { url: "https://x.test/h", status: 204, body: ok, headers: { X-K: v } } }',
      '      - { name: b, http: { url: "http://x.test/", status: [200, 301] } }',
      '      - { name: c, tcp: { host: localhost, port: 80 } }',
      '      - { name: d, exec: { command: [pg_isready, -q] }, failures: 1 }',
      '      - { name: e, throughput: { url: "http://x.test/m", metric: "f_total", labels: { cam: "1" }, min_rate: 0.5, window: 1m } }',
      '      - { name: f, staleness: { url: "http://x.test/m", metric: ts, labels: { a: b }, max_age: 1.5s }, startup_grace: 10s }',
      '      - { name: g1, throughput: { url: "http://x.test/m", metric: f_total, min_rate: 1, window: 10s, absent: pass } }',
      '      - { name: g2, staleness: { url: "http://x.test/m", metric: ts, max_age: 5s, absent: fail } }',
      '      - docker_health:',
      '      - { name: h, docker_health: {} , every: 250ms, timeout: 2s }',
    ].join('\n'), 'kinds.yaml');
    const probes = (t.root.children[0] as WorkerSpec).probes;
    assert.deepEqual(probes.map((p) => p.check), [
      { kind: 'http', url: 'https://x.test/h', status: [204], bodyContains: 'ok', headers: { 'X-K': 'v' } },
      { kind: 'http', url: 'http://x.test/', status: [200, 301] },
      { kind: 'tcp', host: 'localhost', port: 80 },
      { kind: 'exec', command: ['pg_isready', '-q'] },
      { kind: 'throughput', url: 'http://x.test/m', metric: 'f_total', labels: { cam: '1' }, minRate: 0.5, windowMs: 60_000 },
      { kind: 'staleness', url: 'http://x.test/m', metric: 'ts', labels: { a: 'b' }, maxAgeMs: 1_500 },
      { kind: 'throughput', url: 'http://x.test/m', metric: 'f_total', minRate: 1, windowMs: 10_000, passIfAbsent: true },
      { kind: 'staleness', url: 'http://x.test/m', metric: 'ts', maxAgeMs: 5_000 },
      { kind: 'docker_health' },
      { kind: 'docker_health' },
    ]);
    assert.deepEqual(probes.map((p) => p.name), ['a', 'b', 'c', 'd', 'e', 'f', 'g1', 'g2', 'docker_health', 'h']);
    assert.equal(probes[3]!.failures, 1);
    assert.equal(probes[5]!.startupGraceMs, 10_000);
    assert.deepEqual([probes[9]!.everyMs, probes[9]!.timeoutMs], [250, 2_000]);
  });

  test('env numbers and booleans become strings, as compose does', () => {
    const t = parseTree('name: box\nchildren:\n  - id: w\n    process: { command: [x], env: { PORT: 8080, DEBUG: true, NAME: cam } }\n', 'env.yaml');
    const b = (t.root.children[0] as WorkerSpec).backend;
    assert.deepEqual(b.kind === 'process' && b.env, { PORT: '8080', DEBUG: 'true', NAME: 'cam' });
  });
});
