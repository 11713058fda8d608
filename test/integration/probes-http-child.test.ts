// The http-child fixture, driven from outside, seen through the real probes: stall caught by
// throughput and staleness, a SIGSTOPped or blocked process caught by the http timeout (and no
// wedged socket once it resumes), slow health, crashes, start-up exits and SIGTERM handling.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ProbeTarget } from '../../supervisor/src/probes/types.ts';
import { runProbe } from '../../supervisor/src/probes/index.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';
import { bareUnit } from '../helpers/probes.ts';

const FIXTURE = new URL('../fixtures/http-child.js', import.meta.url).pathname;
const SLACK_MS = 700;

const target = (): ProbeTarget => ({ unit: bareUnit, memory: {}, now: Date.now });

interface Child {
  proc: ChildProcess;
  port: number;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  post(path: string): Promise<Response>;
}

const started: ChildProcess[] = [];
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

async function startChild(env: Record<string, string> = {}, waitListening = true): Promise<Child> {
  const port = await freePort();
  const proc = spawn(process.execPath, [FIXTURE], { env: { ...process.env, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  if (waitListening) await waitFor('http-child to listen', () => lines.some((l) => l.includes('listening on')), 10_000);
  const post = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  return { proc, port, lines, exited, post };
}

/** CPU seconds used by a process so far (utime + stime from /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('http-child seen through the probes', () => {
  test('healthy, then a frame stall fails throughput and staleness, then resume recovers', async () => {
    const c = await startChild({ FPS: '20' });
    const url = `http://127.0.0.1:${c.port}`;
    const tput = { kind: 'throughput' as const, url: `${url}/metrics`, metric: 'frames_total', minRate: 5, windowMs: 1000 };
    const fresh = { kind: 'staleness' as const, url: `${url}/metrics`, metric: 'last_frame_timestamp_seconds', maxAgeMs: 800 };
    const t = target();

    assert.equal((await runProbe({ kind: 'http', url: `${url}/healthz`, bodyContains: 'ok' }, t, 2000)).ok, true);
    assert.equal((await runProbe(tput, t, 2000)).value, undefined, 'first reading: not enough data yet');
    await sleep(1100);
    const running = await runProbe(tput, t, 2000);
    assert.equal(running.ok, true, running.error);
    assert.ok(running.value! > 10 && running.value! < 30, `rate ${running.value}/s at FPS=20`);
    assert.equal((await runProbe(fresh, target(), 2000)).ok, true);

    await c.post('/fail/stall');
    await waitFor('the stall line on stdout', () => c.lines.some((l) => l.includes('fault: stall')));
    await sleep(1200);
    await runProbe(tput, t, 2000);
    await sleep(1100);
    const stalled = await runProbe(tput, t, 2000);
    assert.equal(stalled.ok, false);
    assert.match(stalled.error ?? '', /^frames_total rate 0\.00\/s over 1(\.\d)?s < min 5\/s$/);
    const old = await runProbe(fresh, target(), 2000);
    assert.equal(old.ok, false);
    assert.match(old.error ?? '', /^last_frame_timestamp_seconds is \d+(\.\d)?s old > max 800ms$/);
    assert.equal((await runProbe({ kind: 'http', url: `${url}/healthz` }, t, 2000)).ok, true, 'health looks fine during a stall');

    await c.post('/fail/resume');
    await sleep(1200);
    await runProbe(tput, t, 2000);
    await sleep(1100);
    assert.equal((await runProbe(tput, t, 2000)).ok, true);
    assert.equal((await runProbe(fresh, target(), 2000)).ok, true);
  });

  test('SIGSTOP: the http probe fails by timeout on time; after SIGCONT it passes again at once', async () => {
    const c = await startChild();
    const check = { kind: 'http' as const, url: `http://127.0.0.1:${c.port}/healthz` };
    assert.equal((await runProbe(check, target(), 2000)).ok, true);
    c.proc.kill('SIGSTOP');
    try {
      for (let i = 0; i < 2; i++) {
        const t0 = performance.now();
        const r = await runProbe(check, target(), 500);
        const ms = performance.now() - t0;
        assert.deepEqual({ ok: r.ok, error: r.error, code: r.code }, { ok: false, error: 'timeout after 500ms', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT' });
        assert.ok(ms < 500 + SLACK_MS, `resolved after ${ms.toFixed(0)}ms`);
      }
    } finally {
      c.proc.kill('SIGCONT');
    }
    // No pooled socket from the stopped period may be reused and wedge this run.
    const r = await runProbe(check, target(), 2000);
    assert.equal(r.ok, true, r.error);
  });

  test('slow health fails a short timeout; back to normal passes', async () => {
    const c = await startChild();
    const check = { kind: 'http' as const, url: `http://127.0.0.1:${c.port}/healthz` };
    await c.post('/fail/slow-health?ms=2000');
    assert.equal((await runProbe(check, target(), 300)).error, 'timeout after 300ms');
    assert.ok(c.lines.some((l) => l.includes('fault: slow health 2000ms')));
    await c.post('/fail/slow-health?ms=0');
    assert.equal((await runProbe(check, target(), 2000)).ok, true);
  });

  test('POST /fail/hang blocks the whole process without burning CPU; only SIGKILL ends it', async () => {
    const c = await startChild();
    await c.post('/fail/hang');
    await waitFor('the hang line on stdout', () => c.lines.some((l) => l.includes('fault: hang')));
    const cpu0 = cpuSeconds(c.proc.pid!);
    const r = await runProbe({ kind: 'http', url: `http://127.0.0.1:${c.port}/healthz` }, target(), 500);
    assert.equal(r.error, 'timeout after 500ms');
    await sleep(500);
    assert.ok(cpuSeconds(c.proc.pid!) - cpu0 < 0.3, 'a hung child must not spin');
    c.proc.kill('SIGTERM');
    const first = await Promise.race([c.exited, sleep(500).then(() => 'alive' as const)]);
    assert.equal(first, 'alive', 'a blocked event loop cannot handle SIGTERM');
    c.proc.kill('SIGKILL');
    assert.deepEqual(await c.exited, { code: null, signal: 'SIGKILL' });
  });

  test('POST /fail/crash?code=3 exits with code 3 and says so on stdout', async () => {
    const c = await startChild();
    const res = await c.post('/fail/crash?code=3');
    assert.equal(res.status, 202);
    assert.deepEqual(await c.exited, { code: 3, signal: null });
    assert.ok(c.lines.some((l) => l.includes('fault: crash with code 3')), c.lines.join('\n'));
  });

  test('EXIT_CODE_ON_START and CRASH_AFTER_MS', async () => {
    const early = await startChild({ EXIT_CODE_ON_START: '7' }, false);
    assert.deepEqual(await early.exited, { code: 7, signal: null });
    const t0 = Date.now();
    const later = await startChild({ CRASH_AFTER_MS: '400' });
    assert.deepEqual(await later.exited, { code: 1, signal: null });
    assert.ok(Date.now() - t0 >= 400);
    assert.ok(later.lines.some((l) => l.includes('crash after 400ms')));
  });

  test('SIGTERM exits 0 promptly; with IGNORE_SIGTERM=1 it stays up until killed', async () => {
    const polite = await startChild();
    polite.proc.kill('SIGTERM');
    const t0 = performance.now();
    assert.deepEqual(await polite.exited, { code: 0, signal: null });
    assert.ok(performance.now() - t0 < 2000);

    const stubborn = await startChild({ IGNORE_SIGTERM: '1' });
    stubborn.proc.kill('SIGTERM');
    await waitFor('the ignored-SIGTERM line', () => stubborn.lines.some((l) => l.includes('SIGTERM ignored')));
    assert.equal((await runProbe({ kind: 'http', url: `http://127.0.0.1:${stubborn.port}/healthz` }, target(), 2000)).ok, true, 'still serving');
    stubborn.proc.kill('SIGKILL');
    assert.deepEqual(await stubborn.exited, { code: null, signal: 'SIGKILL' });
  });

  test('a missing or bad PORT is a clear start error', async () => {
    const proc = spawn(process.execPath, [FIXTURE], { env: { ...process.env, PORT: 'abc' }, stdio: ['ignore', 'ignore', 'pipe'] });
    started.push(proc);
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    assert.equal(code, 2);
    assert.match(err, /PORT must be a port number 1-65535, got "abc"/);
  });
});
