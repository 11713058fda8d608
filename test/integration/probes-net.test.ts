// http, tcp, exec and docker_health probes against real loopback peers and real child processes,
// and runProbe's deadline: every run resolves within its timeout plus slack, whatever the peer does.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { httpGet } from '../../supervisor/src/probes/http-get.ts';
import { releaseProbeMemory } from '../../supervisor/src/probes/index.ts';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult, Unit } from '../../supervisor/src/backends/types.ts';
import type { ProbeTarget } from '../../supervisor/src/probes/types.ts';
import type { ProbeCheck } from '../../supervisor/src/spec/types.ts';
import { runProbe } from '../../supervisor/src/probes/index.ts';
import { httpProbe } from '../../supervisor/src/probes/http.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { bareUnit } from '../helpers/probes.ts';

/** Slack on top of a probe timeout: this 2-core box is shared. */
const SLACK_MS = 700;

const target = (unit: Unit = bareUnit): ProbeTarget => ({ unit, memory: {}, now: Date.now });

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

let http: Server;
let httpBase = '';
const httpSockets = new Set<Socket>();
let hung: TcpServer;
let hungPort = 0;
const hungSockets = new Set<Socket>();

before(async () => {
  http = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/status') {
      res.writeHead(Number(u.searchParams.get('code')), { 'content-type': 'text/plain' });
      res.end(u.searchParams.get('body') ?? '');
    } else if (u.pathname === '/auth') {
      res.writeHead(req.headers.authorization === 'Bearer s3cret' ? 200 : 401);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  http.on('connection', (s) => {
    httpSockets.add(s);
    s.on('close', () => httpSockets.delete(s));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  // Accepts connections and never answers: what a wedged service looks like from outside.
  hung = createTcpServer((s) => {
    hungSockets.add(s);
    s.on('close', () => hungSockets.delete(s));
    s.on('error', () => undefined);
    // Read and drop the request (so the peer's close is seen), never write a byte back.
    s.resume();
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  hungPort = (hung.address() as AddressInfo).port;
});

after(async () => {
  for (const s of [...httpSockets, ...hungSockets]) s.destroy();
  await new Promise<void>((r) => http.close(() => r()));
  await new Promise<void>((r) => hung.close(() => r()));
});

describe('http probe', () => {
  const check = (path: string, extra: Partial<Extract<ProbeCheck, { kind: 'http' }>> = {}) => ({ kind: 'http' as const, url: `${httpBase}${path}`, ...extra });

  test('any 2xx/3xx passes by default with the status as value; other statuses fail in words', async () => {
    for (const code of [200, 204, 302]) {
      const r = await runProbe(check(`/status?code=${code}`), target(), 2000);
      assert.deepEqual({ ok: r.ok, value: r.value }, { ok: true, value: code }, `status ${code}`);
    }
    const r = await runProbe(check('/status?code=503'), target(), 2000);
    assert.deepEqual({ ok: r.ok, error: r.error, code: r.code, value: r.value }, { ok: false, error: 'status 503, expected 200-399', code: 'EDGEVISOR_ERR_PROBE_FAILED', value: 503 });
  });

  test('an explicit status list and a body substring', async () => {
    assert.equal((await runProbe(check('/status?code=200', { status: [204] }), target(), 2000)).error, 'status 200, expected 204');
    assert.equal((await runProbe(check('/status?code=404', { status: [200, 204, 404] }), target(), 2000)).ok, true);
    assert.equal((await runProbe(check('/status?code=500', { status: [200, 204] }), target(), 2000)).error, 'status 500, expected 200 or 204');
    assert.equal((await runProbe(check('/status?code=200&body=all%20good', { bodyContains: 'good' }), target(), 2000)).ok, true);
    const bad = await runProbe(check('/status?code=200&body=degraded%3A%20disk%20full', { bodyContains: 'ok' }), target(), 2000);
    assert.equal(bad.ok, false);
    assert.equal(bad.error, 'status 200 but body does not contain "ok" (body starts "degraded: disk full")');
  });

  test('headers are sent', async () => {
    assert.equal((await runProbe(check('/auth'), target(), 2000)).error, 'status 401, expected 200-399');
    assert.equal((await runProbe(check('/auth', { headers: { authorization: 'Bearer s3cret' } }), target(), 2000)).ok, true);
  });

  test('a refused connection names the address', async () => {
    const port = await freePort();
    const r = await runProbe({ kind: 'http', url: `http://127.0.0.1:${port}/healthz` }, target(), 2000);
    assert.equal(r.ok, false);
    assert.equal(r.error, `connect ECONNREFUSED 127.0.0.1:${port}`);
    assert.equal(r.code, 'EDGEVISOR_ERR_PROBE_FAILED');
  });

  test('a bad URL fails with what is accepted', async () => {
    assert.match((await runProbe({ kind: 'http', url: 'not a url' }, target(), 2000)).error ?? '', /bad URL "not a url": expected http:\/\/host:port\/path/);
    assert.match((await runProbe({ kind: 'http', url: 'ftp://127.0.0.1/x' }, target(), 2000)).error ?? '', /expected http:\/\/ or https:\/\//);
  });

  test('a server that accepts and never answers fails by timeout, on time, and its socket is closed', async () => {
    const [r, ms] = await timed(() => httpProbe({ kind: 'http', url: `http://127.0.0.1:${hungPort}/healthz` }, target(), 300, new AbortController().signal));
    assert.deepEqual({ ok: r.ok, error: r.error, code: r.code }, { ok: false, error: 'timeout after 300ms', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT' });
    assert.ok(ms >= 290 && ms < 300 + SLACK_MS, `resolved after ${ms.toFixed(0)}ms`);
    await waitFor('the probe socket to be closed', () => hungSockets.size === 0, 3000);
  });

  test('without a slot no socket is kept alive between runs; releasing a probe memory closes its socket', async () => {
    const mine = new Set<Socket>();
    const onConn = (s: Socket) => {
      mine.add(s);
      s.on('close', () => mine.delete(s));
    };
    http.on('connection', onConn);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await httpGet(`${httpBase}/status?code=200`, { signal: new AbortController().signal, maxBytes: 1024 })).status, 200);
      await waitFor('every probe connection to be closed', () => mine.size === 0, 3000);
      const t = target();
      assert.equal((await runProbe(check('/status?code=200'), t, 2000)).ok, true);
      assert.equal(mine.size, 1, 'kept between runs');
      releaseProbeMemory(t.memory);
      await waitFor('the kept connection to be closed', () => mine.size === 0, 3000);
    } finally {
      http.off('connection', onConn);
    }
  });

  test('a probe keeps one socket between its runs; a server closing it while idle costs no failure', async () => {
    const t = target();
    const seen = new Set<Socket>();
    const onConn = (s: Socket) => seen.add(s);
    http.on('connection', onConn);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await runProbe(check('/status?code=200'), t, 2000)).ok, true);
      assert.equal(seen.size, 1, 'five runs, one connection');
      // The server drops idle connections (as Node's 5 s keep-alive timeout does).
      for (const s of seen) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const r = await runProbe(check('/status?code=200'), t, 2000);
      assert.equal(r.ok, true, `a closed idle socket is retried on a fresh one: ${r.error}`);
      assert.equal(seen.size, 2);
      // A failing answer on a kept socket is still a failure.
      assert.equal((await runProbe(check('/status?code=503'), t, 2000)).ok, false);
    } finally {
      http.off('connection', onConn);
    }
  });
});

describe('tcp probe', () => {
  test('a listener passes; a closed port fails with the address', async () => {
    assert.equal((await runProbe({ kind: 'tcp', host: '127.0.0.1', port: hungPort }, target(), 2000)).ok, true);
    const port = await freePort();
    const r = await runProbe({ kind: 'tcp', host: '127.0.0.1', port }, target(), 2000);
    assert.deepEqual({ ok: r.ok, error: r.error }, { ok: false, error: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });
});

describe('exec probe (local, own process group)', () => {
  test('exit 0 passes; a non-zero exit fails with the code and the last line of stderr', async () => {
    assert.equal((await runProbe({ kind: 'exec', command: ['sh', '-c', 'exit 0'] }, target(), 3000)).ok, true);
    const r = await runProbe({ kind: 'exec', command: ['sh', '-c', 'echo checking; echo "db: connection refused" >&2; exit 3'] }, target(), 3000);
    assert.deepEqual({ ok: r.ok, error: r.error, value: r.value }, { ok: false, error: 'sh exited with code 3: db: connection refused', value: 3 });
  });

  test('a command that cannot be spawned says so', async () => {
    const r = await runProbe({ kind: 'exec', command: ['edgevisor-no-such-command'] }, target(), 3000);
    assert.equal(r.ok, false);
    assert.equal(r.error, 'spawn edgevisor-no-such-command ENOENT');
  });

  test('on timeout the whole group is killed, the background part included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-exec-'));
    try {
      const pidFile = join(dir, 'bg.pid');
      const [r, ms] = await timed(() => runProbe({ kind: 'exec', command: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; sleep 30`] }, target(), 400));
      assert.deepEqual({ ok: r.ok, error: r.error, code: r.code }, { ok: false, error: 'timeout after 400ms', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT' });
      assert.ok(ms < 400 + SLACK_MS, `resolved after ${ms.toFixed(0)}ms`);
      const bgPid = Number(readFileSync(pidFile, 'utf8').trim());
      await waitFor('the background sleep to be killed', () => {
        try {
          process.kill(bgPid, 0);
          return false;
        } catch {
          return true;
        }
      }, 3000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a unit with exec (Docker) runs the command there, not here', async () => {
    const calls: (readonly string[])[] = [];
    const unit: Unit = {
      ...bareUnit,
      exec: async (command): Promise<ExecResult> => {
        calls.push(command);
        return { code: 1, stdout: '', stderr: 'pg_isready: no response\n' };
      },
    };
    const r = await runProbe({ kind: 'exec', command: ['pg_isready', '-q'] }, target(unit), 2000);
    assert.deepEqual(calls, [['pg_isready', '-q']]);
    assert.equal(r.error, 'pg_isready exited with code 1: pg_isready: no response');
  });
});

describe('docker_health probe', () => {
  const unitWith = (health: Unit['health']): Unit => ({ ...bareUnit, health });

  test('healthy and starting pass; unhealthy and none fail in words', async () => {
    const verdict = async (status: 'healthy' | 'unhealthy' | 'starting' | 'none') => {
      const r = await runProbe({ kind: 'docker_health' }, target(unitWith(async () => status)), 2000);
      return r.ok ? 'pass' : r.error;
    };
    assert.equal(await verdict('healthy'), 'pass');
    assert.equal(await verdict('starting'), 'pass');
    assert.equal(await verdict('unhealthy'), 'container HEALTHCHECK reports unhealthy');
    assert.equal(await verdict('none'), 'container has no HEALTHCHECK');
    assert.match((await runProbe({ kind: 'docker_health' }, target(), 2000)).error ?? '', /needs a docker child/);
  });
});

describe('runProbe deadline', () => {
  test('a unit call that ignores its signal is still cut off at the timeout', async () => {
    const never = new Promise<never>(() => undefined);
    const unit: Unit = { ...bareUnit, health: () => never, exec: () => never };
    for (const check of [{ kind: 'docker_health' }, { kind: 'exec', command: ['true'] }] as ProbeCheck[]) {
      const [r, ms] = await timed(() => runProbe(check, target(unit), 250));
      assert.equal(r.error, 'timeout after 250ms', check.kind);
      assert.ok(ms < 250 + SLACK_MS, `${check.kind} resolved after ${ms.toFixed(0)}ms`);
    }
  });

  test('a caller signal that never fires does not extend the timeout; an early abort ends the run at once', async () => {
    const idle = new AbortController();
    const [late, lateMs] = await timed(() => runProbe({ kind: 'http', url: `http://127.0.0.1:${hungPort}/` }, target(), 300, idle.signal));
    assert.equal(late.error, 'timeout after 300ms');
    assert.ok(lateMs < 300 + SLACK_MS);

    const early = new AbortController();
    setTimeout(() => early.abort(new Error('child stopping')), 50);
    const [r, ms] = await timed(() => runProbe({ kind: 'http', url: `http://127.0.0.1:${hungPort}/` }, target(), 5000, early.signal));
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /^aborted after \d+ms: child stopping$/);
    assert.ok(ms < 50 + SLACK_MS, `resolved after ${ms.toFixed(0)}ms`);

    const [pre] = await timed(() => runProbe({ kind: 'tcp', host: '127.0.0.1', port: hungPort }, target(), 5000, AbortSignal.abort(new DOMException('late', 'TimeoutError'))));
    assert.deepEqual({ error: pre.error, code: pre.code }, { error: 'timeout after 5000ms', code: 'EDGEVISOR_ERR_PROBE_TIMEOUT' });
  });
});
