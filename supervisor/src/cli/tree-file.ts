import { EdgevisorError, codes } from '../errors.ts';
import { loadTreeFile } from '../spec/load.ts';
import type { ChildSpec, TreeSpec } from '../spec/types.ts';
import type { Output } from './commands.ts';
import { CliError, exitCodes } from './errors.ts';

/** Loads a tree file, turning validation failures into a CliError that lists every problem. */
export async function loadTreeOrExit(file: string): Promise<TreeSpec> {
  try {
    return await loadTreeFile(file);
  } catch (err) {
    if (err instanceof EdgevisorError && err.code === codes.SPEC_INVALID) {
      // The details are complete messages (`tree.yaml:14 children[1]...: expected ...`): print
      // them as they are, one per line, and nothing else.
      const lines = err.details.length ? err.details : [err.message];
      throw new CliError(lines[0]!, exitCodes.usage, { lines: lines.slice(1), bare: true });
    }
    throw err;
  }
}

function countNodes(children: readonly ChildSpec[]): number {
  let n = 0;
  for (const c of children) n += 1 + (c.type === 'supervisor' ? countNodes(c.children) : 0);
  return n;
}

/** `validate`: "ok: N children" (every node below the root, nested supervisors included). */
export async function validateCommand(io: Output, file: string): Promise<void> {
  const spec = await loadTreeOrExit(file);
  io.out(`ok: ${countNodes(spec.root.children)} children`);
}
