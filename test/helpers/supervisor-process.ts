/**
 * A real `edgevisor run TREE.yaml` process for hardening tests: spawned with only the env the test
 * gives (plus PATH), its output collected, its API URL read from its first line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from './net.ts';

export const edgevisorBin = resolve(import.meta.dirname, '../../bin/edgevisor.mjs');
export const TEST_VIEWER = 'viewer-token-hardening-1';
export const TEST_TECH = 'technician-token-hardening-2';

export interface SupervisorProcess {
  child: ChildProcess;
  pid: number;
  /** Base URL of the control API (after `ready`). */
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** GET/POST on the API with the technician token; JSON body when there is one. */
  api(path: string, opts?: { method?: string; token?: string | null }): Promise<{ status: number; body: any }>;
  /** State of a node in /v1/tree, or undefined. */
  state(id: string): Promise<string | undefined>;
  /** SIGKILL if still running, and wait for the exit. */
  kill(): Promise<void>;
}

export async function startSupervisor(treeFile: string, opts: { env?: Record<string, string>; cwd?: string; readyTimeoutMs?: number } = {}): Promise<SupervisorProcess> {
  const env = { PATH: process.env['PATH'] ?? '', EDGEVISOR_VIEWER_TOKEN: TEST_VIEWER, EDGEVISOR_TECHNICIAN_TOKEN: TEST_TECH, ...opts.env };
  const child = spawn(process.execPath, [edgevisorBin, 'run', treeFile], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const url = await waitFor(
    'the supervisor API URL',
    () => {
      if (done) throw new Error(`the supervisor exited; stdout: ${out} stderr: ${err}`);
      return /API listening on (http:\/\/\S+)/.exec(out)?.[1];
    },
    opts.readyTimeoutMs ?? 20_000,
  ).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  const api: SupervisorProcess['api'] = async (path, o = {}) => {
    const token = o.token === undefined ? TEST_TECH : o.token;
    const res = await fetch(url + path, { method: o.method ?? 'GET', headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body };
  };
  return {
    child,
    pid: child.pid!,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    api,
    async state(id) {
      const r = await api('/v1/tree');
      return (r.body?.nodes as { id: string; state: string }[] | undefined)?.find((n) => n.id === id)?.state;
    },
    async kill() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
}

export { waitFor };
