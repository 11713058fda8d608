// apps/common's sd_notify side against a real notify socket (notify/channel.ts): READY=1 with
// MAINPID, then WATCHDOG=1 at half of WATCHDOG_USEC, only when WATCHDOG_PID (set by the supervisor
// with notify.access main) is absent or names this process, as sd_watchdog_enabled(3) says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openNotifyChannel, type NotifyMessage } from '../../supervisor/src/notify/index.ts';
import { createSdNotify } from '../../apps/common/src/sd-notify.ts';
import { waitFor } from '../helpers/net.ts';

function channel() {
  const got: NotifyMessage[] = [];
  const ch = openNotifyChannel({ accept: (pid) => pid === process.pid, onMessage: (m) => got.push(m) });
  return { ch, got };
}

test('WATCHDOG_PID names this process: READY=1 with MAINPID, then pings every half period', async () => {
  const { ch, got } = channel();
  const n = createSdNotify({ env: { NOTIFY_SOCKET: ch.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid) }, log: () => undefined });
  try {
    assert.equal(n.watchdogMs, 100);
    n.ready();
    await waitFor('three pings', () => got.filter((m) => m.watchdog === 'ping').length >= 3, 5_000, 5);
    assert.deepEqual(got[0], { ready: true, mainPid: process.pid });
  } finally {
    n.stop();
    ch.close();
  }
});

test('WATCHDOG_PID names another process: READY=1 only, no pings (the watchdog is not ours)', async () => {
  const { ch, got } = channel();
  const n = createSdNotify({ env: { NOTIFY_SOCKET: ch.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1) }, log: () => undefined });
  try {
    assert.equal(n.watchdogMs, 0);
    n.ready();
    n.status('marker');
    // Datagrams arrive in order: once the marker is here, any ping sent with READY=1 would be too.
    await waitFor('the marker', () => got.some((m) => m.status === 'marker'), 5_000, 5);
    assert.deepEqual(got.filter((m) => m.watchdog), []);
    assert.deepEqual(got[0], { ready: true, mainPid: process.pid });
  } finally {
    n.stop();
    ch.close();
  }
});
