// The embedded appliance's tree (deploy/embedded.tree.yaml, what `npm start` runs) moved to free
// ports and a temp var folder, so it runs beside another appliance, and started through
// scripts/start-embedded.mjs. For benches that need the real appliance (test/bench/embedded-watchdog);
// tests that start it their own way take the moved text (relocatedEmbeddedTree).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.ts';
import { repoRoot } from './tree.ts';

export const EMBEDDED_APPS = ['camera', 'inference', 'web', 'onvif', 'vacuum'] as const;
export type EmbeddedApp = (typeof EMBEDDED_APPS)[number];

export interface EmbeddedAppliance {
  /** Each app's HTTP port, and the supervisor API's (`api`). */
  ports: Record<EmbeddedApp | 'api', number>;
  /** GET on the supervisor API with the technician token. */
  api<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * deploy/embedded.tree.yaml's text moved to free ports and to `dir` (event store, data folders, the
 * tokens file, cwd at the checkout), and the new port of each of its ports ('7070', '8080'-'8084').
 */
export async function relocatedEmbeddedTree(dir: string): Promise<{ yaml: string; portOf: Record<string, number> }> {
  const portOf: Record<string, number> = {};
  for (const p of ['7070', '8080', '8081', '8082', '8083', '8084']) portOf[p] = await freePort();
  const yaml = readFileSync(join(repoRoot, 'deploy/embedded.tree.yaml'), 'utf8')
    .replace(/\b(7070|808[0-4])\b/g, (p) => String(portOf[p]))
    .replaceAll('cwd: ..', `cwd: ${repoRoot}`)
    .replace('store: { path: ../var/edgevisor.db }', `store: { path: ${join(dir, 'edgevisor.db')} }`)
    .replaceAll('DATA_DIR: var/inference', `DATA_DIR: ${join(dir, 'inference')}`)
    .replaceAll('DATA_DIR: var', `DATA_DIR: ${dir}`)
    .replaceAll('SUPERVISOR_TOKEN_FILE: var/tokens.env', `SUPERVISOR_TOKEN_FILE: ${join(dir, 'tokens.env')}`);
  return { yaml, portOf };
}

/** `edit` rewrites the tree's text after the ports and paths were moved (e.g. drop `notify:` lines). */
export async function startEmbedded(opts: { edit?: (yaml: string) => string; env?: Record<string, string> } = {}): Promise<EmbeddedAppliance> {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-embedded-'));
  const original: Record<string, EmbeddedApp | 'api'> = { '7070': 'api', '8080': 'web', '8081': 'camera', '8082': 'onvif', '8083': 'inference', '8084': 'vacuum' };
  const moved = await relocatedEmbeddedTree(dir);
  const ports = {} as EmbeddedAppliance['ports'];
  for (const [old, name] of Object.entries(original)) ports[name] = moved.portOf[old]!;
  let tree = moved.yaml;
  if (opts.edit) tree = opts.edit(tree);
  const file = join(dir, 'tree.yaml');
  writeFileSync(file, tree);
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, EDGEVISOR_TREE: file, EDGEVISOR_VAR_DIR: dir };
  delete env.EDGEVISOR_TECHNICIAN_TOKEN;
  delete env.EDGEVISOR_VIEWER_TOKEN;
  delete env.FRAMES_DIR; // the script makes its own per run
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'scripts/start-embedded.mjs')], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const token = await waitFor('the tokens', () => {
    try {
      return /EDGEVISOR_TECHNICIAN_TOKEN=(\S+)/.exec(readFileSync(join(dir, 'tokens.env'), 'utf8'))?.[1] ?? null;
    } catch {
      return null;
    }
  }, 30_000);
  return {
    ports,
    async api<T>(path: string) {
      const r = await fetch(`http://127.0.0.1:${ports.api}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
      if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
      return (await r.json()) as T;
    },
    async close() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
