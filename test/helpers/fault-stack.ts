/**
 * The real compose stack for the fault suite and its benchmark: compose.yaml plus
 * test/e2e/faults.compose.yaml under a throwaway project name, free host ports, the checkout's
 * image (EDGEVISOR_TEST_IMAGE_TAG), and the supervisor's Docker socket through a tap proxy the
 * test can cut. Containers are read with the docker CLI (an independent view of the engine);
 * the supervisor through its published control API.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER_SOCKET, docker } from './docker.ts';
import { APP_IMAGE, ensureImages } from './images.ts';
import { freePort, waitFor } from './net.ts';
import { mountTmpfs, type Tmpfs } from './tmpfs.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const APPS = ['web', 'onvif', 'camera', 'inference', 'vacuum'] as const;
export type App = (typeof APPS)[number];
export const SERVICES = ['supervisor', ...APPS] as const;
export type Service = (typeof SERVICES)[number];
const PORT_ENV: Record<Service, string> = {
  supervisor: 'EDGEVISOR_API_PORT', web: 'EDGEVISOR_WEB_PORT', camera: 'EDGEVISOR_CAMERA_PORT',
  onvif: 'EDGEVISOR_ONVIF_PORT', inference: 'EDGEVISOR_INFERENCE_PORT', vacuum: 'EDGEVISOR_VACUUM_PORT',
};

/**
 * A unix-socket forwarder to the engine that knows which connections are events streams
 * (`GET /v*\/events`): `cutEvents()` drops only those (the engine and every other call stay up),
 * `eventsConnections` counts how many the supervisor has opened.
 */
export interface TapProxy {
  path: string;
  readonly eventsConnections: number;
  readonly openEventsStreams: number;
  cutEvents(): number;
  close(): Promise<void>;
}

