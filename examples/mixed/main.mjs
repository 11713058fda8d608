// A mixed tree: a `process` child (sensor.mjs, an HTTP sensor with a liveness probe) and an
// in-process worker (the collector) under rest_for_one: the collector depends on the sensor, so
// it starts after the sensor's probe has passed and restarts with it. Failure modes:
//   sensor     wedges once (a spinning event loop): no exit, no answer; its HTTP probe times out,
//              it is marked hung and killed at once (hung_shutdown brutal_kill), then restarted;
//   collector  crashes once (its store refuses a write) and restarts alone.
// A third kind, a `thread` worker (worker_threads, killable), goes where THREAD_WORKER says.
//
// Run: node examples/mixed/main.mjs (after `npm run build:lib`), or from the sources:
// node --import tsx examples/mixed/main.mjs. Exits 0 once 40 readings are collected, 1 after 30 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTree, defaultBackends, parseTreeObject } from 'edgevisor';

const READINGS = 40;
const STORE_FULL_AT = 25; // the collector's store refuses reading 25 (once)
const log = (line) => console.log(`mixed: ${line}`);

/** A free loopback port (the OS picks it). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-mixed-'));
const readings = [];
const sensorPids = new Set();
let storeFailed = false;

/** Reads the sensor every 50 ms; heartbeats only on a good reading, so a dead sensor stalls it. */
async function collector({ signal, heartbeat }) {
  while (!signal.aborted) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/reading`, { signal: AbortSignal.any([signal, AbortSignal.timeout(200)]) });
      const r = await res.json();
      if (readings.length + 1 === STORE_FULL_AT && !storeFailed) {
        storeFailed = true;
        log(`collector: the store refused reading ${STORE_FULL_AT}: crash`);
        throw new Error(`store refused reading ${STORE_FULL_AT}`);
      }
      readings.push(r.value);
      sensorPids.add(r.pid);
      heartbeat();
    } catch (err) {
      if (signal.aborted || String(err?.message).startsWith('store refused')) throw err;
      // The sensor did not answer: no heartbeat; the sensor's own probe decides what that means.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const spec = parseTreeObject({
  version: 1,
  name: 'mixed',
  strategy: 'rest_for_one',
  intensity: 5,
  period: '10s',
  backoff: { initial: '50ms', max: '1s', reset_after: '10s' },
  children: [
    {
      id: 'sensor',
      shutdown: '1s',
      process: {
        command: [process.execPath, join(import.meta.dirname, 'sensor.mjs')],
        env: { PORT: String(port), MARKER: join(dir, 'first-run'), WEDGE_AFTER: '15' },
      },
      probes: [{ name: 'live', http: { url: `http://127.0.0.1:${port}/healthz` }, every: '200ms', timeout: '200ms', failures: 2 }],
    },
    // THREAD_WORKER: a `thread` child (a module run in worker_threads, killable) goes here, e.g.
    // { id: 'smoother', thread: { module: './smoother.mjs' } }, once the thread backend lands.
    { id: 'collector', shutdown: '500ms', inproc: { run: collector, heartbeat_timeout: '2s' } },
  ],
});
const tree = createTree(spec, { backends: defaultBackends() });
const failures = {};
tree.onEvent((e) => {
  if (e.type !== 'restart') return;
  if (e.data?.cause !== 'sibling') failures[e.child] = e.data?.cause;
  log(`restart ${e.child}: ${e.data?.words ?? e.reason}`);
});

const deadline = setTimeout(async () => {
  log(`gave up after 30 s: ${readings.length} of ${READINGS} readings`);
  await tree.stop();
  process.exit(1);
}, 30_000);
await tree.start();
log('tree mixed started: sensor (process) -> collector (inproc) (rest_for_one)');
await new Promise((resolve) => {
  const check = setInterval(() => {
    if (readings.length >= READINGS) {
      clearInterval(check);
      resolve();
    }
  }, 20);
});
await tree.stop();
clearTimeout(deadline);
rmSync(dir, { recursive: true, force: true });
log(`summary ${JSON.stringify({ readings: readings.length, sensorRuns: sensorPids.size, failures })}`);
