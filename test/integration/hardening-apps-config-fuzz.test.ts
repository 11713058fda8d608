/**
 * Issue 16.6 and the config fuzz: generated malformed cameras.yaml and zones.yaml files (wrong
 * types, bad numbers, out-of-range values, unknown keys, duplicate ids, bad polygons, typos of a
 * camera or class, YAML junk, cyclic aliases, alias bombs, huge inputs). Every one is refused by
 * the real loader with SPEC_INVALID, every detail naming the file and a line, the mutated field
 * named, in under 2 s each. The real app processes (camera and inference main.ts) are spawned for
 * two of them to prove the exit code 1 and the message.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadCameras } from '../../apps/camera/src/config.ts';
import { loadZones, polygonProblem } from '../../apps/inference/src/zones/zones-file.ts';
import { formatPath } from '../../supervisor/src/spec/yaml-config.ts';
import { pick, prng } from '../helpers/http-fuzz.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'hardening-cfg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Path = (string | number)[];
interface Case { name: string; text: string; field?: Path; mustNotShow?: string }

const baseCameras = () => ({
  cameras: [
    { id: 'door', source: { rtsp: { url: 'rtsp://10.0.0.5/stream1' } }, fps: 5, width: 640, height: 360, detect: { width: 320, height: 320 } },
    { id: 'yard', source: { snapshot: { url: 'http://10.0.0.6/snap.jpg', username: 'op', password: 'pw' } }, heartbeat_timeout_ms: 10000 },
  ],
});
const square = [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9], [0.1, 0.9]];
const baseZones = () => ({
  cameras: {
    dock: { zones: [{ id: 'lane', polygon: square, rules: [{ class: 'person', dwell: '2s', min_score: 0.3, exit_grace: '1s' }] }] },
    press: { zones: [{ id: 'guard', polygon: square, rules: [{ class: 'motion' }] }] },
  },
});
const ZONE_CTX = { cameras: ['dock', 'press'], classes: ['person', 'motion', 'forklift'] };

function setAt(obj: unknown, path: Path, value: unknown): void {
  let cur = obj as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path.at(-1)!] = value;
}

/** Field mutations: (path, bad values); every value must be refused at that field. */
const cameraFields: [Path, unknown[]][] = [
  [['cameras', 0, 'id'], ['', 'a b', '-x', 'x'.repeat(64), 5, null, [], {}, 'd\u00f6r']],
  [['cameras', 0, 'fps'], [0, -1, 61, 'fast', Infinity, NaN, null, [], true, 0.01]],
  [['cameras', 0, 'width'], [15, 4000, 640.5, '640', Infinity, -640, {}]],
  [['cameras', 0, 'height'], [0, 2161, 'tall']],
  [['cameras', 1, 'heartbeat_timeout_ms'], [0, 1e12, 99.5, 'soon', -5, 2 ** 31]],
  [['cameras', 0, 'detect', 'width'], [8, 5000, 'x', null]],
  [['cameras', 0, 'detect'], ['320x320', [320, 320], { width: 320 }]],
  [['cameras', 0, 'source'], [{}, { rtsp: {} }, { rtsp: { url: 'http://x' } }, { rtsp: { url: 'rtsp://x' }, mjpeg: { url: 'http://x' } }, 'rtsp://x', { ftp: { url: 'x' } }, { synthetic: { period_s: 0 } }, { synthetic: { period_s: 1e9 } }, null]],
  [['cameras', 1, 'source', 'snapshot', 'url'], ['ftp://x', 5, '']],
  [['cameras'], [[], 'x', null, {}, 5]],
];

