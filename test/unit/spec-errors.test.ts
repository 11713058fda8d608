// Every kind of tree-file mistake gives one exact message: file:line, field path, accepted, given.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTreeFile, parseTree } from '../../supervisor/src/spec/load.ts';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';

/** The detail messages `parseTree` throws for `lines` (as tree.yaml); fails if it loads. */
function problems(lines: string[]): readonly string[] {
  try {
    parseTree(lines.join('\n') + '\n', '/somewhere/tree.yaml');
  } catch (err) {
    assert.ok(err instanceof EdgevisorError, String(err));
    assert.equal(err.code, codes.SPEC_INVALID);
    return err.details;
  }
  assert.fail('expected the tree to be rejected');
}

const HEAD = ['version: 1', 'name: box', 'children:'];

describe('tree file errors', () => {
  test('the issue example message, on a real file, at line 14', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgevisor-spec-'));
    try {
      const file = join(dir, 'tree.yaml');
      writeFileSync(file, [
        ...HEAD,                                      // 1-3
        '  - id: web',                                // 4
        '    process: { command: [node, web.js] }',   // 5
        '  - id: cam',                                // 6
        '    process:',                               // 7
        '      command: [node, cam.js]',              // 8
        '    probes:',                                // 9
        '      - name: live',                         // 10
        '        http:',                              // 11
        '          url: http://127.0.0.1:1/healthz',  // 12
        '        timeout: 500ms',                     // 13
        '        every: fast',                        // 14
      ].join('\n'));
      assert.throws(() => loadTreeFile(file), (e: EdgevisorError) => {
        assert.deepEqual(e.details, ['tree.yaml:14 children[1].probes[0].every: expected a duration like "500ms" or "2s", got "fast"']);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a missing file is one clear message', () => {
    assert.throws(() => loadTreeFile('/nonexistent/tree.yaml'), (e: EdgevisorError) => {
      assert.equal(e.code, codes.SPEC_INVALID);
      assert.deepEqual(e.details, ['tree.yaml: cannot read /nonexistent/tree.yaml: ENOENT']);
      return true;
    });
  });

  test('YAML syntax errors carry their line', () => {
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [node, web.js }']),
      [
        'tree.yaml:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
        'tree.yaml:5: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
      ]);
    assert.deepEqual(problems(['name: a', 'name: b']), ['tree.yaml:2: invalid YAML: Map keys must be unique']);
  });

  test('unknown keys name the accepted ones, at the key line', () => {
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [x] }', '    probes:', '      - http: { url: "http://a/" }', '        evry: 1s']), [
      'tree.yaml:8 children[0].probes[0].evry: unknown field "evry"; accepted: name, http, tcp, exec, throughput, staleness, docker_health, every, timeout, failures, startup_grace',
    ]);
    assert.deepEqual(problems(['name: box', 'childern: []', 'children: []']), [
      'tree.yaml:2 childern: unknown field "childern"; accepted: version, name, strategy, intensity, period, backoff, api, store, docker, on_give_up, children',
    ]);
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [x], comand: [y] }']), [
      'tree.yaml:5 children[0].process.comand: unknown field "comand"; accepted: command, env, pass_env, cwd, log_lines',
    ]);
  });

  test('a child needs exactly one backend', () => {
    const one = 'expected exactly one of process, inproc, thread, docker, custom (a worker), children (a nested supervisor) or template (a simple_one_for_one supervisor)';
    assert.deepEqual(problems([...HEAD, '  - id: web', '    restart: transient']), [`tree.yaml:4 children[0]: ${one}, got none`]);
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [x] }', '    docker: { service: web }']), [
      `tree.yaml:6 children[0].docker: ${one}, got process and docker`,
    ]);
  });

  test('a probe needs exactly one check kind', () => {
    const one = 'expected exactly one check: http, tcp, exec, throughput, staleness or docker_health';
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [x] }', '    probes:', '      - name: p', '        every: 1s']), [
      `tree.yaml:7 children[0].probes[0]: ${one}, got none`,
    ]);
    assert.deepEqual(problems([...HEAD, '  - id: web', '    process: { command: [x] }', '    probes:', '      - exec: { command: [/bin/true] }', '        tcp: 127.0.0.1:80']), [
      // Both kinds are named; the line is that of the later one in the schema's order.
      `tree.yaml:7 children[0].probes[0].exec: ${one}, got tcp and exec`,
    ]);
  });

  test('ids are unique across the whole tree, the root name included', () => {
    assert.deepEqual(problems([
      'name: box',                          // 1
      'children:',                          // 2
      '  - id: cam',                        // 3
      '    docker: { service: cam }',       // 4
      '  - id: group',                      // 5
      '    children:',                      // 6
      '      - id: cam',                    // 7
      '        docker: { service: cam2 }',  // 8
      '      - id: box',                    // 9
      '        docker: { service: x }',     // 10
    ]), [
      'tree.yaml:7 children[1].children[0].id: duplicate id "cam" (also at children[0].id, line 3); ids must be unique across the whole tree',
      'tree.yaml:9 children[1].children[1].id: duplicate id "box": it is the tree\'s name; ids must be unique across the whole tree',
    ]);
  });

  test('ids must match [a-z0-9][a-z0-9_-]*', () => {
    const msg = (path: string, line: number, got: string) =>
      `tree.yaml:${line} ${path}: expected an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-"), got ${got}`;
    assert.deepEqual(problems(['name: Plant Box', 'children:', '  - id: -web', '    docker: { service: w }', '  - id: 42', '    docker: { service: w }']), [
      msg('name', 1, '"Plant Box"'),
      msg('children[0].id', 3, '"-web"'),
      msg('children[1].id', 5, '42'),
    ]);
  });

  test('keys that do not fit the kind of child', () => {
    assert.deepEqual(problems([...HEAD,
      '  - id: w',                                          // 4
      '    process: { command: [x] }',                      // 5
      '    strategy: one_for_all',                          // 6
      '    probes:',                                        // 7
      '      - docker_health:',                             // 8
      '      - { name: a, tcp: "h:1" }',                    // 9
      '      - { name: a, tcp: "h:2" }',                    // 10
      '  - id: g',                                          // 11
      '    probes: []',                                     // 12
      '    children: []',                                   // 13
    ]), [
      'tree.yaml:6 children[0].strategy: only a nested supervisor (a child with children) takes "strategy"; this child is a process worker',
      'tree.yaml:8 children[0].probes[0].docker_health: docker_health only applies to a docker child',
      'tree.yaml:10 children[0].probes[2].name: duplicate probe name "a" (also probes[1]); give each probe of a child a distinct name',
      'tree.yaml:12 children[1].probes: a nested supervisor takes no probes; put them on its workers',
    ]);
  });

  test('values out of range or of the wrong kind', () => {
    assert.deepEqual(problems([
      'name: box',                                                        // 1
      'intensity: -1',                                                    // 2
      'backoff: { initial: 2m, max: 1m }',                                // 3
      'api: { listen: localhost }',                                       // 4
      'children:',                                                        // 5
      '  - id: w',                                                        // 6
      '    restart: always',                                              // 7
      '    shutdown: soon',                                               // 8
      '    process: { command: [], env: { A: [1] } }',                    // 9
      '    probes:',                                                      // 10
      '      - http: { url: "ftp://x/", status: 700 }',                   // 11
      '        every: 0s',                                                // 12
      '        failures: 0',                                              // 13
      '      - throughput: { url: "http://x/", metric: "a-b", min_rate: -1, window: 5, absent: maybe }', // 14
      '      - tcp: "nohost"',                                            // 15
    ]), [
      'tree.yaml:2 intensity: expected an integer from 0 to 10000, got -1',
      'tree.yaml:4 api.listen: expected "host:port" like "127.0.0.1:7070", got "localhost"',
      'tree.yaml:7 children[0].restart: expected one of "permanent", "transient", "temporary", got "always"',
      'tree.yaml:8 children[0].shutdown: expected a duration like "5s" or "brutal_kill", got "soon"',
      'tree.yaml:9 children[0].process.command: expected at least 1 item, got 0',
      'tree.yaml:9 children[0].process.env.A: expected a string, got a list',
      'tree.yaml:11 children[0].probes[0].http.url: expected an http:// or https:// URL, got "ftp://x/"',
      'tree.yaml:11 children[0].probes[0].http.status: expected an HTTP status code (100-599) or a list of them, got 700',
      'tree.yaml:12 children[0].probes[0].every: expected a duration from 10ms to 1h, got "0s"',
      'tree.yaml:13 children[0].probes[0].failures: expected an integer from 1 to 1000, got 0',
      'tree.yaml:14 children[0].probes[1].throughput.metric: expected a Prometheus metric name like "frames_total", got "a-b"',
      'tree.yaml:14 children[0].probes[1].throughput.min_rate: expected a number from 0 to 1000000000, got -1',
      'tree.yaml:14 children[0].probes[1].throughput.absent: expected one of "fail", "pass", got "maybe"',
      'tree.yaml:15 children[0].probes[2].tcp: expected "host:port" or { host, port }, got "nohost"',
    ]);
    // Only checked once the rest is valid, since it needs the inherited values.
    assert.deepEqual(problems(['name: box', 'backoff: { initial: 2m, max: 1m }', 'children: []']), [
      'tree.yaml:2 backoff.max: expected backoff max (1m) to be at least initial (2m)',
    ]);
  });

  test('missing required fields and a document that is not a mapping', () => {
    assert.deepEqual(problems(['children:', '  - process: { command: [x] }']), [
      'tree.yaml:1 name: required field is missing (expected an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-"))',
      'tree.yaml:2 children[0].id: required field is missing (expected an id matching [a-z0-9][a-z0-9_-]* (lowercase letters, digits, "_" and "-"))',
    ]);
    assert.deepEqual(problems(['- a', '- b']), ['tree.yaml:1: expected a mapping, got a list']);
    // One message per mistake: a child that is not a mapping is not also "missing a backend".
    assert.deepEqual(problems([...HEAD, '  - web', '  - id: w', '    process: { command: [x] }', '    probes: [fast]']), [
      'tree.yaml:4 children[0]: expected a mapping, got "web"',
      'tree.yaml:7 children[1].probes[0]: expected a mapping, got "fast"',
    ]);
    assert.deepEqual(problems(['version: 2', 'name: box', 'children: []']), ['tree.yaml:1 version: expected 1, got 2']);
  });
});

test('on_give_up: a bad value names what is accepted, at its line', () => {
  assert.throws(() => parseTree('version: 1\nname: box\non_give_up: stop_some\nchildren: []\n', 'tree.yaml'), (e: { details?: string[] }) => {
    assert.match(e.details?.[0] ?? '', /^tree\.yaml:3 on_give_up: expected stop_all \(as OTP: every child is stopped\) or stop_failed/);
    return true;
  });
});
