/**
 * YAML config files with checks beyond one schema: cross-references (a zone's camera must exist,
 * its class must be one the model reports) that need context the schema does not have. The
 * issues of both steps come out in one error, each `file.yaml:LINE field.path: message`, ordered
 * by line, through the supervisor's shared implementation (supervisor/src/spec/yaml-config.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { z, type ZodType } from 'zod';
import { EdgevisorError } from 'edgevisor';
import { checkWithSchema, formatIssues, parseYamlSource, specInvalid, zodErrorMessage, type SpecIssue } from 'edgevisor';

export type { SpecIssue };

/** Checks of a schema-valid value: one issue per problem, with the path of the offending field. */
export type ConfigCheck<T> = (value: T) => SpecIssue[];

/**
 * An app config file is a few KB; one past this is junk or a mistake (a log, a video) and is
 * refused before parsing, which would take seconds at 5 MB.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads `path`, validates it with `schema`, then runs `check`; throws SPEC_INVALID listing every problem with its line. */
export function loadCheckedYaml<T>(path: string, schema: ZodType<T>, check?: ConfigCheck<T>): T {
  const name = basename(path);
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) throw specInvalid(path, [`${name}:1: the file is ${(size / 1048576).toFixed(1)} MB; expected a config file of at most ${MAX_CONFIG_BYTES / 1048576} MB`]);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof EdgevisorError) throw err;
    throw specInvalid(path, [`${name}:1: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseCheckedYaml(text, path, schema, check);
}

/** The same for text already in memory (tests, fuzzing); `file` names it in the messages. */
export function parseCheckedYaml<T>(text: string, file: string, schema: ZodType<T>, check?: ConfigCheck<T>): T {
  const name = basename(file);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw specInvalid(file, [`${name}:1: the text is ${(Buffer.byteLength(text) / 1048576).toFixed(1)} MB; expected a config file of at most ${MAX_CONFIG_BYTES / 1048576} MB`]);
  let src: ReturnType<typeof parseYamlSource>;
  try {
    src = parseYamlSource(text, file);
  } catch (err) {
    throw withLines(err, name);
  }
  try {
    return checked(src, file, schema, check);
  } catch (err) {
    throw err instanceof EdgevisorError ? err : withLines(err, name);
  }
}

/** Every detail names a line: a whole-document problem (an alias bomb) is reported at line 1. */
function withLines(err: unknown, name: string): unknown {
  // Anything else the parser throws (a stack overflow on absurd nesting) is a YAML problem too.
  if (!(err instanceof EdgevisorError)) return specInvalid(name, [`${name}:1: invalid YAML: ${(err as Error)?.message ?? String(err)}`]);
  const details = (err.details ?? []).map((d) => (d.startsWith(`${name}:`) && /^\S+:\d+/.test(d) ? d : d.replace(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:?`), `${name}:1:`)));
  return specInvalid(name, details);
}

function checked<T>(src: ReturnType<typeof parseYamlSource>, file: string, schema: ZodType<T>, check?: ConfigCheck<T>): T {
  const r = checkWithSchema(src.data, schema);
  if (!r.ok) throw specInvalid(file, formatIssues(r.issues, src));
  const issues = check ? check(r.value) : [];
  if (issues.length) throw specInvalid(file, formatIssues(issues, src));
  return r.value;
}

/** The closest of `known` to `name` (edit distance <= 2, or a case difference), for "did you mean" hints. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, k, bestD);
    if (d < bestD) { best = k; bestD = d; }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]!);
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return Math.min(prev[b.length]!, limit);
}

/**
 * A union of single-key objects (`{ rtsp: {...} } | { mjpeg: {...} }`) whose errors point into
 * the chosen option: with `source: { snapshot: { url: 5 } }` the error names
 * `source.snapshot.url`, not just "expected one of ..." at `source`. The option is picked by the
 * value's only key; anything else gets the union's own message.
 */
export function keyedUnion<U extends z.ZodUnion<readonly z.ZodObject[]>>(union: U, message: string): z.ZodType<z.output<U>, z.input<U>> {
  const options = union.options as readonly z.ZodObject[];
  return z.unknown().transform((v, ctx) => {
    const keys = v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
    const option = keys.length === 1 ? options.find((o) => keys[0]! in o.shape) : undefined;
    const r = (option ?? union).safeParse(v, { error: (iss) => zodErrorMessage(iss as Parameters<typeof zodErrorMessage>[0]) });
    if (r.success) return r.data as z.output<U>;
    if (!option) ctx.addIssue({ code: 'custom', message: `${message}, got ${v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 80)}` });
    else for (const iss of r.error.issues) ctx.addIssue({ ...(iss as object), path: iss.path } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }) as unknown as z.ZodType<z.output<U>, z.input<U>>;
}