const zoneFields: [Path, unknown[]][] = [
  [['cameras', 'dock', 'zones', 0, 'id'], ['', 'a b', 5, null, 'x'.repeat(65)]],
  [['cameras', 'dock', 'zones', 0, 'polygon'], [
    [[0, 0], [1, 1]], // 2 points
    [[0, 0], [0.5, 0.5], [1, 1]], // collinear: no area
    [[0, 0], [1, 1], [1, 0], [0, 1]], // bow tie: self-intersecting
    [[0, 0], [0, 0], [1, 0], [0, 1]], // repeated point
    [[0, 0], [1.5, 0], [0, 1]], [[-0.1, 0], [1, 0], [0, 1]], 'square', [[0, 0, 0], [1, 0], [0, 1]], [['a', 'b'], [1, 0], [0, 1]],
    Array.from({ length: 300 }, (_, i) => [0.5 + 0.4 * Math.cos(i / 48), 0.5 + 0.4 * Math.sin(i / 48)]),
    null, {},
  ]],
  [['cameras', 'dock', 'zones', 0, 'rules'], [[], 'x', null, [{}]]],
  [['cameras', 'dock', 'zones', 0, 'rules', 0, 'class'], ['persn', 'Person', 'forklfit', '', 5, 'x'.repeat(65), null]],
  [['cameras', 'dock', 'zones', 0, 'rules', 0, 'dwell'], ['soon', '-1s', '2 s', '1000h', `${'9'.repeat(400)}s`, -5, '1e3', true, [], '2sec', Infinity, '25h']],
  [['cameras', 'dock', 'zones', 0, 'rules', 0, 'min_score'], [1.5, -0.1, 'high', NaN]],
  [['cameras', 'dock', 'zones', 0, 'rules', 0, 'exit_grace'], ['2h', 'x', -1]],
  [['cameras', 'dock', 'zones'], ['x', {}, [null]]],
  [['cameras', 'dock'], [null, 'x', []]],
  [['cameras'], ['x', []]],
];

function fieldCases(kind: 'cameras' | 'zones'): Case[] {
  const out: Case[] = [];
  const base = kind === 'cameras' ? baseCameras : baseZones;
  for (const [path, values] of kind === 'cameras' ? cameraFields : zoneFields) {
    for (const v of values) {
      const doc = base();
      setAt(doc, path, v);
      out.push({ name: `${formatPath(path)} = ${JSON.stringify(v)?.slice(0, 40)}`, text: stringify(doc), field: path });
    }
  }
  // Unknown keys (typos of real ones) at every level.
  const typos: [Path, string][] = kind === 'cameras'
    ? [[[], 'camera'], [['cameras', 0], 'fsp'], [['cameras', 0, 'source', 'rtsp'], 'user'], [['cameras', 0, 'detect'], 'widht'], [['cameras', 1, 'source', 'snapshot'], 'pasword']]
    : [[[], 'camera'], [['cameras', 'dock'], 'zone'], [['cameras', 'dock', 'zones', 0], 'polgon'], [['cameras', 'dock', 'zones', 0, 'rules', 0], 'dwel']];
  for (const [path, key] of typos) {
    const doc = base() as Record<string, unknown>;
    let cur = doc as Record<string | number, unknown>;
    for (const k of path) cur = cur[k] as Record<string | number, unknown>;
    cur[key] = 1;
    out.push({ name: `unknown key ${formatPath([...path, key])}`, text: stringify(doc), field: [...path, key] });
  }
  if (kind === 'cameras') {
    const dup = baseCameras();
    dup.cameras[1]!.id = 'door';
    out.push({ name: 'duplicate camera id', text: stringify(dup), field: ['cameras', 1, 'id'] });
    const many = { cameras: Array.from({ length: 300 }, (_, i) => ({ id: `c${i}`, source: { synthetic: {} } })) };
    out.push({ name: '300 cameras', text: stringify(many), field: ['cameras'] });
    const secret = baseCameras();
    setAt(secret, ['cameras', 1, 'source', 'snapshot', 'password'], 98765432);
    out.push({ name: 'a password of the wrong type is not echoed', text: stringify(secret), field: ['cameras', 1, 'source', 'snapshot', 'password'], mustNotShow: '98765432' });
  } else {
    const typo = baseZones() as { cameras: Record<string, unknown> };
    typo.cameras.dokc = typo.cameras.dock;
    delete typo.cameras.dock;
    out.push({ name: 'camera typo dokc', text: stringify(typo), field: ['cameras', 'dokc'] });
    const badKey = baseZones() as { cameras: Record<string, unknown> };
    badKey.cameras['my cam'] = badKey.cameras.dock;
    out.push({ name: 'camera key with a space', text: stringify(badKey), field: ['cameras', 'my cam'] });
    const dup = baseZones();
    dup.cameras.press.zones.push({ ...dup.cameras.press.zones[0]!, polygon: [[0.7, 0.1], [0.9, 0.1], [0.9, 0.5]] });
    out.push({ name: 'duplicate zone id', text: stringify(dup), field: ['cameras', 'press', 'zones', 1, 'id'] });
    const dupRule = baseZones();
    dupRule.cameras.dock.zones[0]!.rules.push({ class: 'person', dwell: '5s', min_score: 0.5, exit_grace: '1s' });
    out.push({ name: 'two rules for one class', text: stringify(dupRule), field: ['cameras', 'dock', 'zones', 0, 'rules', 1, 'class'] });
  }
  return out;
}

