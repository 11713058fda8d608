// Issue 16, points 5 and 11: every number and duration of the tree file has a stated, enforced
// range; values past what the runtime can hold (Node's 2^31-1 ms timers) are refused with the
// field, the line and the accepted range. Cyclic aliases are refused with their line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DURATION_MS, formatDuration, parseDuration } from '../../supervisor/src/spec/duration.ts';
import { parseTree } from '../../supervisor/src/spec/load.ts';
import { RANGES } from '../../supervisor/src/spec/schema.ts';
import { specErrors } from '../helpers/spec.ts';

const tree = (child: string, top = '') => `version: 1\nname: t\n${top}children:\n  - id: a\n${child}`;
const proc = '    process: { command: [node] }\n';

test('durations past the timer limit or with 400 digits are refused by parseDuration', () => {
  assert.equal(parseDuration(MAX_DURATION_MS), MAX_DURATION_MS);
  for (const bad of ['1000h', `${'9'.repeat(400)}ms`, MAX_DURATION_MS + 1, 1e400]) assert.throws(() => parseDuration(bad as string), /expected a duration/);
});

test('each range is enforced at both ends, and the message states it', () => {
  const at = (field: string, v: string | number) => {
    switch (field) {
      case 'every': case 'timeout': case 'startup_grace': case 'failures':
        return tree(`${proc}    probes:\n      - { tcp: "127.0.0.1:1", ${field}: ${v} }\n`);
      case 'shutdown': return tree(`${proc}    shutdown: ${v}\n`);
      case 'heartbeat_timeout': return tree(`    inproc: { module: ./w.js, heartbeat_timeout: ${v} }\n`);
      case 'intensity': case 'period': return tree(proc, `${field}: ${v}\n`);
      case 'backoff_initial': case 'backoff_max': case 'backoff_reset_after': {
        const k = field.slice('backoff_'.length);
        // initial <= max must hold at the accepted ends: pair each with a compatible other end.
        const other = k === 'initial' ? 'max: 24h' : k === 'max' ? 'initial: 1ms' : 'initial: 1ms';
        return tree(proc, `backoff: { ${k}: ${v}, ${other} }\n`);
      }
      case 'window': case 'min_rate':
        return tree(`${proc}    probes:\n      - throughput: { url: "http://127.0.0.1:1/m", metric: m, min_rate: ${field === 'min_rate' ? v : 1}, window: ${field === 'window' ? v : '1s'} }\n`);
      case 'max_age': return tree(`${proc}    probes:\n      - staleness: { url: "http://127.0.0.1:1/m", metric: m, max_age: ${v} }\n`);
      case 'log_lines': return tree(`    process: { command: [node], log_lines: ${v} }\n`);
      case 'retain_events': return tree(proc, `store: { retain_events: ${v} }\n`);
      case 'docker_timeout': return tree(proc, `docker: { timeout: ${v} }\n`);
      case 'inner_tree_every': return tree(`${proc}    inner_tree: { url: "http://127.0.0.1:1", every: ${v}, timeout: 10ms }\n`);
      case 'inner_tree_timeout': return tree(`${proc}    inner_tree: { url: "http://127.0.0.1:1", every: 1h, timeout: ${v} }\n`);
      case 'max_children': return tree(`    strategy: simple_one_for_one\n    max_children: ${v}\n    template: { process: { command: [node] } }\n`);
      case 'max_old_generation_mb': case 'max_young_generation_mb': case 'code_range_mb': case 'stack_mb':
        return tree(`    thread: { module: ./w.js, resource_limits: { ${field}: ${v} } }\n`);
      case 'watchdog': return tree(`${proc}    watchdog: ${v}\n`);
      case 'notify_start_timeout': return tree(`${proc}    notify: { ready: true, start_timeout: ${v} }\n`);
      case 'start_timeout': return tree(`${proc}    start_timeout: ${v}\n`);
    }
    throw new Error(`no template for ${field}`);
  };
  const isDuration = (f: string) => !['failures', 'intensity', 'min_rate', 'log_lines', 'retain_events', 'max_children'].includes(f) && !f.endsWith('_mb');
  for (const [field, [min, max]] of Object.entries(RANGES)) {
    const show = (n: number) => (isDuration(field) ? `"${formatDuration(n)}"` : String(n));
    for (const ok of [min, max]) assert.doesNotThrow(() => parseTree(at(field, show(ok)), '/t/tree.yaml'), `${field}: ${show(ok)} must be accepted`);
    const above = isDuration(field) ? `"${formatDuration(max + 1)}"` : String(max + 1);
    const errs = specErrors(() => parseTree(at(field, above), '/t/tree.yaml'));
    const range = isDuration(field) ? `${formatDuration(min)} to ${formatDuration(max)}` : `${min} to ${max}`;
    assert.ok(errs.some((e) => /^tree\.yaml:\d+ \S+: expected /.test(e) && e.includes(range)), `${field} = ${above}: ${errs.join(' | ')}`);
    if (min > 0) assert.ok(specErrors(() => parseTree(at(field, isDuration(field) ? '"0"' : String(min - 1)), '/t/tree.yaml')).length > 0, `${field} below ${min}`);
  }
});

