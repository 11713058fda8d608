/**
 * The whole box for dashboard tests: a real supervision tree with its control API (in process, as
 * `edgevisor run` builds it) supervising the camera app (two synthetic cameras), the inference app
 * and the web app as real processes on free loopback ports, plus a spare `crashy` http-child the
 * tests can kill. The web app reads the supervisor's tokens from a token file, as `npm start` has.
 * The inference app's SQLite file is opened here too, so tests can append safety events.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { openEventStore as openTreeStore } from '../../supervisor/src/store/sqlite-store.ts';
import { openEventStore, type EventStore } from '../../apps/inference/src/events/store.ts';
import { freePort, waitFor } from './net.ts';

export const TECH_TOKEN = 'tech-token-for-dashboard-tests-0001';
export const VIEWER_TOKEN = 'viewer-token-for-dashboard-tests-01';

export interface DashboardStack {
  dir: string;
  tree: Tree;
  api: FastifyInstance;
  ports: { supervisor: number; camera: number; inference: number; web: number; crashy: number; vacuum: number };
  web: string;
  events: TreeEvent[];
  /** Appends n safety events for `camera` (zone press-guard, class motion); returns their ids. */
  append(n: number, camera?: string): number[];
  store: EventStore;
  pid(child: string): number | undefined;
  close(): Promise<void>;
}

const node = process.execPath;
const repo = resolve(import.meta.dirname, '../..');

/**
 * `vacuum`: also supervise the vacuum app with this config file text (YAML; relative paths against
 * its data dir DIR/vacuum) and point the web app at it (VACUUM_URL).
 */
export async function startDashboardStack(opts: { webEnv?: Record<string, string>; vacuum?: string } = {}): Promise<DashboardStack> {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-stack-'));
  const ports = { supervisor: await freePort(), camera: await freePort(), inference: await freePort(), web: await freePort(), crashy: await freePort(), vacuum: await freePort() };
  writeFileSync(join(dir, 'tokens.env'), `EDGEVISOR_VIEWER_TOKEN=${VIEWER_TOKEN}\nEDGEVISOR_TECHNICIAN_TOKEN=${TECH_TOKEN}\n`, { mode: 0o600 });
  // press has a detect size at the motion model's input: its frames reach inference through the
  // frame ring in the FRAMES_DIR both apps get (dock's as JPEGs), as on the real box.
  writeFileSync(join(dir, 'cameras.yaml'), ['cameras:', ...['dock', 'press'].flatMap((id) => [`  - id: ${id}`, '    source: { synthetic: { period_s: 6 } }', '    fps: 5', '    width: 320', '    height: 180', ...(id === 'press' ? ['    detect: { width: 320, height: 320 }'] : [])])].join('\n') + '\n');
  writeFileSync(join(dir, 'zones.yaml'), 'cameras:\n  dock:\n    zones:\n      - id: forklift-lane\n        polygon: [[0.66, 0.0], [1.0, 0.0], [1.0, 1.0], [0.66, 1.0]]\n        rules:\n          - { class: motion, dwell: 1s }\n');
  if (opts.vacuum) {
    mkdirSync(join(dir, 'vacuum'));
    writeFileSync(join(dir, 'vacuum.yaml'), opts.vacuum);
  }
  const health = (port: number) => [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '500ms', timeout: '1s', failures: 3, startup_grace: '30s' }];
  const app = (name: string, port: number, env: Record<string, string>) => ({
    id: name, shutdown: '3s',
    process: { command: [node, '--import', 'tsx', `apps/${name}/src/main.ts`], cwd: repo, env: { PORT: String(port), HOST: '127.0.0.1', ...env } },
    probes: health(port),
  });
  // The camera app's workers merge under camera (camera/dock) where the supervisor supports
  // `inner_tree` (the tree helper's branch); without it the tree has the subsystems only.
  const withInner = (tree: Record<string, unknown> & { children: Record<string, unknown>[] }) => {
    try {
      const t = structuredClone(tree);
      t.children[0]!['inner_tree'] = { url: `http://127.0.0.1:${ports.camera}`, every: '500ms', timeout: '500ms' };
      return parseTreeObject(t);
    } catch {
      return parseTreeObject(tree);
    }
  };
  const spec = withInner({
    version: 1, name: 'box', strategy: 'one_for_one', intensity: 20, period: '30s', backoff: { initial: '200ms', max: '2s', reset_after: '30s' },
    children: [
      app('camera', ports.camera, { CAMERAS_FILE: join(dir, 'cameras.yaml'), FRAMES_DIR: join(dir, 'frames') }),
      app('inference', ports.inference, { CAMERA_URL: `http://127.0.0.1:${ports.camera}`, DATA_DIR: join(dir, 'inference'), ZONES_FILE: join(dir, 'zones.yaml'), FRAMES_DIR: join(dir, 'frames') }),
      app('web', ports.web, {
        INFERENCE_URL: `http://127.0.0.1:${ports.inference}`, CAMERA_URL: `http://127.0.0.1:${ports.camera}`, SUPERVISOR_URL: `http://127.0.0.1:${ports.supervisor}`,
        SUPERVISOR_TOKEN_FILE: join(dir, 'tokens.env'), DATA_DIR: dir, WEB_EVENTS_POLL_MS: '200',
        ...(opts.vacuum ? { VACUUM_URL: `http://127.0.0.1:${ports.vacuum}` } : {}), ...opts.webEnv,
      }),
      { id: 'crashy', shutdown: '1s', process: { command: [node, join(repo, 'test/fixtures/http-child.js')], env: { PORT: String(ports.crashy) } }, probes: health(ports.crashy) },
      ...(opts.vacuum ? [app('vacuum', ports.vacuum, { DATA_DIR: join(dir, 'vacuum'), VACUUM_CONFIG: join(dir, 'vacuum.yaml') })] : []),
    ],
  });
  const treeStore = openTreeStore(join(dir, 'edgevisor.db'), { retainEvents: 10_000 });
  const tree = createTree(spec, { sink: treeStore, backends: defaultBackends(), baseDir: repo });
  const events: TreeEvent[] = [];
  tree.onEvent((e) => events.push(e));
  const api = buildApi({ tree, store: treeStore, tokens: { viewer: VIEWER_TOKEN, technician: TECH_TOKEN } });
  await listenApi(api, { host: '127.0.0.1', port: ports.supervisor });
  await tree.start();
  const web = `http://127.0.0.1:${ports.web}`;
  await waitFor('web /healthz', async () => (await fetch(`${web}/healthz`, { signal: AbortSignal.timeout(1000) })).ok, 60_000, 200);
  const store = openEventStore(join(dir, 'inference', 'events.db'));
  const snap = join(dir, 'inference', 'snapshots', 'test-snap.jpg');
  mkdirSync(dirname(snap), { recursive: true });
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c03030' } }).jpeg().toFile(snap);
  let closed: Promise<void> | undefined;
  return {
    dir, tree, api, ports, web, events, store,
    append(n, camera = 'dock') {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        const ts = Date.now();
        ids.push(store.append({ ts, camera, zone: 'forklift-lane', cls: 'motion', score: 0.9, boxes: [{ x1: 0.7, y1: 0.2, x2: 0.8, y2: 0.9, cls: 'motion', score: 0.9 }], snapshot: basename(snap), episodeStart: ts - 2000 }).id);
      }
      return ids;
    },
    pid: (child) => tree.child(child)?.info?.pid as number | undefined,
    close: () => (closed ??= (async () => {
      await tree.stop();
      await api.close();
      treeStore.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    })()),
  };
}
