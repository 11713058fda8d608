// sd_notify under the supervisor, with real senders that are not ours: systemd's own
// systemd-notify (libsystemd's sd_notify, barrier included), a python3 child speaking the protocol
// as libsystemd and the `sdnotify` package do, and an app on apps/common (READY=1 once
// listening, WATCHDOG=1 from its event loop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ports, post, repoRoot, startTree, waitFor, type TreeHarness } from '../helpers/tree.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SENDER = join(repoRoot, 'test/fixtures/sd-notify.py');

const unhealthy = (h: TreeHarness, id: string): TreeEvent | undefined =>
  h.events.find((e) => e.type === 'transition' && e.child === id && e.to === 'unhealthy');

test('systemd-notify: READY=1 ends startup, WATCHDOG=1 keeps the child up, silence is a hang killed within one period', { timeout: 60_000 }, async () => {
  // The pings come from systemd-notify processes the shell starts: senders in the child's group.
  const script = 'sleep 0.3; systemd-notify --ready --status=up; i=0; while [ $i -lt 10 ]; do systemd-notify WATCHDOG=1; sleep 0.1; i=$((i+1)); done; echo silent; exec sleep 3600';
  const h = await startTree(`
name: t
children:
  - id: svc
    notify: { ready: true, watchdog: 500ms }
    process: { command: [sh, -c, '${script}'] }
`);
  try {
    await waitFor('svc running', () => h.state('svc') === 'running', 20_000);
    const running = h.events.find((e) => e.type === 'transition' && e.child === 'svc' && e.to === 'running')!;
    assert.equal(running.reason, 'READY=1', 'startup ends with READY=1, not at the spawn');
    const snap = h.tree.child('svc')!;
    assert.equal(snap.notify?.ready, true);
    assert.equal(snap.notify?.status, 'up');
    // 10 pings 100 ms apart: the child stays up well past one watchdog period.
    await waitFor('pinged', () => h.tree.child('svc')?.notify?.lastPingAt, 10_000);
    await waitFor('silent', () => h.tree.logs('svc').some((l) => l.includes('silent')), 20_000);
    const silentAt = Date.now();
    await waitFor('watchdog verdict', () => unhealthy(h, 'svc'), 10_000, 10);
    const u = unhealthy(h, 'svc')!;
    assert.ok(u.ts - running.ts > 700, `it stayed up while pinging (${u.ts - running.ts}ms)`);
    assert.equal(u.data?.['watchdog'], true);
    assert.equal(u.data?.['hung'], true);
    // At the first deadline after the last ping, not before it (the upper bound leaves room for
    // a loaded box's late timers; the figures are in test/bench/thread-watchdog.bench.ts).
    const age = u.data?.['ageMs'] as number;
    assert.ok(age >= 500 && age < 1500, `caught ${age}ms after the last ping (watchdog 500ms)`);
    assert.ok(u.ts > silentAt - 300, 'no verdict while the child was pinging');
    const stopping = h.events.find((e) => e.type === 'transition' && e.child === 'svc' && e.to === 'stopping')!;
    assert.equal(stopping.data?.['shutdown'], 'brutal_kill', 'a hung child is killed, not given its grace');
    const restart = h.events.find((e) => e.type === 'restart' && e.child === 'svc')!;
    assert.match(String(restart.data?.['words']), /^watchdog: no WATCHDOG=1 for 0\.\d s \(watchdog 500 ms\)$/);
    await waitFor('back up', () => h.state('svc') === 'running' && h.restarts('svc') >= 1, 20_000);
  } finally {
    await h.close();
  }
});

