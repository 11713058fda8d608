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
