// Shared setup for the API and CLI integration tests: a real tree of http-child.js processes,
// a real SQLite store in a temp dir, the real API on 127.0.0.1:0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { openEventStore } from '../../supervisor/src/store/sqlite-store.ts';
import type { EventStore } from '../../supervisor/src/store/types.ts';
import { parseSseFrame } from '../../supervisor/src/cli/commands.ts';
import { freePort } from '../helpers/net.ts';
import { readSseFrames } from '../helpers/sse.ts';

export const fixture = resolve('test/fixtures/http-child.js');
export const VIEWER = 'viewer-token-123';
export const TECH = 'technician-token-456';

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-api-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A tree object (YAML shape) of http-child workers with an HTTP liveness probe each. */
export async function childrenTree(name: string, ids: readonly string[]): Promise<Record<string, unknown>> {
  const children = [];
  for (const id of ids) {
    const port = await freePort();
    children.push({
      id,
      shutdown: '2s',
      process: { command: [process.execPath, fixture], env: { PORT: String(port) } },
      probes: [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '250ms', timeout: '1s', failures: 3, startup_grace: '5s' }],
    });
  }
  return { version: 1, name, strategy: 'one_for_one', intensity: 10, period: '10s', backoff: { initial: '100ms', max: '1s', reset_after: '10s' }, children };
}

export interface Service {
  tree: Tree;
  store: EventStore;
  app: FastifyInstance;
  url: string;
  /** Stops the tree, closes the API and the store (as `run` does on SIGTERM). */
  close(): Promise<void>;
}

export async function startService(
  treeObj: Record<string, unknown>,
  dbPath: string,
  tokens: { viewer?: string; technician?: string } = { viewer: VIEWER, technician: TECH },
  sseHeartbeatMs?: number,
): Promise<Service> {
  const spec = parseTreeObject(treeObj);
  const store = openEventStore(dbPath, { retainEvents: 10_000 });
  const tree = createTree(spec, { sink: store, backends: defaultBackends(), baseDir: process.cwd() });
  const app = buildApi({ tree, store, tokens, sseHeartbeatMs });
  const url = await listenApi(app, { host: '127.0.0.1', port: 0 });
  await tree.start();
  let closed: Promise<void> | undefined;
  return {
    tree,
    store,
    app,
    url,
    close: () =>
      (closed ??= (async () => {
        await tree.stop();
        await app.close();
        store.close();
      })()),
  };
}

export async function call(url: string, opts: { method?: string; token?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  const res = await fetch(url, { method: opts.method ?? 'GET', headers, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

/** A test SSE client: collects events; `next(n)` waits for n more. */
export async function openSse(url: string, token: string, headers: Record<string, string> = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, ...headers }, signal: ctl.signal });
  const events: TreeEvent[] = [];
  const raw: string[] = [];
  let waiters: (() => void)[] = [];
  const pump = readSseFrames(res.body!, (frame) => {
    raw.push(frame);
    const ev = parseSseFrame(frame);
    if (ev) events.push(ev);
    waiters.forEach((w) => w());
    waiters = [];
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    raw,
    /** Waits until `pred(events)` holds. */
    async until(what: string, pred: (evs: TreeEvent[]) => boolean, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(events)) {
        if (Date.now() > deadline) throw new Error(`SSE: timed out waiting for ${what}; got seqs ${events.map((e) => e.seq).join(',')}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    async close() {
      ctl.abort();
      await pump;
    },
  };
}