test('the issue cases: every 1000h, shutdown 1000h, a 400-digit number, a huge log_lines', () => {
  const errs = specErrors(() =>
    parseTree(tree(`    shutdown: 1000h\n    process: { command: [node], log_lines: 100000000000 }\n    probes:\n      - { tcp: "127.0.0.1:1", every: 1000h, failures: ${'9'.repeat(400)} }\n`, `intensity: ${'9'.repeat(400)}\n`), '/t/tree.yaml'),
  );
  assert.deepEqual(errs, [
    'tree.yaml:3 intensity: expected an integer from 0 to 10000, got Infinity',
    'tree.yaml:6 children[0].shutdown: expected "brutal_kill" or a duration from 0 to 10m, got "1000h"',
    'tree.yaml:7 children[0].process.log_lines: expected an integer from 1 to 100000, got 100000000000',
    'tree.yaml:9 children[0].probes[0].every: expected a duration from 10ms to 1h, got "1000h"',
    'tree.yaml:9 children[0].probes[0].failures: expected an integer from 1 to 1000, got Infinity',
  ]);
});

test('a cyclic alias in children is refused with its line, no stack overflow', () => {
  const errs = specErrors(() => parseTree(`version: 1\nname: c\nchildren:\n  - &a\n    id: a\n    children:\n      - *a\n`, '/t/tree.yaml'));
  assert.deepEqual(errs, ['tree.yaml:7: invalid YAML: this alias refers to a node that contains it (a cycle); write the value out instead']);
});

test('start_timeout: a worker and a template take it (default 60 s), a nested supervisor refuses it with its line', () => {
  const worker = (spec: ReturnType<typeof parseTree>, i = 0) => spec.root.children[i] as { startTimeoutMs?: number; template?: { startTimeoutMs?: number } };
  assert.equal(worker(parseTree(tree(`${proc}    start_timeout: 2s\n`), '/t/tree.yaml')).startTimeoutMs, 2000);
  assert.equal(worker(parseTree(tree(proc), '/t/tree.yaml')).startTimeoutMs, 60_000);
  const tpl = parseTree(tree(`    strategy: simple_one_for_one\n    template: { start_timeout: 5s, process: { command: [node] } }\n`), '/t/tree.yaml');
  assert.equal(worker(tpl).template?.startTimeoutMs, 5000);
  const errs = specErrors(() => parseTree(tree(`    start_timeout: 2s\n    children:\n      - id: b\n${proc.replace('    ', '        ')}`), '/t/tree.yaml'));
  assert.deepEqual(errs, ['tree.yaml:5 children[0].start_timeout: a nested supervisor takes no start_timeout; put it on its workers']);
});
