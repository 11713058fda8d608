import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTree } from '../../supervisor/src/spec/load.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { freePort, waitFor } from './net.ts';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const httpChild = join(repoRoot, 'test/fixtures/http-child.js');

/** A running tree of real processes built from YAML, with every event recorded. */
export interface TreeHarness {
  tree: Tree;
  events: TreeEvent[];
  dir: string;
  state(id: string): string | undefined;
  pid(id: string): number | undefined;
  restarts(id: string): number;
  /** Ordered states `id` went through (transition targets). */
  path(id: string): string[];
  close(): Promise<void>;
}

/** Free ports for the given names, e.g. { web: 40123, camera: 40124 }. */
export async function ports<K extends string>(...names: K[]): Promise<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const n of names) out[n] = await freePort();
  return out;
}

export async function startTree(yaml: string, opts: { start?: boolean } = {}): Promise<TreeHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-tree-'));
  const spec = parseTree(yaml, join(dir, 'tree.yaml'));
  const errors: unknown[] = [];
  const tree = createTree(spec, { backends: defaultBackends(), baseDir: repoRoot, onInternalError: (e) => errors.push(e) });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  if (opts.start !== false) await tree.start();
  const node = (id: string) => tree.child(id);
  return {
    tree,
    events,
    dir,
    state: (id) => node(id)?.state,
    pid: (id) => node(id)?.info?.pid as number | undefined,
    restarts: (id) => node(id)?.restarts ?? -1,
    path: (id) => events.filter((e) => e.type === 'transition' && e.child === id).map((e) => e.to!),
    async close() {
      await tree.stop();
      rmSync(dir, { recursive: true, force: true });
      if (errors.length) throw new Error(`internal errors during the test: ${errors.map(String).join('; ')}`);
    },
  };
}

export async function post(url: string): Promise<void> {
  await fetch(url, { method: 'POST', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
}

export { waitFor };
