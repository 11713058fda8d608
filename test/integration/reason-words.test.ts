// The last restart reason in a technician's words, through real processes: a child killed by a
// signal and a child whose command does not exist (the pure function: test/unit/reason-words.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ports, startTree, httpChild } from '../helpers/tree.ts';
import { waitFor } from '../helpers/net.ts';

test('killed by signal SIGSEGV and failed to start, kept as lastRestartReason after the restart', async () => {
  const p = await ports('web');
  const h = await startTree(`
version: 1
name: box
intensity: 20
period: 10s
backoff: { initial: 100ms, max: 500ms, reset_after: 10s }
children:
  - id: web
    shutdown: 2s
    process: { command: [node, ${httpChild}], env: { PORT: "${p.web}" } }
    probes:
      - { name: live, http: { url: "http://127.0.0.1:${p.web}/healthz" }, every: 200ms, timeout: 500ms, startup_grace: 10s }
  - id: ghost
    process: { command: [/nonexistent/edgevisor-no-such-binary] }
`);
  try {
    await waitFor('web running', () => h.state('web') === 'running', 15_000);
    const pid = h.pid('web')!;
    process.kill(pid, 'SIGSEGV');
    await waitFor('web back with a new pid', () => h.state('web') === 'running' && h.pid('web') !== pid, 15_000);
    assert.equal(h.tree.child('web')!.lastRestartReason, 'killed by signal SIGSEGV');
    assert.equal(h.tree.child('web')!.lastReason, 'startup probes passed', 'the transition reason moved on; the restart reason stayed');
    await waitFor('ghost restarted at least once', () => h.restarts('ghost') >= 1, 10_000);
    const ghost = h.tree.child('ghost')!.lastRestartReason!;
    assert.match(ghost, /^failed to start: .*cannot start command "edgevisor-no-such-binary"/);
    assert.ok(!ghost.includes('/'), `no server-side path in the words: ${ghost}`);
  } finally {
    await h.close();
  }
});
