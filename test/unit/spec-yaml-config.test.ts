// The generic YAML + zod loader apps use for their own files (cameras, zones), on real files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { expected, formatPath, loadYamlConfig, parseYamlConfig } from '../../supervisor/src/spec/yaml-config.ts';
import type { EdgevisorError } from '../../supervisor/src/errors.ts';
import { specErrors as details } from '../helpers/spec.ts';

// A schema shaped like a camera app's file: nothing here comes from the tree format.
const cameras = z.strictObject({
  cameras: z.array(z.strictObject({
    id: z.string().regex(/^[a-z0-9-]+$/, { error: expected('a camera id like "gate-1"') }),
    url: z.url(),
    fps: z.int().min(1).max(60).default(10),
    zones: z.record(z.string(), z.array(z.tuple([z.number(), z.number()]))).optional(),
    source: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('rtsp'), transport: z.enum(['tcp', 'udp']) }),
      z.strictObject({ kind: z.literal('file'), path: z.string() }),
    ]).optional(),
  })).min(1),
});

let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'edgevisor-yamlcfg-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}


test('a valid file loads with the schema defaults applied', () => {
  const file = write('cameras.yaml', [
    'cameras:',
    '  - id: gate-1',
    '    url: rtsp://127.0.0.1:8554/gate',
    '    source: { kind: rtsp, transport: tcp }',
    '    zones:',
    '      door: [[0, 0], [1, 1]]',
  ]);
  const cfg = loadYamlConfig(file, cameras);
  assert.deepEqual(cfg, {
    cameras: [{ id: 'gate-1', url: 'rtsp://127.0.0.1:8554/gate', fps: 10, source: { kind: 'rtsp', transport: 'tcp' }, zones: { door: [[0, 0], [1, 1]] } }],
  });
});

test('problems in block, flow and nested positions point at their own lines', () => {
  const file = write('cams.yaml', [
    'cameras:',                                   // 1
    '  - id: Gate 1',                             // 2
    '    url: not a url',                         // 3
    '    fps: 120',                               // 4
    '    zones:',                                 // 5
    '      "front door":',                        // 6
    '        - [0, 0]',                           // 7
    '        - [1, "x"]',                         // 8
    '  - { id: ok, url: "http://a/", fsp: 5 }',   // 9
    '  - id: src',                                // 10
    '    url: http://a/',                         // 11
    '    source:',                                // 12
    '      kind: file',                           // 13
    '      transport: tcp',                       // 14
  ]);
  assert.deepEqual(details(() => loadYamlConfig(file, cameras)), [
    'cams.yaml:2 cameras[0].id: expected a camera id like "gate-1", got "Gate 1"',
    'cams.yaml:3 cameras[0].url: expected a valid url, got "not a url"',
    'cams.yaml:4 cameras[0].fps: expected a number <= 60, got 120',
    'cams.yaml:8 cameras[0].zones["front door"][1][1]: expected a number, got "x"',
    'cams.yaml:9 cameras[1].fsp: unknown field "fsp"; accepted: id, url, fps, zones, source',
    'cams.yaml:12 cameras[2].source.path: required field is missing (expected a string)',
    'cams.yaml:14 cameras[2].source.transport: unknown field "transport"; accepted: kind, transport, path',
  ]);
});

test('empty documents, lists and several documents are rejected clearly', () => {
  assert.deepEqual(details(() => parseYamlConfig('', 'c.yaml', cameras)), ['c.yaml:1: expected a mapping, got nothing (the document is empty)']);
  assert.deepEqual(details(() => parseYamlConfig('cameras: []\n', 'c.yaml', cameras)), ['c.yaml:1 cameras: expected at least 1 item, got 0']);
  assert.deepEqual(details(() => parseYamlConfig('cameras: []\n---\ncameras: []\n', 'c.yaml', cameras)), [
    'c.yaml:2: invalid YAML: Source contains multiple documents; please use YAML.parseAllDocuments()',
  ]);
});

test('aliases are followed for values and line lookups', () => {
  const text = ['base: &cam { id: a, url: "http://a/", fps: 0 }', 'cameras:', '  - *cam'].join('\n');
  const loose = z.object({ cameras: cameras.shape.cameras });
  assert.deepEqual(details(() => parseYamlConfig(text, 'c.yaml', loose)), ['c.yaml:1 cameras[0].fps: expected a number >= 1, got 0']);
});

test('the summary counts the problems and lists them', () => {
  assert.throws(() => parseYamlConfig('cameras: 3\nextra: 1\n', '/etc/app/c.yaml', cameras), (e: EdgevisorError) => {
    assert.equal(e.message, 'invalid c.yaml (2 problems):\n  c.yaml:1 cameras: expected a list, got 3\n  c.yaml:2 extra: unknown field "extra"; accepted: cameras');
    return true;
  });
});

test('formatPath', () => {
  assert.equal(formatPath(['children', 1, 'probes', 0, 'every']), 'children[1].probes[0].every');
  assert.equal(formatPath(['env', 'MY VAR']), 'env["MY VAR"]');
  assert.equal(formatPath([]), '');
});
