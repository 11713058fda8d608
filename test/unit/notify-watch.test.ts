// runtime/notify-watch.ts on a fake clock (issue 15 review, points 1-3): the watchdog, the start
// timeout and EXTEND_TIMEOUT_USEC run on the tree's clock, so fake time drives them (no real
// timers: a fake clock that does not move leaves them pending, it does not spin). The datagrams
// are real: this process sends them to the watch's socket through the native helper, and the
// kernel stamps them with this process's pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyWatch, type NotifyWatchHooks } from '../../supervisor/src/runtime/notify-watch.ts';
import { sendNotify } from '../../supervisor/src/notify/index.ts';
import type { NotifySpec } from '../../supervisor/src/spec/types.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';
import { waitFor } from '../helpers/net.ts';

interface Harness {
  watch: NotifyWatch;
  clock: FakeClock;
  hung: Array<{ reason: string; data: Record<string, unknown> }>;
  /** Sends one datagram and waits until the watch has taken it (or, `rejected`, refused it). */
  send(text: string, expect?: 'taken' | 'rejected'): Promise<void>;
  close(): void;
}

function harness(spec: Partial<NotifySpec>, hooks: Partial<NotifyWatchHooks> = {}): Harness {
  const clock = createFakeClock();
  const hung: Harness['hung'] = [];
  let taken = 0;
  const watch = new NotifyWatch(
    { ready: false, watchdogMs: 0, startTimeoutMs: 60_000, access: 'all', ...spec },
    {
      clock,
      accept: (pid) => pid === process.pid,
      mainPid: () => process.pid,
      onReady: () => undefined,
      onHung: (reason, data) => hung.push({ reason, data }),
      ...hooks,
    },
  );
  // Each datagram carries STATUS=<n>: the watch took it when its status shows n.
  const path = watch.env().NOTIFY_SOCKET!;
  return {
    watch,
    clock,
    hung,
    async send(text, expect = 'taken') {
      const n = ++taken;
      const before = watch.status().rejected;
      sendNotify(path, `${text}\nSTATUS=${n}`);
      if (expect === 'taken') await waitFor(`datagram ${n} taken`, () => watch.status().status === String(n), 5_000, 5);
      else await waitFor(`datagram ${n} rejected`, () => watch.status().rejected > before, 5_000, 5);
    },
    close: () => watch.close(),
  };
}

test('the watchdog runs on the fake clock: a ping moves the deadline, silence is a hang at the deadline', async () => {
  const h = harness({ watchdogMs: 500 });
  try {
    h.watch.begin();
    h.watch.arm();
    assert.equal(h.clock.pending(), 1, 'one watchdog timer');
    await h.clock.advance(300);
    await h.send('WATCHDOG=1');
    assert.equal(h.watch.status().lastPingAt, h.clock.now());
    await h.clock.advance(400); // 700: past the first deadline (500), not the ping's (800)
    assert.equal(h.hung.length, 0);
    assert.equal(h.clock.pending(), 1, 'the timer moved to the ping deadline, still one');
    await h.clock.advance(100); // 800
    assert.equal(h.hung.length, 1);
    assert.match(h.hung[0]!.reason, /^no WATCHDOG=1 for 500ms since the last one \(watchdog 500ms\)$/);
    assert.equal(h.hung[0]!.data['ageMs'], 500);
    assert.equal(h.clock.pending(), 0, 'no timer after the verdict');
    await h.clock.advance(10_000);
    assert.equal(h.hung.length, 1, 'at most one verdict per run');
  } finally {
    h.close();
  }
});

test('a clock that does not move: the watchdog timer stays pending, it is not re-armed in a loop', async () => {
  const h = harness({ watchdogMs: 500 });
  try {
    h.watch.begin();
    h.watch.arm();
    for (let i = 0; i < 20; i++) await h.send('WATCHDOG=1');
    await h.clock.advance(0);
    assert.equal(h.clock.pending(), 1);
    assert.equal(h.hung.length, 0);
  } finally {
    h.close();
  }
});

