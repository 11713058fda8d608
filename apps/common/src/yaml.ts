import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { codes, EdgevisorError } from 'edgevisor';

/**
 * Loads a YAML file and validates it with a zod schema; returns the parsed (defaulted) value.
 * Throws EdgevisorError SPEC_INVALID with details `file.yaml:LINE field.path: expected ..., got ...`.
 *
 * Delegates to supervisor/src/spec/yaml-config.ts (the shared implementation) when it exists; the
 * local fallback keeps apps loadable while that module is being written. Always async here, so
 * callers do not depend on whether the shared one is sync.
 */
export async function loadYamlConfig<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const shared = await importShared();
  if (shared) return (await shared(path, schema)) as z.infer<S>;
  return loadYamlConfigLocal(path, schema);
}

type SharedLoader = (path: string, schema: z.ZodType) => unknown;
let sharedLoader: SharedLoader | null | undefined;

async function importShared(): Promise<SharedLoader | null> {
  if (sharedLoader !== undefined) return sharedLoader;
  try {
    const mod = (await import('edgevisor')) as { loadYamlConfig?: SharedLoader };
    sharedLoader = typeof mod.loadYamlConfig === 'function' ? mod.loadYamlConfig : null;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    sharedLoader = null;
  }
  return sharedLoader;
}

/** The fallback: same contract as the shared loader. Exported for tests. */
export async function loadYamlConfigLocal<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const name = basename(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgevisorError(codes.SPEC_INVALID, `${name}: cannot read file: ${(err as Error).message}`, { cause: err, details: [`${name}: cannot read file`] });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const details = doc.errors.map((e) => `${name}:${lc.linePos(e.pos[0]).line} ${e.message.split('\n')[0]}`);
    throw new EdgevisorError(codes.SPEC_INVALID, `${name}: invalid YAML: ${details[0]}`, { details });
  }
  const value: unknown = doc.toJS();
  const r = schema.safeParse(value);
  if (r.success) return r.data as z.infer<S>;
  const details = r.error.issues.map((issue) => {
    const path = issue.path.map(String);
    // Walk up to the nearest node that exists (a missing field points at its parent).
    let line = 1;
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) {
        line = lc.linePos(node.range[0]).line;
        break;
      }
    }
    const got = getAt(value, issue.path as PropertyKey[]);
    return `${name}:${line} ${path.join('.') || '(root)'}: ${issue.message}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`;
  });
  throw new EdgevisorError(codes.SPEC_INVALID, `${name}: ${details[0]}${details.length > 1 ? ` (+${details.length - 1} more)` : ''}`, { details });
}

function getAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}
