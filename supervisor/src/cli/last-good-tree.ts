/**
 * The tree file at `edgevisor run`, and the last good one (issue 14, item 5): a supervisor must
 * not be fooled by its own tree file. Every tree that validates is kept as the last good tree
 * (verbatim, written atomically, on the supervisor's data volume in compose:
 * EDGEVISOR_LAST_GOOD_TREE). A tree file that does not validate is refused with the messages
 * `edgevisor validate` prints; the supervisor then runs the last good tree when it has one (and
 * says so: an alarm event, a `treeFile` field in /healthz), else it exits 1 with the messages.
 *
 * What is reported (messages, /healthz, events) names the file by its base name only: no server
 * path leaves the box this way.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { EdgevisorError, codes } from '../errors.ts';
import { loadTreeFile, parseTree } from '../spec/load.ts';
import { MAX_CONFIG_BYTES } from '../spec/yaml-config.ts';
import type { TreeSpec } from '../spec/types.ts';

/** The `treeFile` field of /healthz. */
export type TreeFileHealth =
  | { status: 'ok'; file: string }
  | {
      status: 'refused';
      file: string;
      /** Line of the first problem, when the messages give one. */
      line?: number;
      /** The validator's messages (`tree.yaml:14 children[1]...: expected ...`). */
      problems: readonly string[];
      /** What runs instead: the last good tree, saved at `lastGoodSavedAt` (ISO time). */
      running: 'last_good';
      lastGoodSavedAt: string;
    };

export type TreeChoice =
  | { kind: 'file'; spec: TreeSpec; health: TreeFileHealth }
  | { kind: 'last_good'; spec: TreeSpec; health: Extract<TreeFileHealth, { status: 'refused' }> }
  /** Nothing to run: `problems` are the messages to print before exiting 1. */
  | { kind: 'refused'; problems: readonly string[] };

/** The validator's messages of a SPEC_INVALID error, server paths replaced by the file's name. */
function problemsOf(err: unknown, file: string): string[] | null {
  if (!(err instanceof EdgevisorError) || err.code !== codes.SPEC_INVALID) return null;
  const name = basename(file);
  const lines = err.details.length ? err.details : [err.message];
  return lines.map((l) => l.replaceAll(resolve(file), name).replaceAll(file, name));
}

/** Reads the file's text when it is small enough to be a tree (the validator refuses the rest). */
function readText(file: string): string | undefined {
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES) return undefined;
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // loadTreeFile reports it
  }
}

/** Writes `text` to `path` atomically (a crash leaves the old copy or the new one, never half). */
function saveAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Chooses what `run` runs. `lastGood` is where the last good tree is kept (undefined: not kept,
 * a bad file is always fatal). A valid file replaces the last good copy; failing to save it is
 * reported through `warn` and does not stop the supervisor.
 */
export function chooseTree(file: string, lastGood: string | undefined, warn: (line: string) => void): TreeChoice {
  const name = basename(file);
  const text = readText(file);
  let problems: string[];
  try {
    // The text validated is the text kept: the file could change between two reads.
    const spec = text === undefined ? loadTreeFile(file) : parseTree(text, file);
    if (lastGood && text !== undefined) {
      try {
        if (readText(lastGood) !== text) saveAtomically(lastGood, text);
      } catch (err) {
        warn(`edgevisor: cannot keep the last good tree (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a bad ${name} at the next start will not be run around`);
      }
    }
    return { kind: 'file', spec, health: { status: 'ok', file: name } };
  } catch (err) {
    const p = problemsOf(err, file);
    if (!p) throw err;
    problems = p;
  }
  const kept = lastGood ? readText(lastGood) : undefined;
  if (lastGood === undefined || kept === undefined) return { kind: 'refused', problems };
  let spec: TreeSpec;
  try {
    // Relative paths of the kept copy resolve as they did when it was the file.
    spec = parseTree(kept, file);
  } catch (err) {
    const p = problemsOf(err, file);
    if (!p) throw err;
    return { kind: 'refused', problems: [...problems, `edgevisor: the last good tree does not validate either (this version checks more): ${p[0]}`] };
  }
  const line = /^[^:\s]+:(\d+)[\s:]/.exec(problems[0] ?? '')?.[1];
  return {
    kind: 'last_good',
    spec,
    health: {
      status: 'refused',
      file: name,
      ...(line ? { line: Number(line) } : {}),
      problems,
      running: 'last_good',
      lastGoodSavedAt: statSync(lastGood).mtime.toISOString(),
    },
  };
}

/** The alarm's reason when the last good tree runs instead of the file. */
export function refusedReason(h: Extract<TreeFileHealth, { status: 'refused' }>): string {
  const n = h.problems.length;
  return `tree file ${h.file} refused (${n} problem${n === 1 ? '' : 's'}; first: ${h.problems[0]}): running the last good tree, saved ${h.lastGoodSavedAt}; fix ${h.file} and restart the supervisor`;
}
