// Issue 16: a fuzz test over tree files. Generated malformed trees (wrong types, out-of-range
// numbers, unknown keys, bad durations, cyclic aliases, huge inputs, binary junk, deep nesting)
// must each be refused with SPEC_INVALID, every message naming the file and a line (and the field
// when a field is at fault), within 2 s of CPU. A sample also goes through the real
// `edgevisor validate` (exit 1, one line per problem, no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';
import { parseTree } from '../../supervisor/src/spec/load.ts';
import { formatPath } from '../../supervisor/src/spec/yaml-config.ts';

const base = parse(readFileSync(resolve('test/fixtures/trees/example.yaml'), 'utf8')) as Record<string, unknown>;

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'duration' | 'int' | 'enum' | 'id' | 'list' | 'map';
/** Fields of the example tree and what kind of value each holds. */
function fields(node: unknown, path: (string | number)[] = [], out: { path: (string | number)[]; kind: Kind }[] = []) {
  const kinds: Record<string, Kind> = {
    every: 'duration', timeout: 'duration', startup_grace: 'duration', period: 'duration', shutdown: 'duration', initial: 'duration', max: 'duration',
    reset_after: 'duration', window: 'duration', max_age: 'duration', intensity: 'int', failures: 'int', restart: 'enum', strategy: 'enum', id: 'id',
    command: 'list', process: 'map', probes: 'list', backoff: 'map',
  };
  if (Array.isArray(node)) node.forEach((v, i) => fields(v, [...path, i], out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (kinds[k] && !(k === 'id' && path.length === 0)) out.push({ path: [...path, k], kind: kinds[k]! });
      fields(v, [...path, k], out);
    }
  }
  return out;
}
const catalog = fields(base);

/** Values no field of that kind accepts. `BIG` becomes a 400-digit literal in the text. */
const badValues: Record<Kind, unknown[]> = {
  duration: ['1000h', '25h', '9'.repeat(400) + 'ms', '-1s', '5x', '', true, [1], { a: 1 }, -5, 'BIG', '1e400s', '1h1000000m'],
  int: [1.5, -1, '3', 'BIG', 1e30, 'x'.repeat(1000), null, [3], 10_001_000],
  enum: [5, [], {}, 'sometimes', '', null],
  id: ['Not An Id', '', 7, [], '../etc', 'x'.repeat(5000) + ' '],
  list: ['node x.js', 5, {}, null, []],
  map: ['yes', 5, [], null],
};

function setAt(root: unknown, path: (string | number)[], value: unknown): void {
  let n = root as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) n = n[seg] as Record<string | number, unknown>;
  n[path[path.length - 1]!] = value;
}

interface Case {
  name: string;
  text: string;
  /** A field path some message must name (absent for whole-document faults). */
  field?: string;
}

