// A hung child (no answer: probe timeout, or no heartbeat) cannot run its SIGTERM handler, so it is
// stopped with `hung_shutdown` (default brutal_kill) instead of waiting out its `shutdown` grace.
// A child that answers but fails a check (throughput stall) still gets its grace.
// Real processes: test/fixtures/http-child.js blocks its event loop on POST /fail/hang.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTree } from '../../supervisor/src/spec/load.ts';
import { httpChild, ports, post, startTree, waitFor, type TreeHarness } from '../helpers/tree.ts';
import { sleep } from '../helpers/net.ts';
import { specErrors } from '../helpers/spec.ts';

let h: TreeHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tree = (port: number, extra: string, env = '') => `
version: 1
name: box
children:
  - id: web
    shutdown: 20s
${extra}
    process: { command: [node, ${httpChild}], env: { PORT: "${port}"${env} } }
    probes:
      - name: live
        http: { url: "http://127.0.0.1:${port}/healthz" }
        every: 300ms
        timeout: 300ms
        failures: 3
`;

const stoppingOf = (h: TreeHarness) => h.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === 'stopping');
const tsOf = (h: TreeHarness, to: string) => h.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === to)!.ts;

describe('hung children are not waited for', () => {
  test('a blocked event loop with a 20 s grace is killed at once and back within seconds', async () => {
    const p = await ports('web');
    h = await startTree(tree(p.web, ''));
    const hung = h.pid('web')!;
    const t0 = Date.now();
    await post(`http://127.0.0.1:${p.web}/fail/hang`);
    await waitFor('web restarted', () => h!.state('web') === 'running' && h!.pid('web') !== hung, 15_000);
    const took = Date.now() - t0;
    assert.ok(took < 10_000, `hang -> running took ${took}ms; waiting out the 20 s grace would take > 20 s`);
    assert.throws(() => process.kill(hung, 0), 'the hung process is gone');
    const unhealthy = h.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === 'unhealthy');
    assert.equal(unhealthy?.data?.hung, true, 'a probe timeout marks the child hung');
    assert.equal(stoppingOf(h)?.data?.shutdown, 'brutal_kill');
    assert.equal(stoppingOf(h)?.data?.hung, true);
    assert.equal(h.tree.child('web')!.lastRestartReason, 'hung: probe live (http) timed out 3 times in 900 ms', 'in words, kept after the restart');
  });

  test('hung_shutdown: 1500ms gives a hung child that grace first', async () => {
    const p = await ports('web');
    h = await startTree(tree(p.web, '    hung_shutdown: 1500ms'));
    const hung = h.pid('web')!;
    await post(`http://127.0.0.1:${p.web}/fail/hang`);
    await waitFor('web restarted', () => h!.state('web') === 'running' && h!.pid('web') !== hung, 20_000);
    assert.equal(stoppingOf(h)?.data?.shutdown, '1500ms');
    const waited = tsOf(h, 'backoff') - tsOf(h, 'stopping');
    assert.ok(waited >= 1400, `the grace was waited out before the kill (${waited}ms)`);
  });

  test('a child that answers but stalls keeps its grace (it can shut down cleanly)', async () => {
    const p = await ports('web');
    h = await startTree(`
version: 1
name: box
children:
  - id: web
    shutdown: 1s
    process: { command: [node, ${httpChild}], env: { PORT: "${p.web}", IGNORE_SIGTERM: "1" } }
    probes:
      - name: frames
        throughput: { url: "http://127.0.0.1:${p.web}/metrics", metric: frames_total, min_rate: 5, window: 1s }
        every: 250ms
        failures: 3
`);
    const before = h.pid('web')!;
    await sleep(1200);
    await post(`http://127.0.0.1:${p.web}/fail/stall`);
    await waitFor('web restarted', () => h!.state('web') === 'running' && h!.pid('web') !== before, 15_000);
    const unhealthy = h.events.find((e) => e.type === 'transition' && e.child === 'web' && e.to === 'unhealthy');
    assert.equal(unhealthy?.data?.hung, false);
    assert.match(h.tree.child('web')!.lastRestartReason!, /^stalled: probe frames \(throughput\) failed 3 times: frames_total rate [\d.]+\/s over .* < min 5\/s$/);
    assert.equal(stoppingOf(h)?.data?.shutdown, '1000ms');
    const waited = tsOf(h, 'backoff') - tsOf(h, 'stopping');
    assert.ok(waited >= 900, `SIGTERM was ignored, so the 1 s grace ran out before the kill (${waited}ms)`);
  });

  test('hung_shutdown is checked like shutdown and refused on a nested supervisor', () => {
    const spec = parseTree(tree(1, '    hung_shutdown: 2s'), '/box/tree.yaml');
    const web = spec.root.children[0]!;
    assert.ok(web.type === 'worker');
    assert.deepEqual(web.hungShutdown, { kind: 'grace', graceMs: 2000 });
    assert.deepEqual((parseTree(tree(1, ''), '/box/tree.yaml').root.children[0] as typeof web).hungShutdown, { kind: 'brutal_kill' });
    assert.match(specErrors(() => parseTree(tree(1, '    hung_shutdown: soon'), '/box/tree.yaml')).join('\n'), /tree\.yaml:\d+ .*hung_shutdown.*expected a duration like "5s" or "brutal_kill", got "soon"/);
    const nested = `version: 1\nname: box\nchildren:\n  - id: group\n    hung_shutdown: 1s\n    children:\n      - { id: a, process: { command: [node, x.js] } }\n`;
    assert.match(specErrors(() => parseTree(nested, '/box/tree.yaml')).join('\n'), /hung_shutdown.*a nested supervisor takes no hung_shutdown/);
  });
});