export async function createTapProxy(target = DOCKER_SOCKET): Promise<TapProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'ev-faults-sock-'));
  const path = join(dir, 'docker.sock');
  const open = new Set<Socket>();
  const events = new Set<Socket>();
  let eventsConnections = 0;
  const server = createServer((client) => {
    const upstream = createConnection(target);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      events.delete(client);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (/^GET \/(v[\d.]+\/)?events\b/.test(chunk.subarray(0, 64).toString('latin1')) && !events.has(client)) {
        events.add(client);
        eventsConnections++;
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
  chmodSync(path, 0o660);
  return {
    path,
    get eventsConnections() { return eventsConnections; },
    get openEventsStreams() { return events.size; },
    cutEvents() {
      const n = events.size;
      for (const s of [...events]) s.destroy();
      return n;
    },
    async close() {
      for (const s of [...open]) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ContainerState {
  id: string;
  running: boolean;
  paused: boolean;
  startedAt: string;
  restartCount: number;
  oomKilled: boolean;
  pid: number;
}

export interface TreeNodeView {
  id: string;
  state: string;
  restarts: number;
}

export interface SupervisorEvent {
  seq: number;
  ts: number;
  type: string;
  child: string;
  from?: string;
  to?: string;
  reason: string;
  data?: Record<string, unknown>;
}

export interface FaultStack {
  project: string;
  proxy: TapProxy;
  /** inference's data volume: a size-limited tmpfs on the host, bound into the container. */
  inferenceData: Tmpfs;
  port: Record<Service, number>;
  url(service: Service): string;
  /** Runs compose for this project with the given arguments. */
  compose(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** The service's container id (running or not). */
  container(service: Service): Promise<string>;
  inspect(service: Service): Promise<ContainerState>;
  /** Host pid of the app's node process (the child of the container's init). */
  nodePid(service: Service): Promise<number>;
  api<T = unknown>(path: string, opts?: { method?: string; technician?: boolean }): Promise<{ status: number; body: T }>;
  tree(): Promise<Map<string, TreeNodeView>>;
  events(since?: number): Promise<SupervisorEvent[]>;
  /** Every tree node running and every app's /healthz answering 200. */
  whole(): Promise<boolean>;
  down(): Promise<void>;
}

function run(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((res, rej) => {
    execFile(file, args, { cwd: root, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${file} ${args.join(' ')}: ${(stderr || err.message).trim().split('\n').slice(-10).join('\n')}`));
      else res(stdout.trim());
    });
  });
}

async function composeCommand(): Promise<string[]> {
  if (await run('docker', ['compose', 'version'], { timeoutMs: 10_000 }).then(() => true, () => false)) return ['docker', 'compose'];
  return ['docker-compose'];
}

/**
 * Brings the stack up and waits until it is whole. `dockerAlone` (the benchmark's baseline): the
 * apps only, no supervisor, with Docker's restart policy and compose's HEALTHCHECK as shipped
 * (test/bench/faults-docker-alone.compose.yaml); whole = every app's /healthz answers.
 */
export async function startFaultStack(opts: { prefix?: string; inferenceMb?: number; dockerAlone?: boolean; camerasFile?: string } = {}): Promise<FaultStack> {
  await ensureImages();
  const project = `${opts.prefix ?? 'evfaults'}${randomBytes(3).toString('hex')}`;
  const proxy = await createTapProxy();
  const inferenceData = mountTmpfs(`${opts.inferenceMb ?? 48}m`);
  // The site directory (EDGEVISOR_SITE, mounted at /etc/edgevisor): the suite's tree and cameras,
  // the shipped zones.
  const site = mkdtempSync(join(tmpdir(), 'ev-faults-site-'));
  // Mounted read-only into containers that run as the apps' user (10001): readable by others.
  chmodSync(site, 0o755);
  copyFileSync(join(root, 'test/e2e/faults.tree.yaml'), join(site, 'tree.yaml'));
  copyFileSync(opts.camerasFile ?? join(root, 'test/e2e/faults.cameras.yaml'), join(site, 'cameras.yaml'));
  copyFileSync(join(root, 'deploy/site/zones.yaml'), join(site, 'zones.yaml'));
  const port = {} as Record<Service, number>;
  for (const s of SERVICES) port[s] = await freePort();
  const viewer = `viewer-${randomBytes(8).toString('hex')}`;
  const technician = `tech-${randomBytes(8).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    EDGEVISOR_IMAGE: APP_IMAGE,
    EDGEVISOR_VERSION: `faults-${project}`,
    EDGEVISOR_VIEWER_TOKEN: viewer,
    EDGEVISOR_TECHNICIAN_TOKEN: technician,
    EDGEVISOR_BIND: '127.0.0.1',
    EV_FAULTS_DOCKER_SOCK: proxy.path,
    EV_FAULTS_INFERENCE_DIR: inferenceData.dir,
    EDGEVISOR_SITE: site,
  };
  for (const s of SERVICES) env[PORT_ENV[s]] = String(port[s]);
  const cmd = await composeCommand();
  const compose = (args: readonly string[], timeoutMs = 300_000) =>
    run(cmd[0]!, [...cmd.slice(1), '-p', project, '-f', 'compose.yaml', '-f', 'test/e2e/faults.compose.yaml', ...(opts.dockerAlone ? ['-f', 'test/bench/faults-docker-alone.compose.yaml'] : []), ...args], { env, timeoutMs });
  const url = (s: Service) => `http://127.0.0.1:${port[s]}`;

  const container = async (service: Service) => {
    const id = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`], 15_000);
    if (!id) throw new Error(`no container of ${service} in ${project}`);
    return id.split('\n')[0]!;
  };
  const api = async <T>(path: string, o: { method?: string; technician?: boolean } = {}) => {
    const res = await fetch(`${url('supervisor')}${path}`, { method: o.method ?? 'GET', signal: AbortSignal.timeout(5000), headers: { authorization: `Bearer ${o.technician ? technician : viewer}` } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const tree = async () => {
    const r = await api<{ nodes: TreeNodeView[] }>('/v1/tree');
    if (r.status !== 200) throw new Error(`GET /v1/tree: ${r.status}`);
    return new Map(r.body.nodes.map((n) => [n.id, n]));
  };
  const healthy = async (s: Service) => (await fetch(`${url(s)}/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined))?.status === 200;

  const stack: FaultStack = {
    project,
    proxy,
    inferenceData,
    port,
    url,
    compose,
    container,
    async inspect(service) {
      const id = await container(service);
      const out = await docker(['inspect', '--format', '{{json .State}}|{{.RestartCount}}', id], 15_000);
      const [state, rc] = out.split('|');
      const s = JSON.parse(state!);
      return { id, running: s.Running, paused: s.Paused, startedAt: s.StartedAt, restartCount: Number(rc), oomKilled: s.OOMKilled, pid: s.Pid };
    },
    async nodePid(service) {
      // docker top: PID PPID CMD; the node process is the one whose command starts with node.
      const out = await docker(['top', await container(service), '-o', 'pid,args'], 15_000);
      const row = out.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).find((f) => f[1] === 'node');
      if (!row) throw new Error(`no node process in ${service}:\n${out}`);
      return Number(row[0]);
    },
    api,
    tree,
    async events(since = 0) {
      const all: SupervisorEvent[] = [];
      for (let from = since; ;) {
        const r = await api<{ events: SupervisorEvent[] }>(`/v1/events?since=${from}&limit=1000`);
        all.push(...r.body.events);
        if (r.body.events.length < 1000) return all;
        from = r.body.events.at(-1)!.seq;
      }
    },
    async whole() {
      if (opts.dockerAlone) return (await Promise.all(APPS.map(healthy))).every(Boolean);
      const t = await tree().catch(() => undefined);
      // The supervisor's own children; an app's inner nodes (camera/dock) are the app's business.
      if (!t || ![...t.values()].every((n) => n.id.includes('/') || n.state === 'running')) return false;
      return (await Promise.all(SERVICES.map(healthy))).every(Boolean);
    },
    async down() {
      await compose(['down', '-v', '--remove-orphans', '-t', '5'], 120_000).catch(() => {});
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).catch(() => '');
      if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => {});
      const vols = await docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).catch(() => '');
      if (vols) await docker(['volume', 'rm', '-f', ...vols.split('\n')]).catch(() => {});
      await docker(['network', 'rm', `${project}_default`]).catch(() => {});
      await proxy.close();
      inferenceData.remove();
      rmSync(site, { recursive: true, force: true });
    },
  };
  try {
    await compose(['up', '-d', '--remove-orphans', ...(opts.dockerAlone ? APPS : [])], 600_000);
    await waitFor('the fault stack whole (every node running, every /healthz 200)', () => stack.whole(), 240_000, 1000);
  } catch (err) {
    const logs = await compose(['logs', '--tail', '30', 'supervisor'], 30_000).catch(() => '');
    await stack.down();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return stack;
}