/** YAML that is not a config at all: every one refused with the file and a line. */
function junkCases(seed: number): Case[] {
  const rnd = prng(seed);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`), 'cameras: *i'].join('\n');
  const cases: Case[] = [
    { name: 'unclosed flow', text: 'cameras: [' },
    { name: 'braces', text: '{{{' },
    { name: 'tab indentation', text: 'cameras:\n\t- id: x\n' },
    { name: 'mapping in a plain scalar', text: 'cameras: a: b: c' },
    { name: 'colons', text: ':::' },
    { name: 'nested dashes', text: '- - - -' },
    { name: 'undefined alias', text: 'cameras: *nope' },
    { name: 'cyclic alias', text: 'cameras: &a [*a]' },
    { name: 'cyclic alias in a mapping', text: 'cameras: &a\n  door: { zones: *a }\n' },
    { name: 'alias bomb', text: bomb },
    { name: 'duplicate keys', text: 'cameras: []\ncameras: []\n' },
    { name: 'bad directive', text: '%YAML 9.9\n---\ncameras: []' },
    { name: 'two documents', text: '--- \ncameras: []\n---\ncameras: []\n' },
    { name: 'empty file', text: '' },
    { name: 'only a comment', text: '# nothing\n' },
    { name: 'a scalar document', text: '42' },
    { name: 'deep nesting', text: `cameras: ${'['.repeat(20_000)}${']'.repeat(20_000)}` },
    { name: '5 MB of junk', text: 'x: '.concat('a'.repeat(5 * 1024 * 1024)) },
    { name: '1 MB string id', text: stringify({ cameras: [{ id: 'a'.repeat(1024 * 1024 - 100), source: { synthetic: {} } }] }) },
  ];
  for (let i = 0; i < 20; i++) {
    const bytes = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rnd() * 256)));
    cases.push({ name: `random bytes #${i}`, text: bytes.toString('latin1') });
  }
  for (let i = 0; i < 20; i++) {
    const chars = ['-', ':', ' ', '\n', '[', ']', '{', '}', '&a', '*a', '!!str', '"', "'", '#', 'cameras', 'id', '|', '>', '?', ','];
    cases.push({ name: `random tokens #${i}`, text: Array.from({ length: 60 }, () => pick(rnd, chars)).join('') });
  }
  return cases;
}

async function refused(kind: 'cameras' | 'zones', c: Case, i: number): Promise<string[]> {
  const file = join(dir, `${kind}.yaml`);
  writeFileSync(file, c.text);
  const t0 = performance.now();
  let err: (Error & { code?: string; details?: string[] }) | undefined;
  try {
    if (kind === 'cameras') await loadCameras(file);
    else await loadZones(file, ZONE_CTX);
  } catch (e) {
    err = e as typeof err;
  }
  const ms = performance.now() - t0;
  const problems: string[] = [];
  const where = `${kind} case ${i} (${c.name})`;
  if (!err) return [`${where}: accepted`];
  if (err.code !== 'EDGEVISOR_ERR_SPEC_INVALID') problems.push(`${where}: ${err.code ?? err.name}: ${err.message.slice(0, 200)}`);
  const details = err.details ?? [];
  if (!details.length) problems.push(`${where}: no details`);
  const re = new RegExp(`^${kind}\\.yaml:\\d+[: ]`);
  for (const d of details) if (!re.test(d)) problems.push(`${where}: a detail without file and line: ${d.slice(0, 160)}`);
  if (c.field) {
    const want = formatPath(c.field);
    if (!details.some((d) => d.includes(` ${want}`) || (want === '' && /:\d+[: ]/.test(d)))) problems.push(`${where}: no detail names ${want}: ${details.join(' | ').slice(0, 300)}`);
  }
  if (c.mustNotShow && err.message.includes(c.mustNotShow)) problems.push(`${where}: the message shows ${c.mustNotShow}`);
  if (!details.every((d) => /expected|unknown|invalid|cannot|at most|did you mean|crosses|repeats|no area/i.test(d))) problems.push(`${where}: a detail does not say what is accepted: ${details.join(' | ').slice(0, 300)}`);
  if (ms > 2000) problems.push(`${where}: took ${ms.toFixed(0)} ms`);
  return problems;
}

