// An ETL service under edgevisor: poller -> transformer -> notifier, three in-process workers
// under rest_for_one (a stage restarts with the stages after it), each with its own failure mode:
//   poller       its source stops answering once: it hangs, stops heartbeating, and is restarted
//                as stalled (heartbeat_timeout) although it never crashed;
//   transformer  a poison record makes it throw; after the restart it quarantines the record it
//                already crashed on instead of crashing again;
//   notifier     its webhook times out three times in a row: it gives up (throws) and is
//                restarted; it is `transient`: once every batch is delivered it returns and stays down.
// Queues and the source offset live outside the workers, so no batch is lost or sent twice.
//
// Run: node examples/etl/main.mjs (needs `npm run build:lib` once, or run it from the sources:
// node --import tsx examples/etl/main.mjs). Prints each restart in the supervisor's words and a
// summary line; exits 0 when every batch was delivered, 1 if it took longer than 30 s.
import { createTree, defaultBackends, parseTreeObject } from 'edgevisor';

const BATCHES = 12;
const HANG_AT = 4; // the source stops answering when batch 4 is due (once)
const POISON_BATCH = 7; // batch 7's record 2 has no value
const WEBHOOK_DOWN_AT = 9; // the webhook times out on batch 9 (once, three attempts)

const log = (line) => console.log(`etl: ${line}`);
/** Waits `ms`, or less if the worker is asked to stop. */
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

// Shared state: what a real service keeps in a broker or a database.
const raw = []; // batches polled, not yet transformed
const clean = []; // batches transformed, not yet delivered
const delivered = [];
let offset = 0; // the source's committed position
let quarantined = 0;
let hung = false;
let webhookDown = false;

/** Polls the source every 20 ms. */
async function poller({ signal, heartbeat }) {
  while (!signal.aborted && offset < BATCHES) {
    heartbeat();
    if (offset + 1 === HANG_AT && !hung) {
      hung = true;
      log(`poller: the source stopped answering at batch ${HANG_AT} (a hang: no crash, no heartbeat)`);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      return;
    }
    offset++;
    raw.push({ batch: offset, attempts: 0, records: [1, 2, 3].map((i) => (offset === POISON_BATCH && i === 2 ? { id: i } : { id: i, value: offset * 10 + i })) });
    await sleep(20, signal);
  }
  while (!signal.aborted) await sleep(50, signal).then(heartbeat); // everything polled: idle
}

/** Validates and converts records; a batch leaves `raw` only once it is transformed. */
async function transformer({ signal, heartbeat }) {
  while (!signal.aborted) {
    heartbeat();
    const batch = raw[0];
    if (!batch) {
      await sleep(10, signal);
      continue;
    }
    batch.attempts++;
    const bad = batch.records.filter((r) => typeof r.value !== 'number');
    if (bad.length > 0 && batch.attempts === 1) {
      log(`transformer: batch ${batch.batch} record ${bad[0].id} has no "value": crash`);
      throw new Error(`batch ${batch.batch}: record ${bad[0].id} has no "value"`);
    }
    if (bad.length > 0) {
      quarantined += bad.length;
      log(`transformer: batch ${batch.batch} quarantined record ${bad[0].id} (it crashed us once)`);
    }
    clean.push({ batch: batch.batch, values: batch.records.filter((r) => typeof r.value === 'number').map((r) => r.value * 2) });
    raw.shift();
  }
}

/** Sends each batch to a webhook (simulated); a batch leaves `clean` only once delivered. */
async function notifier({ signal, heartbeat }) {
  while (!signal.aborted) {
    heartbeat();
    if (delivered.length === BATCHES) {
      log(`notifier: delivered ${BATCHES} batches, done`);
      return; // transient: a normal end is not restarted
    }
    const batch = clean[0];
    if (!batch) {
      await sleep(10, signal);
      continue;
    }
    if (batch.batch === WEBHOOK_DOWN_AT && !webhookDown) {
      webhookDown = true;
      for (let attempt = 1; attempt <= 3; attempt++) await sleep(30, signal); // three timed-out attempts
      log(`notifier: the webhook timed out 3 times on batch ${batch.batch}: giving up`);
      throw new Error(`webhook timed out 3 times on batch ${batch.batch}`);
    }
    delivered.push(batch.batch);
    clean.shift();
  }
}

const spec = parseTreeObject({
  version: 1,
  name: 'etl',
  strategy: 'rest_for_one',
  intensity: 5,
  period: '10s',
  backoff: { initial: '50ms', max: '1s', reset_after: '10s' },
  children: [
    { id: 'poller', shutdown: '500ms', inproc: { run: poller, heartbeat_timeout: '300ms' } },
    { id: 'transformer', shutdown: '500ms', inproc: { run: transformer, heartbeat_timeout: '300ms' } },
    { id: 'notifier', restart: 'transient', shutdown: '500ms', inproc: { run: notifier, heartbeat_timeout: '300ms' } },
  ],
});
const tree = createTree(spec, { backends: defaultBackends() });
const failures = {};
tree.onEvent((e) => {
  if (e.type !== 'restart') return;
  if (e.data?.cause !== 'sibling') failures[e.child] = e.data?.cause;
  log(`restart ${e.child}: ${e.data?.words ?? e.reason}`);
});

const deadline = setTimeout(() => {
  log(`gave up after 30 s: delivered ${delivered.length} of ${BATCHES}`);
  process.exit(1);
}, 30_000);
const t0 = Date.now();
await tree.start();
log('tree etl started: poller -> transformer -> notifier (rest_for_one)');
await new Promise((resolve) => {
  const off = tree.onEvent((e) => {
    if (e.type === 'transition' && e.child === 'notifier' && (e.to === 'stopped' || e.to === 'failed') && delivered.length === BATCHES) {
      off();
      resolve();
    }
  });
});
await tree.stop();
clearTimeout(deadline);
const inOrder = delivered.every((b, i) => b === i + 1);
log(`summary ${JSON.stringify({ delivered: delivered.length, inOrder, quarantined, failures })}`);
log(`stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