test('start_timeout on the fake clock; EXTEND_TIMEOUT_USEC moves it to now + its value, never earlier', async () => {
  const h = harness({ ready: true, startTimeoutMs: 1_000 });
  try {
    h.watch.begin();
    await h.send('EXTEND_TIMEOUT_USEC=100000'); // now + 100 ms is before the 1 s deadline: no change
    await h.clock.advance(800);
    await h.send('EXTEND_TIMEOUT_USEC=2000000'); // deadline 800 + 2000 = 2800
    await h.clock.advance(1_900); // 2700: past start_timeout, inside the extension
    assert.equal(h.hung.length, 0, 'extended past start_timeout');
    await h.clock.advance(100); // 2800
    assert.equal(h.hung.length, 1);
    assert.equal(h.hung[0]!.reason, 'no READY=1 within 2000ms of its last EXTEND_TIMEOUT_USEC (notify.start_timeout 1000ms, extended)');
    assert.equal(h.hung[0]!.data['extendedMs'], 2000);
  } finally {
    h.close();
  }

  const r = harness({ ready: true, startTimeoutMs: 1_000 });
  try {
    r.watch.begin();
    await r.clock.advance(900);
    await r.send('EXTEND_TIMEOUT_USEC=500000');
    await r.clock.advance(300); // 1200: past start_timeout
    await r.send('READY=1');
    assert.equal(r.watch.ready, true);
    await r.send('EXTEND_TIMEOUT_USEC=5000000'); // after READY=1: no start timer to move
    assert.equal(r.clock.pending(), 0);
    await r.clock.advance(10_000);
    assert.deepEqual(r.hung, []);
  } finally {
    r.close();
  }

  const plain = harness({ ready: true, startTimeoutMs: 1_000 });
  try {
    plain.watch.begin();
    await plain.clock.advance(1_000);
    assert.equal(plain.hung[0]?.reason, 'no READY=1 within 1000ms (notify.start_timeout)');
  } finally {
    plain.close();
  }
});

test('access main: a sender of the run that is not its main pid is refused; MAINPID= from the main pid moves it', async () => {
  // The unit says this process is the run's; its main pid is another (as for a helper in the group).
  let main = process.pid + 1_000_000;
  const h = harness({ watchdogMs: 500, access: 'main' }, { accept: (pid) => pid === process.pid || pid === main, mainPid: () => main });
  try {
    h.watch.begin();
    h.watch.arm();
    await h.send('WATCHDOG=1', 'rejected');
    assert.equal(h.watch.status().lastPingAt, null, 'the ping did not count');
    await h.clock.advance(500);
    assert.equal(h.hung.length, 1, 'hung: only the main pid feeds the watchdog');
    assert.equal(h.watch.pidEnv(), 'WATCHDOG_PID');
  } finally {
    h.close();
  }

  // MAINPID= counts only from an admitted sender, and only for one of the run's processes.
  main = process.pid;
  const m = harness({ watchdogMs: 500, access: 'main' }, { accept: (pid) => pid === process.pid || pid === 4_000_000, mainPid: () => main });
  try {
    m.watch.begin();
    await m.send('MAINPID=1'); // pid 1 is not the run's: ignored
    assert.equal(m.watch.status().mainPid, null);
    await m.send('MAINPID=4000000');
    assert.equal(m.watch.status().mainPid, 4_000_000);
    await m.send('WATCHDOG=1', 'rejected'); // this process is no longer the main one
  } finally {
    m.close();
  }

  const all = harness({ watchdogMs: 500 }, { mainPid: () => process.pid + 1_000_000 });
  try {
    all.watch.begin();
    await all.send('WATCHDOG=1'); // access all: any of the run's processes
    assert.equal(all.watch.pidEnv(), undefined, 'WATCHDOG_PID only with access main');
  } finally {
    all.close();
  }
});
