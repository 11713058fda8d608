// A camera that left the controller's list loses every series labelled with it
// (apps/inference/src/metrics.ts forgetCamera), whatever the metric and its other labels: the
// test finds every metric of the registry with a `camera` label, so one added later without being
// forgotten fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createMetrics } from '../../apps/inference/src/metrics.ts';

test('forgetCamera removes every series of that camera from every camera-labelled metric, and only those', async () => {
  const registry = new Registry();
  const m = createMetrics(registry);
  const labelled = registry.getMetricsAsArray().filter((x) => ((x as unknown as { labelNames: string[] }).labelNames ?? []).includes('camera'));
  assert.ok(labelled.length >= 12, `camera-labelled metrics found: ${labelled.map((x) => x.name).join(', ')}`);
  for (const camera of ['gone', 'stays']) {
    m.frameDone(camera, 1_700_000_000);
    m.gateDone(camera, { decision: 'detect', motion: true, detectSeconds: 0.04 }, Date.now());
    m.gateDone(camera, { decision: 'budget', motion: true }, Date.now());
    m.gateDone(camera, { decision: 'no_motion', motion: false }, Date.now());
    // Every camera-labelled metric gets a series of its own for this camera (other labels: any value).
    for (const x of labelled) {
      const names = (x as unknown as { labelNames: string[] }).labelNames;
      const labels = Object.fromEntries(names.map((n) => [n, n === 'camera' ? camera : 'x']));
      if (x instanceof Counter) x.inc(labels);
      else if (x instanceof Gauge) x.set(labels, 1);
      else if (x instanceof Histogram) x.observe(labels, 0.1);
      else assert.fail(`${x.name}: a metric kind the test does not know`);
    }
  }
  const before = await registry.metrics();
  for (const x of labelled) assert.ok(before.includes(`${x.name}`) && new RegExp(`^${x.name}(_bucket|_sum|_count)?\\{[^}]*camera="gone"`, 'm').test(before), `${x.name} has a series of "gone"`);

  await m.forgetCamera('gone');
  const after = await registry.metrics();
  assert.ok(!after.includes('camera="gone"'), after.split('\n').filter((l) => l.includes('camera="gone"')).join('\n'));
  for (const x of labelled) assert.match(after, new RegExp(`^${x.name}(_bucket|_sum|_count)?\\{[^}]*camera="stays"`, 'm'), `${x.name}: the other camera's series stay`);

  // Back: its series start again from zero.
  m.frameDone('gone', 1_700_000_100);
  assert.match(await registry.metrics(), /^inference_frames_total\{camera="gone"\} 1$/m);
});
