/**
 * YAML config files validated by a zod schema, with errors a technician can act on:
 * `tree.yaml:14 children[1].probes[0].every: expected a duration like "500ms" or "2s", got "fast"`.
 * Independent of the tree schema: apps use `loadYamlConfig` for their own files (cameras, zones).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isAlias, visit, type Node as YamlNode } from 'yaml';
import type { ZodType } from 'zod';
import { EdgevisorError, codes } from '../errors.ts';
import { describeValue } from './duration.ts';

/** One problem found in a config, before it is given a file name and a line. */
export interface SpecIssue {
  /** Path of the offending field from the document root, as zod reports it. */
  path: readonly PropertyKey[];
  /** What is accepted and what was given, e.g. `expected a string, got 5`. */
  message: string;
}

/** A parsed YAML file: plain data plus a way back from a field path to its line. */
export interface YamlSource {
  /** Absolute or given path of the file. */
  file: string;
  /** The document as plain JS values (maps become objects, sequences arrays). */
  data: unknown;
  /** 1-based line of the node at `path` (of its key, for a mapping entry); the nearest existing ancestor if absent. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/** `children[1].probes[0].every`; keys that are not plain words are quoted: `env["MY VAR"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Formats issues as `file:line path: message` (parts left out when unknown), ordered by line. */
export function formatIssues(issues: readonly SpecIssue[], src?: Pick<YamlSource, 'file' | 'lineOf'>): string[] {
  const name = src ? basename(src.file) : undefined;
  const rows = issues.map((iss, i) => {
    const line = src?.lineOf(iss.path);
    const where = name === undefined ? '' : line === undefined ? `${name} ` : `${name}:${line} `;
    const path = formatPath(iss.path);
    const text = path ? `${where}${path}: ${iss.message}` : `${where.trimEnd()}${where ? ': ' : ''}${iss.message}`;
    return { line: line ?? 0, i, text };
  });
  rows.sort((a, b) => a.line - b.line || a.i - b.i);
  return rows.map((r) => r.text);
}

/** The one error every invalid config raises: a short summary, one detail message per problem. */
export function specInvalid(file: string | undefined, messages: readonly string[]): EdgevisorError {
  const what = file ? basename(file) : 'tree';
  const n = messages.length;
  const summary = `invalid ${what} (${n} problem${n === 1 ? '' : 's'}):\n  ${messages.join('\n  ')}`;
  return new EdgevisorError(codes.SPEC_INVALID, summary, { details: messages });
}

/**
 * Config files are written by hand: a few KB. The limit keeps a pasted log or a wrong file from
 * costing seconds of parsing (the YAML parser runs at roughly 1 MB/s on a busy 2-core box).
 */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** Deeper nesting than this is refused before validation, which recurses over the data. */
export const MAX_CONFIG_DEPTH = 64;

/** Nesting depth of plain data, stopping as soon as it passes `limit` (iterative: no recursion). */
function depthExceeds(data: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[data, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= limit) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return false;
}

function tooLarge(file: string, bytes: number): EdgevisorError {
  return specInvalid(file, [`${basename(file)}:1: file too large: ${Math.ceil(bytes / 1024)} KB, at most ${MAX_CONFIG_BYTES / 1024} KB accepted (a tree of 1,000 workers is about 200 KB)`]);
}

/** Parses YAML text; syntax errors throw `SPEC_INVALID` with their lines. */
export function parseYamlSource(text: string, file: string): YamlSource {
  const name = basename(file);
  if (text.length > MAX_CONFIG_BYTES) throw tooLarge(file, text.length);
  if (text.includes('\u0000')) {
    const line = text.slice(0, text.indexOf('\u0000')).split('\n').length;
    throw specInvalid(file, [`${name}:${line}: not a text file (a NUL byte); expected YAML text`]);
  }
  const lineCounter = new LineCounter();
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    // The parser recurses on nested flow collections: a very deep one overflows the stack.
    throw specInvalid(file, [`${name}:1: invalid YAML: ${err instanceof RangeError ? `nested deeper than the parser can follow` : (err as Error).message}`]);
  }
  if (doc.errors.length > 0) {
    const say = (m: string) => (/Maximum call stack/.test(m) ? `nested deeper than ${MAX_CONFIG_DEPTH} levels; a config file needs far fewer` : m.split('\n')[0]);
    const lines = doc.errors.map((e) => `${name}:${lineAt(e.pos[0]) ?? 1}: invalid YAML: ${say(e.message)}`);
    throw specInvalid(file, [...new Set(lines)]);
  }
  // An alias inside the node it refers to (`- &a {children: [*a]}`) makes a cycle: refuse it
  // with its line instead of letting validation recurse forever.
  let cycle: number | undefined;
  visit(doc, {
    Alias(_key, node, path) {
      const target = node.resolve(doc);
      if (target && path.includes(target as never)) {
        cycle = lineAt(node.range?.[0]) ?? 1;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (cycle !== undefined) throw specInvalid(file, [`${name}:${cycle}: invalid YAML: this alias refers to a node that contains it (a cycle); write the value out instead`]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw specInvalid(file, [`${name}:1: invalid YAML: ${err instanceof RangeError ? 'nested too deeply' : (err as Error).message}`]);
  }
  if (depthExceeds(data, MAX_CONFIG_DEPTH)) throw specInvalid(file, [`${name}:1: nested deeper than ${MAX_CONFIG_DEPTH} levels; a config file needs far fewer`]);
  const nodeLine = (n: unknown): number | undefined => lineAt((n as YamlNode | null)?.range?.[0]);
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);
  return {
    file,
    data,
    lineOf(path) {
      let node: unknown = deref(doc.contents);
      let best = nodeLine(node) ?? 1;
      for (const seg of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
          if (!pair) break;
          // The key's line: for `process:` followed by a block, the value starts a line later.
          best = nodeLine(pair.key) ?? best;
          node = deref(pair.value);
        } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
          node = deref(node.items[seg]);
          best = nodeLine(node) ?? best;
        } else break;
      }
      return best;
    },
  };
}

/** Reads and parses a YAML file; an unreadable file is `SPEC_INVALID` too (one message). */
export function readYamlSource(path: string): YamlSource {
  let text: string;
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // reported by the read below
  }
  // Not even read when far too large (a disk image given by mistake); the exact check is on the text.
  if (size > 4 * MAX_CONFIG_BYTES) throw tooLarge(path, size);
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw specInvalid(path, [`${basename(path)}: cannot read ${path}: ${e.code ?? e.message}`]);
  }
  return parseYamlSource(text, path);
}

