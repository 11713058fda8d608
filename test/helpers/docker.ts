/**
 * Docker test helpers: a tiny node image built offline, per-test compose-labelled containers of
 * test/fixtures/http-child.js, and a cuttable unix-socket proxy in front of the engine.
 * Containers are driven with the docker CLI (not our client), so tests check our backend against
 * an independent view of the engine.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, chmodSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './net.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = resolve(here, '..', 'fixtures');
export const DOCKER_SOCKET = '/var/run/docker.sock';
/** Bump the tag when the recipe below changes. */
export const TEST_IMAGE = 'edgevisor-testnode:2';
const BASE_IMAGE = 'edgevisor-base:local';

/** Runs the docker CLI with a timeout; rejects with stderr in the message. */
export function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else res(stdout.trim());
    });
  });
}

function sh(script: string, timeoutMs = 180_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile('sh', ['-c', script], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${script.slice(0, 80)}...: ${stderr.trim() || err.message}`));
      else res(stdout.trim());
    });
  });
}

/**
 * Why Docker tests cannot run here, or null when they can. With EDGEVISOR_REQUIRE_DOCKER=1 an
 * unreachable engine throws instead, so CI fails rather than skipping.
 */
export async function dockerUnavailable(): Promise<string | null> {
  let reason: string | null = null;
  try {
    await docker(['version', '--format', '{{.Server.Version}}'], 10_000);
  } catch (err) {
    reason = `Docker engine not reachable (${(err as Error).message.split('\n')[0]})`;
  }
  if (reason && process.env.EDGEVISOR_REQUIRE_DOCKER === '1') throw new Error(`${reason}; EDGEVISOR_REQUIRE_DOCKER=1 forbids skipping`);
  return reason;
}

let imageP: Promise<string> | undefined;
/**
 * `edgevisor-base:local` if the docker/ builder made it, else a minimal image imported from a
 * tarball of this machine's node binary and the libraries ldd lists (no registry needed).
 * A file lock keeps parallel test runs from building it twice.
 */
export function ensureTestImage(): Promise<string> {
  return (imageP ??= (async () => {
    if (await docker(['image', 'inspect', BASE_IMAGE], 15_000).then(() => true, () => false)) return BASE_IMAGE;
    const script = `
      set -e
      docker image inspect ${TEST_IMAGE} >/dev/null 2>&1 && exit 0
      node=$(command -v node)
      d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
      mkdir -p "$d/root/tmp" "$d/root/fixtures" "$d/root/usr/local/bin"; chmod 1777 "$d/root/tmp"
      cp "$node" "$d/root/usr/local/bin/node"
      tar -C "$d/root" -cf "$d/img.tar" tmp fixtures usr
      # /bin/sh (dash: libc only) because docker runs --health-cmd through a shell.
      mkdir -p "$d/root/bin"; cp "$(readlink -f /bin/sh)" "$d/root/bin/sh"
      tar -C "$d/root" -rf "$d/img.tar" bin
      tar -rhf "$d/img.tar" $(ldd "$node" | grep -o '/[^ ]*') 2>/dev/null
      docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' "$d/img.tar" ${TEST_IMAGE} >/dev/null`;
    await sh(`flock /tmp/edgevisor-test-image.lock sh -c '${script.replace(/'/g, `'\\''`)}'`);
    return TEST_IMAGE;
  })());
}

/**
 * The fixture binds 127.0.0.1, which a published port cannot reach inside a container; this
 * wrapper makes it bind all of the container's interfaces (the host side stays 127.0.0.1 only).
 */
const CHILD_CMD = [
  'node',
  '-e',
  "const http=require('http');const l=http.Server.prototype.listen;http.Server.prototype.listen=function(p,h,...r){return l.call(this,p,h==='127.0.0.1'?'0.0.0.0':h,...r)};import('/fixtures/http-child.js')",
];

export interface TestContainer {
  id: string;
  name: string;
  service: string;
  /** Host port (127.0.0.1) of the container's HTTP server. */
  port: number;
  url: string;
}

export interface ServiceOptions {
  env?: Record<string, string>;
  /** Create without compose labels (a container that is not ours). */
  foreign?: boolean;
  /** Add the one-off label (a `docker compose run` container). */
  oneoff?: boolean;
  /** Restart policy (default "no"). */
  restart?: string;
  /** Docker HEALTHCHECK on /healthz with this interval/retries (benchmarks). */
  healthcheck?: { intervalS: number; retries: number; timeoutS?: number };
  /** Extra labels. */
  labels?: Record<string, string>;
  /** Extra `-v` mounts (`host:container[:ro]`). */
  volumes?: readonly string[];
}

/** A compose project made by hand: containers with the labels `docker compose up --no-start` sets. */
export interface TestProject {
  name: string;
  /** Creates (does not start) one service container. */
  create(service: string, opts?: ServiceOptions): Promise<TestContainer>;
  inspect(id: string): Promise<{ running: boolean; paused: boolean; startedAt: string; restartCount: number; exitCode: number; status: string }>;
  /** Removes every container it created (force). */
  cleanup(): Promise<void>;
}

export async function createTestProject(prefix = 'ev-test'): Promise<TestProject> {
  const image = await ensureTestImage();
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const made: string[] = [];
  return {
    name,
    async create(service, opts = {}) {
      const port = await freePort();
      const cname = `${name}-${service}-${opts.foreign ? 'foreign' : opts.oneoff ? 'run' : '1'}`;
      const labels: Record<string, string> = { ...(opts.labels ?? {}) };
      if (!opts.foreign) {
        labels['com.docker.compose.project'] = name;
        labels['com.docker.compose.service'] = service;
        labels['com.docker.compose.container-number'] = '1';
        labels['com.docker.compose.oneoff'] = opts.oneoff ? 'True' : 'False';
      }
      const args = ['create', '--name', cname, '--init', '--restart', opts.restart ?? 'no', '-p', `127.0.0.1:${port}:8080`, '-v', `${FIXTURES}:/fixtures:ro`, '-e', 'PORT=8080'];
      for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-e', `${k}=${v}`);
      for (const v of opts.volumes ?? []) args.push('-v', v);
      for (const [k, v] of Object.entries(labels)) args.push('--label', `${k}=${v}`);
      if (opts.healthcheck) {
        const h = opts.healthcheck;
        const probe = "require('http').get('http://127.0.0.1:8080/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))";
        args.push('--health-cmd', `node -e "${probe}"`, '--health-interval', `${h.intervalS}s`, '--health-retries', String(h.retries), '--health-timeout', `${h.timeoutS ?? h.intervalS}s`);
      }
      args.push(image, ...CHILD_CMD);
      const id = await docker(args);
      made.push(id);
      return { id, name: cname, service, port, url: `http://127.0.0.1:${port}` };
    },
    async inspect(id) {
      const out = await docker(['inspect', '--format', '{{json .State}}|{{.RestartCount}}', id], 15_000);
      const [state, rc] = out.split('|');
      const s = JSON.parse(state!);
      return { running: s.Running, paused: s.Paused, startedAt: s.StartedAt, restartCount: Number(rc), exitCode: s.ExitCode, status: s.Status };
    },
    async cleanup() {
      if (made.length) await docker(['rm', '-f', '-v', ...made], 60_000).catch(() => {});
    },
  };
}

