// Every backend against one list of cases (test/helpers/backend-conformance.ts): process, inproc,
// thread, docker (the real engine, the test image) and a user's backend registered with
// registerBackend and built from a `custom:` child, as a library user would.
import { after, before } from 'node:test';
import { join } from 'node:path';
import { createInprocUnit, createProcessUnit, createThreadUnit, backendKey, defaultBackends, registerBackend } from '../../supervisor/src/backends/index.ts';
import { createDockerBackend, type DockerBackend } from '../../supervisor/src/backends/docker/index.ts';
import type { BackendContext, Unit } from '../../supervisor/src/backends/types.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import type { BackendSpec, WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { describeConformance, type Behaviour } from '../helpers/backend-conformance.ts';
import { createTestProject, dockerUnavailable, waitHealthy, type TestContainer, type TestProject } from '../helpers/docker.ts';
import { repoRoot } from '../helpers/tree.ts';
import { waitFor } from '../helpers/net.ts';
import * as workers from '../fixtures/workers.ts';

const ctx: BackendContext = { baseDir: repoRoot };
const WORKERS = join(repoRoot, 'test/fixtures/workers.ts');
/** A module whose import never finishes (top-level await forever). */
const HANG = join(repoRoot, 'test/fixtures/hang-start.mjs');
const worker = (id: string, backend: BackendSpec): WorkerSpec => ({
  type: 'worker',
  id,
  restart: 'permanent',
  shutdown: { kind: 'grace', graceMs: 1000 },
  hungShutdown: { kind: 'brutal_kill' },
  backend,
  probes: [],
});

// Shell runs: "ready" once the trap is in place. A stubborn run ignores SIGTERM in every process
// of its group (an ignored signal stays ignored across exec).
const SH: Record<Behaviour, string> = {
  clean: 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done',
  stubborn: 'trap "" TERM; echo ready; while :; do sleep 0.05; done',
  crash: 'echo ready; sleep 0.2; exit 3',
};
// The child's own stdout line, not the "started pid N: sh -c ... echo ready" note that names the command.
const logsReady = (unit: Unit) => waitFor('ready line', () => unit.logs().some((l) => l === 'stdout| ready'), 20_000, 10).then(() => undefined);

describeConformance('process', {
  make: (b) => createProcessUnit(worker(`p-${b}`, { kind: 'process', command: ['sh', '-c', SH[b]], env: {}, logLines: 100 }), ctx),
  ready: logsReady,
  broken: () => createProcessUnit(worker('p-broken', { kind: 'process', command: ['no-such-command-edgevisor'], env: {}, logLines: 100 }), ctx),
  killable: true,
});

// Abandoned stubborn runs go on in this process until released.
after(() => workers.releaseStubborn());
describeConformance('inproc', {
  make: (b) => createInprocUnit(worker(`i-${b}`, { kind: 'inproc', run: workers[b], heartbeatTimeoutMs: 0 }), ctx),
  ready: async () => undefined,
  broken: () => createInprocUnit(worker('i-broken', { kind: 'inproc', module: join(repoRoot, 'test/fixtures/no-such-module.ts'), export: 'run', heartbeatTimeoutMs: 0 }), ctx),
  // An in-process function cannot be killed: after the grace it is abandoned (reported, not ended).
  killable: false,
  async release(unit) {
    await workers.releaseStubborn();
    await waitFor('the abandoned run seen ending', () => unit.logs().some((l) => l.includes('after it had been abandoned')), 5_000, 10);
  },
  hanging: () => createInprocUnit(worker('i-hang', { kind: 'inproc', module: HANG, export: 'run', heartbeatTimeoutMs: 0 }), ctx),
});

describeConformance('thread', {
  make: (b) => createThreadUnit(worker(`t-${b}`, { kind: 'thread', module: WORKERS, export: b, resourceLimits: {}, heartbeatTimeoutMs: 0 }), ctx),
  ready: async () => undefined, // start() resolves once the function runs
  broken: () => createThreadUnit(worker('t-broken', { kind: 'thread', module: WORKERS, export: 'noSuchExport', resourceLimits: {}, heartbeatTimeoutMs: 0 }), ctx),
  killable: true,
  hanging: () => createThreadUnit(worker('t-hang', { kind: 'thread', module: HANG, export: 'run', resourceLimits: {}, heartbeatTimeoutMs: 0 }), ctx),
});

// A user's backend: "shell" runs `options.script` with sh (in `options.dir`), built on the process
// backend, chosen by name through the registry from a tree spec like any child.
const registry = registerBackend(defaultBackends(), 'shell', (w, c) => {
  const o = w.backend.kind === 'custom' ? w.backend.options : {};
  if (typeof o['script'] !== 'string') throw new Error('shell: options.script must be a string');
  const backend: BackendSpec = { kind: 'process', command: ['sh', '-c', o['script']], env: {}, logLines: 100 };
  if (typeof o['dir'] === 'string') backend.cwd = o['dir'];
  return createProcessUnit({ ...w, backend }, c);
});
const customUnit = (id: string, options: Record<string, string>): Unit => {
  const spec = parseTreeObject({ name: 'c', children: [{ id, custom: { kind: 'shell', options } }] });
  const w = spec.root.children[0] as WorkerSpec;
  return registry[backendKey(w.backend)]!(w, ctx);
};
describeConformance('custom (registerBackend)', {
  make: (b) => customUnit(`c-${b}`, { script: SH[b] }),
  ready: logsReady,
  broken: () => customUnit('c-broken', { script: 'true', dir: '/no/such/dir/edgevisor' }),
  killable: true,
});

// Docker: one compose-labelled container of the test image per unit (test/fixtures/http-child.js,
// which exits 0 on SIGTERM unless IGNORE_SIGTERM=1).
const dockerSkip = (await dockerUnavailable()) ?? false;
let proj: TestProject | undefined;
let backend: DockerBackend | undefined;
const containers = new Map<Unit, TestContainer>();
let n = 0;
if (!dockerSkip) {
  before(async () => {
    proj = await createTestProject('ev-conf');
    backend = createDockerBackend({ project: proj.name, timeoutMs: 20_000 });
  });
  after(async () => {
    backend?.close();
    await proj?.cleanup();
  });
}
const DOCKER_ENV: Record<Behaviour, Record<string, string>> = { clean: {}, stubborn: { IGNORE_SIGTERM: '1' }, crash: { CRASH_AFTER_MS: '300' } };
describeConformance('docker', {
  skip: dockerSkip,
  async make(b) {
    const c = await proj!.create(`d${++n}-${b}`, { env: DOCKER_ENV[b] });
    const unit = backend!(worker(c.service, { kind: 'docker', service: c.service }), ctx);
    containers.set(unit, c);
    return unit;
  },
  ready: (unit) => waitHealthy(containers.get(unit)!.url, 30_000),
  broken: () => backend!(worker('d-missing', { kind: 'docker', service: 'no-such-service' }), ctx),
  killable: true,
  // docker stop's grace is in whole seconds.
  graceMs: 1000,
  timeoutMs: 60_000,
  adopter(unit) {
    // A new supervisor: its own backend (own events subscription) for the same service.
    const fresh = createDockerBackend({ project: proj!.name, timeoutMs: 20_000 });
    after(() => fresh.close());
    const c = containers.get(unit)!;
    const second = fresh(worker(c.service, { kind: 'docker', service: c.service }), ctx);
    containers.set(second, c);
    return second;
  },
});