// ---------------------------------------------------------------------------------------------
// zod issues -> messages

/** The subset of a zod issue the messages use (zod 4 passes `input` to error maps). */
interface RawIssue {
  code?: string;
  input?: unknown;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  values?: readonly unknown[];
  format?: string;
  pattern?: string;
  divisor?: number;
  message?: string;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', int: 'an integer',
  boolean: 'true or false', function: 'a function', bigint: 'an integer', null: 'null', literal: 'a fixed value',
};

/**
 * An error function for schema fields: `expected <what>, got <value>`, or that the field is
 * missing. Use it as `{ error: expected('an id like "camera"') }` so custom messages keep the format.
 */
export function expected(what: string): (iss: { input?: unknown }) => string {
  return (iss) => (iss.input === undefined ? `required field is missing (expected ${what})` : `expected ${what}, got ${describeValue(iss.input)}`);
}

/** Like `expected`, but only for a value of the wrong type; other issues keep their own messages. */
export function expectedType(what: string): (iss: { code?: string; input?: unknown }) => string | undefined {
  const msg = expected(what);
  return (iss) => (iss.code === 'invalid_type' ? msg(iss) : undefined);
}

/** The per-parse zod error map: every built-in issue in the house format. Schema-level errors win over it. */
export function zodErrorMessage(iss: RawIssue): string {
  const got = `, got ${describeValue(iss.input)}`;
  switch (iss.code) {
    case 'invalid_type': {
      const t = TYPE_NAMES[iss.expected ?? ''] ?? iss.expected ?? 'another type';
      return expected(t)(iss);
    }
    case 'too_small':
    case 'too_big': {
      const small = iss.code === 'too_small';
      const n = Number(small ? iss.minimum : iss.maximum);
      if (iss.origin === 'array') return `expected ${small ? 'at least' : 'at most'} ${n} item${n === 1 ? '' : 's'}, got ${Array.isArray(iss.input) ? iss.input.length : describeValue(iss.input)}`;
      if (iss.origin === 'string') return small && n === 1 ? `expected a non-empty string${got}` : `expected a string of ${small ? 'at least' : 'at most'} ${n} characters${got}`;
      const op = small ? (iss.inclusive === false ? '>' : '>=') : iss.inclusive === false ? '<' : '<=';
      return `expected a number ${op} ${n}${got}`;
    }
    case 'invalid_value': {
      const vs = (iss.values ?? []).map((v) => JSON.stringify(v));
      return `expected ${vs.length === 1 ? vs[0] : `one of ${vs.join(', ')}`}${got}`;
    }
    case 'invalid_format':
      return iss.format === 'regex' ? `expected a string matching ${iss.pattern}${got}` : `expected a valid ${iss.format}${got}`;
    case 'not_multiple_of':
      return `expected a multiple of ${iss.divisor}${got}`;
    case 'invalid_union':
      return `expected one of the accepted forms${got}`;
    case 'invalid_key':
      return `invalid key${got}`;
    default:
      return `invalid value${got}`;
  }
}