describe('config fuzz: cameras.yaml and zones.yaml', () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);

  for (const kind of ['cameras', 'zones'] as const) {
    test(`${kind}.yaml: every malformed file refused with file, line and field, each in < 2 s (seed ${seed})`, async () => {
      const cases = [...fieldCases(kind), ...junkCases(seed)];
      const problems: string[] = [];
      let slowest = 0;
      let slowestName = '';
      for (const [i, c] of cases.entries()) {
        const t0 = performance.now();
        problems.push(...(await refused(kind, c, i)));
        const ms = performance.now() - t0;
        if (ms > slowest) { slowest = ms; slowestName = c.name; }
      }
      console.log(`# ${kind}: ${cases.length} malformed files, slowest ${slowest.toFixed(0)} ms (${slowestName})`);
      assert.deepEqual(problems, []);
    });
  }

  test('the base files themselves load (the fuzz mutates valid files)', async () => {
    writeFileSync(join(dir, 'ok-cameras.yaml'), stringify(baseCameras()));
    writeFileSync(join(dir, 'ok-zones.yaml'), stringify(baseZones()));
    assert.equal((await loadCameras(join(dir, 'ok-cameras.yaml'))).length, 2);
    assert.deepEqual(Object.keys((await loadZones(join(dir, 'ok-zones.yaml'), ZONE_CTX)).cameras), ['dock', 'press']);
  });

  test('polygon checks: a concave polygon and a triangle are fine; a bow tie, a line and a repeated point are not', () => {
    assert.equal(polygonProblem([[0.1, 0.1], [0.9, 0.1], [0.5, 0.5], [0.9, 0.9], [0.1, 0.9]]), undefined);
    assert.equal(polygonProblem([[0, 0], [1, 0], [0, 1]]), undefined);
    assert.match(polygonProblem([[0, 0], [1, 1], [1, 0], [0, 1]])!, /crosses/);
    assert.match(polygonProblem([[0, 0], [0.5, 0.5], [1, 1]])!, /no area/);
    assert.match(polygonProblem([[0, 0], [1, 0], [1, 0], [0, 1]])!, /repeats/);
  });

  test('the real app processes exit 1 with file, line and field: camera (bad fps, no camera and no adoption), inference (a class typo)', () => {
    const cams = join(dir, 'proc-cameras.yaml');
    writeFileSync(cams, 'cameras:\n  - id: door\n    source: { synthetic: {} }\n    fps: 500\n');
    const cam = spawnSync(process.execPath, ['--import', 'tsx', 'apps/camera/src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, CAMERAS_FILE: cams, PORT: '0' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(cam.status, 1, cam.stderr);
    assert.match(cam.stderr, /proc-cameras\.yaml:4 cameras\[0\]\.fps: expected a number <= 60, got 500/);
    assert.ok(!/\n\s+at /.test(cam.stderr), `no stack trace: ${cam.stderr}`);

    // No camera listed: fine with a discovered: section, but only when the controller adopts.
    writeFileSync(cams, 'cameras: []\ndiscovered: { fps: 2 }\n');
    const none = spawnSync(process.execPath, ['--import', 'tsx', 'apps/camera/src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, CAMERAS_FILE: cams, PORT: '0' }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(none.status, 1, none.stderr);
    assert.match(none.stderr, /CAMERAS_FILE: cameras: is empty and ONVIF_ADOPT is not true, so this controller would have no camera: list one, or set ONVIF_ADOPT=true \(with ONVIF_URL\)/);
    assert.ok(!none.stderr.includes(dir), `no server path: ${none.stderr}`);

    const zones = join(dir, 'proc-zones.yaml');
    writeFileSync(zones, 'cameras:\n  dock:\n    zones:\n      - id: lane\n        polygon: [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9]]\n        rules:\n          - class: motoin\n            dwell: 2s\n');
    const inf = spawnSync(process.execPath, ['--import', 'tsx', 'apps/inference/src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, ZONES_FILE: zones, DATA_DIR: join(dir, 'inf-data'), CAMERAS: 'dock', PORT: '0' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(inf.status, 1, inf.stderr);
    assert.match(inf.stderr, /proc-zones\.yaml:7 cameras\.dock\.zones\[0\]\.rules\[0\]\.class: unknown class "motoin".*did you mean "motion"/);
    assert.ok(!/\n\s+at /.test(inf.stderr), `no stack trace: ${inf.stderr}`);
  });
});
