import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { restartFacts, restartReasonWords, spokenDuration } from '../../supervisor/src/core/reason-words.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { waitFor } from '../helpers/net.ts';

const words = (data: Record<string, unknown>, fallback?: string) => restartReasonWords(restartFacts(data), fallback);

describe('restart reason words (one per cause)', () => {
  test('exit: OOM, signal, exit code (with the signal a 128+n code stands for), clean exit, backend error', () => {
    assert.equal(words({ cause: 'exit', exitCode: 137, oom: true }), 'crashed: exit code 137, killed by the OOM killer');
    assert.equal(words({ cause: 'exit', exitCode: null, oom: true }), 'crashed: exit code 137, killed by the OOM killer');
    assert.equal(words({ cause: 'exit', exitCode: null, signal: 'SIGSEGV', oom: false }), 'killed by signal SIGSEGV');
    assert.equal(words({ cause: 'exit', exitCode: 1, signal: null, oom: false }), 'crashed: exit code 1');
    assert.equal(words({ cause: 'exit', exitCode: 137, signal: null, oom: false }), 'crashed: exit code 137 (SIGKILL)');
    assert.equal(words({ cause: 'exit', exitCode: 0, oom: false }), 'exited on its own (exit code 0)');
    assert.equal(words({ cause: 'exit', error: 'container vanished' }), 'crashed: container vanished');
    assert.equal(words({ cause: 'exit' }), 'crashed: exited');
    assert.equal(words({ cause: 'exit', error: 'Error: boom\n    at run (/srv/app/x.ts:3:9)' }), 'crashed: boom');
  });
  test('probe: a timeout is a hang (with the time it took), a throughput/staleness failure a stall, others unhealthy', () => {
    assert.equal(
      words({ cause: 'probe', probe: 'live', probeKind: 'http', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT', error: 'timeout after 1000ms', failures: 3, everyMs: 1000 }),
      'hung: probe live (http) timed out 3 times in 3 s',
    );
    assert.equal(words({ cause: 'probe', probe: 'live', probeKind: 'tcp', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT', failures: 1, everyMs: 500 }), 'hung: probe live (tcp) timed out once');
    assert.equal(
      words({ cause: 'probe', probe: 'frames', probeKind: 'throughput', code: 'EDGEVISOR_ERR_PROBE_FAILED', error: 'rate 0.0/s < 2/s', failures: 3, everyMs: 1000 }),
      'stalled: probe frames (throughput) failed 3 times: rate 0.0/s < 2/s',
    );
    assert.equal(words({ cause: 'probe', probe: 'fresh', probeKind: 'staleness', error: 'age 12s > 10s', failures: 2 }), 'stalled: probe fresh (staleness) failed 2 times: age 12s > 10s');
    assert.equal(words({ cause: 'probe', probe: 'live', probeKind: 'http', error: 'status 500', failures: 3 }), 'unhealthy: probe live (http) failed 3 times: status 500');
    // An event from before probeKind/failures were recorded still reads.
    assert.equal(words({ cause: 'probe', probe: 'live', error: 'status 500' }), 'unhealthy: probe live failed once: status 500');
  });
  test('heartbeat, failed start, sibling, escalation, manual, unknown cause', () => {
    assert.equal(words({ cause: 'heartbeat', ageMs: 2049, heartbeatTimeoutMs: 2000 }), 'heartbeat stopped for 2.0 s');
    // sd_notify's other verdicts (runtime/notify-watch.ts): a trigger, no READY=1 in time, or within an extension.
    assert.equal(words({ cause: 'heartbeat', watchdogMs: 2000, trigger: true, watchdog: true }), 'watchdog: the child sent WATCHDOG=trigger');
    assert.equal(words({ cause: 'heartbeat', startTimeoutMs: 300, watchdog: true }), 'no READY=1 within 300 ms (start_timeout)');
    assert.equal(words({ cause: 'heartbeat', startTimeoutMs: 1000, extendedMs: 2000, watchdog: true }), 'no READY=1 within 2 s of its last EXTEND_TIMEOUT_USEC');
    assert.equal(words({ cause: 'heartbeat' }), 'heartbeat stopped');
    assert.equal(words({ cause: 'start_failed', error: 'spawn nodex ENOENT' }), 'failed to start: spawn nodex ENOENT');
    assert.equal(words({ cause: 'start_failed', error: 'cannot start command "/opt/x/bin/cam" in /srv/box: not found' }), 'failed to start: cannot start command "cam" in box: not found');
    assert.equal(words({ cause: 'sibling', sibling: 'camera', strategy: 'rest_for_one' }), 'restarted with its sibling camera (rest_for_one)');
    assert.equal(words({ cause: 'escalation', intensity: 4, periodMs: 60_000, failedChild: 'camera' }), 'its supervisor gave up after more than 4 restarts in 60 s (last: camera)');
    assert.equal(words({ cause: 'manual', role: 'technician', via: 'dashboard' }), 'restarted by a technician (dashboard)');
    assert.equal(words({ cause: 'manual', role: 'technician' }), 'restarted by a technician');
    assert.equal(words({ cause: 'teleport' }, 'beamed away'), 'beamed away');
  });
  test('facts keep only well-typed fields; durations are spoken', () => {
    assert.deepEqual(restartFacts({ cause: 'exit', exitCode: 'x', signal: 5, oom: 'yes', junk: 1 }), { cause: 'exit' });
    assert.equal(spokenDuration(450), '450 ms');
    assert.equal(spokenDuration(1500), '1.5 s');
    assert.equal(spokenDuration(300_000), '5 min');
    assert.equal(spokenDuration(3 * 3_600_000), '3 h');
  });
});

describe('the runtime keeps the last restart reason per child', () => {
  test('set when the restart is decided, kept after "startup probes passed"; sibling and manual restarts too', async () => {
    let crashes = 1;
    const spec = parseTreeObject({
      name: 'r',
      strategy: 'rest_for_one',
      intensity: 10,
      period: '10s',
      backoff: { initial: '10ms', max: '20ms', reset_after: '10s' },
      children: [
        {
          id: 'a',
          inproc: {
            run: async ({ signal }: { signal: AbortSignal }) => {
              await new Promise((r) => setTimeout(r, 50));
              if (crashes-- > 0) throw new Error('boom');
              if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
            },
          },
        },
        { id: 'b', inproc: { run: async ({ signal }: { signal: AbortSignal }) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })) } },
      ],
    });
    const tree = createTree(spec, { backends: defaultBackends() });
    const events: TreeEvent[] = [];
    tree.onEvent((e) => events.push(e));
    try {
      assert.equal(tree.child('a')!.lastRestartReason, null);
      await tree.start();
      await waitFor('a restarted and running', () => tree.child('a')!.restarts === 1 && tree.child('a')!.state === 'running' && tree.child('b')!.state === 'running', 10_000);
      const a = tree.child('a')!;
      assert.equal(a.lastRestartReason, 'crashed: boom', 'the first line only: no stack, no file path');
      assert.notEqual(a.lastReason, a.lastRestartReason, 'the last transition reason is another thing');
      assert.ok(a.lastRestartAt! > 0);
      assert.equal(tree.child('b')!.lastRestartReason, 'restarted with its sibling a (rest_for_one)');
      const restart = events.find((e) => e.type === 'restart' && e.child === 'a')!;
      assert.equal(restart.data!['words'], a.lastRestartReason, 'the restart event carries the same words');

      tree.restartChild('b', { role: 'technician', via: 'dashboard' });
      await waitFor('b restarted by hand', () => tree.child('b')!.restarts === 2 && tree.child('b')!.state === 'running', 10_000);
      assert.equal(tree.child('b')!.lastRestartReason, 'restarted by a technician (dashboard)');
      assert.equal(events.find((e) => e.type === 'manual')!.data!['words'], 'restarted by a technician (dashboard)');
    } finally {
      await tree.stop();
    }
  });
});