test('a python3 sender (the sdnotify way): WATCHDOG_USEC given, WATCHDOG=trigger is a hang at once', { timeout: 30_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: py
    restart: temporary
    watchdog: 2s
    process: { command: [${PY}, ${SENDER}, '0', '3', trigger] }
`);
  try {
    await waitFor('trigger verdict', () => unhealthy(h, 'py'), 20_000, 10);
    const u = unhealthy(h, 'py')!;
    assert.equal(u.data?.['trigger'], true);
    assert.match(u.reason ?? '', /WATCHDOG=trigger/);
    // Three pings a quarter of WATCHDOG_USEC (2 s) apart came before it: the child read WATCHDOG_USEC.
    const running = h.events.find((e) => e.type === 'transition' && e.child === 'py' && e.to === 'running')!;
    assert.ok(u.ts - running.ts >= 1000, `pinged at WATCHDOG_USEC/4 for ${u.ts - running.ts}ms first`);
  } finally {
    await h.close();
  }
});

test("another child's datagrams do not feed a child's watchdog", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-notify-test-'));
  const h = await startTree(`
name: t
children:
  - id: quiet
    watchdog: 500ms
    process: { command: [sh, -c, 'echo "$NOTIFY_SOCKET" > ${dir}/quiet.sock.tmp && mv ${dir}/quiet.sock.tmp ${dir}/quiet.sock; exec sleep 3600'] }
  - id: feeder
    process: { command: [sh, -c, 'while [ ! -s ${dir}/quiet.sock ]; do sleep 0.05; done; TARGET_SOCKET=$(cat ${dir}/quiet.sock) exec ${PY} ${SENDER} 0 100000'] }
`.replace(/\$\{dir\}/g, dir));
  try {
    await waitFor('feeder running', () => h.state('feeder') === 'running', 20_000);
    await waitFor('quiet hung', () => unhealthy(h, 'quiet'), 10_000, 10);
    assert.equal(unhealthy(h, 'quiet')!.data?.['watchdog'], true);
    await waitFor('datagrams rejected', () => (h.tree.child('quiet')?.notify?.rejected ?? 0) > 0, 5_000);
    assert.ok(readFileSync(join(dir, 'quiet.sock'), 'utf8').trim().endsWith('notify.sock'));
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no READY=1 within notify.start_timeout: the start is a hang', { timeout: 30_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: mute
    restart: temporary
    notify: { ready: true, start_timeout: 300ms }
    process: { command: [sleep, '3600'] }
`);
  try {
    await waitFor('start timeout verdict', () => unhealthy(h, 'mute'), 10_000, 10);
    assert.match(unhealthy(h, 'mute')!.reason ?? '', /no READY=1 within 300ms/);
    assert.ok(!h.path('mute').includes('running'), 'never running without READY=1');
  } finally {
    await h.close();
  }
});

test("an apps/common app: READY=1 once listening, a blocked event loop is caught within one 500 ms watchdog", { timeout: 90_000 }, async () => {
  const { app } = await ports('app');
  const h = await startTree(`
name: t
children:
  - id: app
    notify: { ready: true, watchdog: 500ms }
    process: { command: [node, --import, tsx, test/fixtures/notify-app.ts], env: { PORT: "${app}" } }
`);
  try {
    await waitFor('app running', () => h.state('app') === 'running', 60_000);
    const r = await fetch(`http://127.0.0.1:${app}/healthz`, { signal: AbortSignal.timeout(2000) });
    assert.equal(r.status, 200, 'READY=1 came once the server listened');
    await waitFor('pinging', () => h.tree.child('app')?.notify?.lastPingAt, 5_000);
    const t0 = Date.now();
    await post(`http://127.0.0.1:${app}/block`);
    await waitFor('watchdog verdict', () => unhealthy(h, 'app'), 10_000, 10);
    // One 500 ms period (pings every 250 ms), not three 1 s probe periods; under 3 s even on a
    // loaded box (figures: test/bench/thread-watchdog.bench.ts).
    const caught = unhealthy(h, 'app')!.ts - t0;
    assert.ok(caught < 2500, `blocked loop caught after ${caught}ms`);
    assert.equal(unhealthy(h, 'app')!.data?.['watchdog'], true);
    await waitFor('serving again', () => h.restarts('app') >= 1 && h.state('app') === 'running', 60_000);
  } finally {
    await h.close();
  }
});

