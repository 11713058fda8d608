// Runs every example under examples/ as a user would (one command, from the sources through
// tsx) and checks what it printed: the failures it stages were caught and recovered from.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkEtl, repoRoot, runExample } from '../helpers/examples.ts';

test('examples/etl: a hang, a poison record and a webhook outage are each caught and recovered; every batch is delivered once, in order', async () => {
  checkEtl(await runExample(join(repoRoot, 'examples/etl/main.mjs')));
});

test('examples/mixed: the wedged sensor process is killed on its probe timeout and restarted with its collector; the collector crash restarts it alone', async () => {
  const out = await runExample(join(repoRoot, 'examples/mixed/main.mjs'));
  assert.deepEqual(out.summary, { readings: 40, sensorRuns: 2, failures: { sensor: 'probe', collector: 'exit' } });
  const text = out.lines.join('\n');
  assert.match(text, /restart sensor: hung: probe live \(http\) timed out 2 times/);
  assert.match(text, /restart collector: restarted with its sibling sensor \(rest_for_one\)/);
  assert.match(text, /restart collector: crashed: store refused reading 25/);
});

test('examples/camera-states: each broken deadline restarts its camera alone, the constraint in its words; then every camera streams', async () => {
  const out = await runExample(join(repoRoot, 'examples/camera-states/main.ts'));
  assert.deepEqual(out.summary.restarts, { dock: 0, gate: 1, yard: 2 });
  assert.deepEqual(out.summary.workerStates, { dock: 'streaming', gate: 'streaming', yard: 'streaming' });
  const text = out.lines.join('\n');
  assert.match(text, /restart\s+yard\s+stayed in connecting 2\.\d s, limit 2 s; restarting yard/);
  assert.match(text, /restart\s+gate\s+no heartbeat in streaming for 1\.\d s, limit 1 s; restarting gate/);
  assert.match(text, /restart\s+yard\s+reconnecting -> streaming not reached after 3\.\d s, limit 3 s/);
  assert.match(text, /worker_state\s+dock\s+connecting -> streaming/);
  assert.match(text, /changes in 1\.0 s\)/, 'the reconnect loop is folded');
  assert.match(text, /^ID\s+STATE\s+WORKER\s+UPTIME\s+RESTARTS\s+LAST-REASON$/m);
  for (const [id, n] of [['dock', 0], ['gate', 1], ['yard', 2]] as const) assert.match(text, new RegExp(`^  ${id}\\s+running\\s+streaming \\d+s\\s+\\S+\\s+${n}\\s`, 'm'));
});