/** Waits until GET `url`/healthz answers 200. */
export async function waitHealthy(url: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${url}/healthz`, async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok, timeoutMs, 25);
}

/** POSTs a fault to the fixture (/fail/crash, /fail/stall...). */
export async function fault(url: string, what: string): Promise<void> {
  await fetch(`${url}/fail/${what}`, { method: 'POST', signal: AbortSignal.timeout(3000) }).catch(() => {});
}

/**
 * A unix-socket forwarder to the Docker socket that a test can cut: cut() destroys every open
 * connection (the events stream drops as if the engine restarted) and, while `down`, refuses new
 * ones by closing them at once.
 */
export interface SocketProxy {
  path: string;
  /** Drop all current connections; refuse new ones for `downMs`. */
  cut(downMs?: number): void;
  close(): Promise<void>;
}

export async function createSocketProxy(target = DOCKER_SOCKET): Promise<SocketProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'ev-dproxy-'));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'docker.sock');
  const open = new Set<Socket>();
  let downUntil = 0;
  const server: Server = createServer((client) => {
    if (Date.now() < downUntil) return void client.destroy();
    const upstream = createConnection(target);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((res, rej) => server.once('error', rej).listen(path, () => res()));
  chmodSync(path, 0o600);
  return {
    path,
    cut(downMs = 0) {
      downUntil = Date.now() + downMs;
      for (const s of [...open]) s.destroy();
      open.clear();
    },
    async close() {
      for (const s of [...open]) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