test('ready with probes: running needs both READY=1 and the startup probes', { timeout: 30_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: both
    notify: { ready: true }
    process: { command: [${PY}, ${SENDER}, '800', '100000'] }
    probes:
      - { name: ok, exec: { command: ['true'] }, every: 200ms }
`);
  try {
    await waitFor('running', () => h.state('both') === 'running', 20_000);
    const ev = (pred: (e: TreeEvent) => boolean) => h.events.find((e) => e.child === 'both' && pred(e))!;
    const started = ev((e) => e.type === 'transition' && e.to === 'starting');
    const passed = ev((e) => e.type === 'probe' && e.data?.['ok'] === true);
    const running = ev((e) => e.type === 'transition' && e.to === 'running');
    assert.ok(passed.ts < running.ts, 'the probe passed first');
    assert.equal(running.reason, 'READY=1', 'READY=1 ended the startup');
    assert.ok(running.ts - started.ts >= 700, `READY=1 came ${running.ts - started.ts}ms after the start (sent after 800 ms)`);
  } finally {
    await h.close();
  }
});

test('notify.access main: a helper that keeps pinging cannot keep a hung main process alive (with all it does); WATCHDOG_PID is the main pid', { timeout: 60_000 }, async () => {
  // Both children: 4 pings from the main process, then it forks a helper that pings forever and
  // goes silent once the helper's first ping is out.
  const h = await startTree(`
name: t
children:
  - id: strict
    restart: temporary
    notify: { watchdog: 1s, access: main }
    process: { command: [${PY}, ${SENDER}, '0', '4', helper] }
  - id: loose
    restart: temporary
    watchdog: 1s
    process: { command: [${PY}, ${SENDER}, '0', '4', helper] }
`);
  try {
    await waitFor('strict caught', () => unhealthy(h, 'strict'), 20_000, 10);
    const u = unhealthy(h, 'strict')!;
    assert.equal(u.data?.['watchdog'], true);
    assert.match(u.reason ?? '', /no WATCHDOG=1 for \d+ms since the last one/);
    assert.ok(h.tree.logs('strict').some((l) => l.includes('helper ')), 'its helper was pinging');
    assert.ok((h.tree.child('strict')?.notify?.rejected ?? 0) > 0, "the helper's pings were refused");
    // The same program under access all: the helper's pings count, so it stays up well past a period.
    await waitFor('loose fed by its helper', () => (h.tree.child('loose')?.notify?.lastPingAt ?? 0) > u.ts + 1200, 10_000);
    assert.equal(h.state('loose'), 'running');
    assert.equal(unhealthy(h, 'loose'), undefined);
    // WATCHDOG_PID: set to the child's own pid with access main (sd_watchdog_enabled(3) reads it), absent with all.
    const pidLine = (id: string) => h.tree.logs(id).find((l) => l.includes('watchdog_pid '))!;
    const [, wpid, pid] = /watchdog_pid (\S+) pid (\d+)/.exec(pidLine('strict'))!;
    assert.equal(wpid, pid);
    assert.equal(Number(pid), h.tree.child('strict')?.info?.pid);
    assert.match(pidLine('loose'), /watchdog_pid unset/);
  } finally {
    await h.close();
  }
});

test('notify.access main: MAINPID= from the main process hands the watchdog to another of its processes; a pid outside the child is ignored', { timeout: 60_000 }, async () => {
  const h = await startTree(`
name: t
children:
  - id: handed
    restart: temporary
    notify: { watchdog: 2s, access: main }
    process: { command: [${PY}, ${SENDER}, '0', '2', handover] }
`);
  try {
    const line = await waitFor('helper forked', () => h.tree.logs('handed').find((l) => /helper \d+/.test(l)), 20_000);
    const helper = Number(/helper (\d+)/.exec(line)![1]);
    // MAINPID=1 came first (pid 1 is not the child's: ignored), then MAINPID=<helper>.
    await waitFor('main pid moved', () => h.tree.child('handed')?.notify?.mainPid === helper, 5_000);
    const movedAt = Date.now();
    // The main process is silent from here on: only the helper's pings can keep it up past a period.
    await waitFor('fed by the new main pid', () => (h.tree.child('handed')?.notify?.lastPingAt ?? 0) > movedAt + 2500, 10_000);
    assert.equal(h.state('handed'), 'running');
    assert.equal(unhealthy(h, 'handed'), undefined);
  } finally {
    await h.close();
  }
});

test('EXTEND_TIMEOUT_USEC: a child that extends its startup is not killed at start_timeout', { timeout: 60_000 }, async () => {
  // READY=1 after 2.5 s, past a 1 s start_timeout; at once it asked for 6 s.
  const h = await startTree(`
name: t
children:
  - id: slow
    restart: temporary
    notify: { ready: true, start_timeout: 1s }
    process: { command: [${PY}, ${SENDER}, '2500', '100000'], env: { EXTEND_USEC: "6000000" } }
`);
  try {
    await waitFor('running', () => h.state('slow') === 'running' || unhealthy(h, 'slow'), 20_000);
    assert.equal(unhealthy(h, 'slow'), undefined, unhealthy(h, 'slow')?.reason);
    const ev = (to: string) => h.events.find((e) => e.type === 'transition' && e.child === 'slow' && e.to === to)!;
    assert.equal(ev('running').reason, 'READY=1');
    assert.ok(ev('running').ts - ev('starting').ts >= 2400, `READY=1 came ${ev('running').ts - ev('starting').ts}ms after the start`);
  } finally {
    await h.close();
  }
});
