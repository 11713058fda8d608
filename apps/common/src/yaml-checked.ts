/**
 * YAML config files with checks beyond one schema: cross-references (a zone's camera must exist,
 * its class must be one the model reports) that need context the schema does not have. The
 * issues of both steps come out in one error, each `file.yaml:LINE field.path: message`, ordered
 * by line, through the supervisor's shared implementation (supervisor/src/spec/yaml-config.ts).
 */
import type { ZodType } from 'zod';
import { checkWithSchema, formatIssues, parseYamlSource, readYamlSource, specInvalid, type SpecIssue } from '../../../supervisor/src/spec/yaml-config.ts';

export type { SpecIssue };

/** Checks of a schema-valid value: one issue per problem, with the path of the offending field. */
export type ConfigCheck<T> = (value: T) => SpecIssue[];

/** Reads `path`, validates it with `schema`, then runs `check`; throws SPEC_INVALID listing every problem with its line. */
export function loadCheckedYaml<T>(path: string, schema: ZodType<T>, check?: ConfigCheck<T>): T {
  return checked(readYamlSource(path), path, schema, check);
}

/** The same for text already in memory (tests, fuzzing); `file` names it in the messages. */
export function parseCheckedYaml<T>(text: string, file: string, schema: ZodType<T>, check?: ConfigCheck<T>): T {
  return checked(parseYamlSource(text, file), file, schema, check);
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