type Def = { type: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown; innerType?: unknown; in?: unknown; out?: unknown; getter?: () => unknown; options?: unknown[]; items?: unknown[] };
const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** Looks through wrappers (optional, default, transform pipes, lazy...) to the schema that shapes the value. */
function unwrap(s: unknown): unknown {
  for (let i = 0; i < 50; i++) {
    const d = defOf(s);
    if (!d) return s;
    if (d.innerType !== undefined) s = d.innerType;
    // A transform pipe validates its input side; a preprocess pipe (transform first) its output side.
    else if (d.type === 'pipe') s = defOf(d.in)?.type === 'transform' ? d.out : d.in;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else return s;
  }
  return s;
}

/** The keys an object schema at `path` accepts (for "unknown field" messages); undefined if not found. */
export function acceptedKeys(schema: unknown, path: readonly PropertyKey[]): string[] | undefined {
  const s = unwrap(schema);
  const d = defOf(s);
  if (!d) return undefined;
  if (d.type === 'union') {
    const all = (d.options ?? []).map((o) => acceptedKeys(o, path)).filter((k): k is string[] => k !== undefined);
    return all.length ? [...new Set(all.flat())] : undefined;
  }
  if (path.length === 0) return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
  const [seg, ...rest] = path;
  if (d.type === 'object' && d.shape && typeof seg === 'string' && seg in d.shape) return acceptedKeys(d.shape[seg], rest);
  if (d.type === 'array') return acceptedKeys(d.element, rest);
  if (d.type === 'record') return acceptedKeys(d.valueType, rest);
  if (d.type === 'tuple' && typeof seg === 'number') return acceptedKeys(d.items?.[seg], rest);
  return undefined;
}

/** Validates `data`; returns the parsed value or the issues (unknown keys split one per key). */
export function checkWithSchema<T>(data: unknown, schema: ZodType<T>): { ok: true; value: T } | { ok: false; issues: SpecIssue[] } {
  const r = schema.safeParse(data, { error: (iss) => zodErrorMessage(iss as RawIssue) });
  if (r.success) return { ok: true, value: r.data };
  const issues: SpecIssue[] = [];
  for (const iss of r.error.issues) {
    if (iss.code === 'unrecognized_keys') {
      const keys = acceptedKeys(schema, iss.path);
      for (const k of iss.keys) {
        issues.push({ path: [...iss.path, k], message: `unknown field ${JSON.stringify(k)}${keys ? `; accepted: ${keys.join(', ') || 'none'}` : ''}` });
      }
    } else if (iss.path.length === 0 && iss.code === 'invalid_type' && data == null) {
      // An empty file parses to null: "missing field" would make no sense for the document itself.
      issues.push({ path: [], message: `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got nothing (the document is empty)` });
    } else issues.push({ path: iss.path, message: iss.message });
  }
  return { ok: false, issues };
}

/** Parses YAML text and validates it; throws `SPEC_INVALID` with `file:line path: message` details. */
export function parseYamlConfig<T>(text: string, file: string, schema: ZodType<T>): T {
  const src = parseYamlSource(text, file);
  const r = checkWithSchema(src.data, schema);
  if (!r.ok) throw specInvalid(file, formatIssues(r.issues, src));
  return r.value;
}

/** Reads a YAML file and validates it with `schema` (see `parseYamlConfig`). */
export function loadYamlConfig<T>(path: string, schema: ZodType<T>): T {
  const src = readYamlSource(path);
  const r = checkWithSchema(src.data, schema);
  if (!r.ok) throw specInvalid(path, formatIssues(r.issues, src));
  return r.value;
}