function generate(seed: number): Case {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tree = structuredClone(base);
  const kind = pick(['field', 'field', 'field', 'unknown', 'cycle', 'junk', 'deep', 'deepTree', 'huge', 'dupKey', 'tabs'] as const);
  switch (kind) {
    case 'field': {
      const f = pick(catalog);
      // `max` below `initial` etc. are checked too, but here the value itself is wrong.
      const v = pick(badValues[f.kind]);
      setAt(tree, f.path, v);
      const text = stringify(tree).replace(/BIG/g, '9'.repeat(400));
      return { name: `${formatPath(f.path)} = ${JSON.stringify(v)?.slice(0, 40)}`, text, field: formatPath(f.path) };
    }
    case 'unknown': {
      const f = pick(catalog.filter((c) => c.kind === 'map' || c.path.length <= 3));
      const parent = f.path.slice(0, -1);
      const key = `zz_${Math.floor(r() * 1e6)}`;
      setAt(tree, [...parent, key], 1);
      return { name: `unknown key ${key}`, text: stringify(tree), field: formatPath([...parent, key]) };
    }
    case 'cycle':
      return { name: 'cyclic alias', text: `version: 1\nname: cyc\nchildren:\n  - &a\n    id: a\n    children:\n      - id: b\n        children: [*a]\n` };
    case 'junk': {
      const bytes = Buffer.alloc(200 + Math.floor(r() * 2000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
      return { name: 'binary junk', text: bytes.toString('latin1') };
    }
    case 'deep':
      return { name: 'deep flow nesting', text: `version: 1\nname: d\nchildren: ${'['.repeat(3000 + Math.floor(r() * 20_000))}\n` };
    case 'deepTree': {
      let child = `{ id: leaf, process: { command: [node] } }`;
      for (let i = 0; i < 80; i++) child = `{ id: s${i}, children: [${child}] }`;
      return { name: 'supervisors nested 80 deep', text: `version: 1\nname: d\nchildren: [${child}]\n` };
    }
    case 'huge':
      return { name: 'huge input', text: stringify(tree) + `# ${'x'.repeat(300 * 1024 + Math.floor(r() * 3_000_000))}\n` };
    case 'dupKey':
      return { name: 'duplicate key', text: stringify(tree).replace('name: plant-box', 'name: plant-box\nname: again') };
    case 'tabs':
      return { name: 'tab indentation', text: stringify(tree).replace(/\n {4}process:/, '\n\t\tprocess:') };
  }
}

test('generated malformed trees are all refused with file, line and field, each within 2 s of CPU', () => {
  const seen = new Set<string>();
  for (let seed = 1; seed <= 300; seed++) {
    const c = generate(seed);
    seen.add(c.name.split(' ')[0]!);
    const file = `/nonexistent/fuzz-${seed}.yaml`;
    const t0 = process.cpuUsage();
    let details: readonly string[] = [];
    try {
      parseTree(c.text, file);
      assert.fail(`seed ${seed} (${c.name}) was accepted`);
    } catch (err) {
      assert.ok(err instanceof EdgevisorError && err.code === codes.SPEC_INVALID, `seed ${seed} (${c.name}): ${String(err)}`);
      details = err.details;
    }
    const cpu = process.cpuUsage(t0);
    assert.ok((cpu.user + cpu.system) / 1000 < 2000, `seed ${seed} (${c.name}) took ${(cpu.user + cpu.system) / 1000} ms of CPU`);
    assert.ok(details.length > 0, `seed ${seed}: no message`);
    for (const d of details) {
      assert.match(d, new RegExp(`^fuzz-${seed}\\.yaml:\\d+[: ]`), `seed ${seed} (${c.name}): ${d}`);
      assert.ok(d.length < 600, `seed ${seed}: message of ${d.length} characters`);
      assert.doesNotMatch(d, /nonexistent|\n|at .*\.ts:\d+/, `seed ${seed}: path or stack in ${d}`);
    }
    if (c.field) assert.ok(details.some((d) => d.includes(c.field!)), `seed ${seed} (${c.name}): no message names ${c.field}: ${details.join(' | ')}`);
  }
  assert.ok(seen.size >= 8, `only ${[...seen].join(', ')} generated`);
});

test('the real `edgevisor validate` refuses a sample with exit 1 and file:line messages, no stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-fuzz-'));
  try {
    // One of each kind of fault (found by scanning seeds), so the sample stays small.
    const byKind = new Map<string, Case>();
    for (let seed = 1; byKind.size < 10 && seed < 400; seed++) {
      const c = generate(seed);
      const k = c.field ? (c.name.startsWith('unknown') ? 'unknown' : c.field.split('.').pop()!.replace(/\[\d+\]/g, '')) : c.name;
      if (!byKind.has(k)) byKind.set(k, c);
    }
    for (const [k, c] of byKind) {
      const file = join(dir, 'tree.yaml');
      writeFileSync(file, c.text, 'latin1');
      const r = spawnSync(process.execPath, [resolve('bin/edgevisor.mjs'), 'validate', file], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '' } });
      assert.equal(r.status, 1, `${k}: exit ${r.status}, stderr ${r.stderr}`);
      assert.equal(r.stdout, '');
      for (const line of r.stderr.trimEnd().split('\n')) assert.match(line, /^tree\.yaml:\d+[: ]/, `${k}: ${line}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${k}: stack trace`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
