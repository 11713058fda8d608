/**
 * Runtime failpoints (apps/common/src/failpoints.ts) on real listeners: absent unless enabled (in
 * every app, read from EDGEVISOR_FAILPOINTS by its own config), and each shared one does what the
 * fault suite relies on: a hung /healthz while the rest answers, a blocked event loop, a
 * crash-at-start marker that fails every later start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAppServer, installFailpoints, CRASH_AT_START_MARKER } from '../../apps/common/src/index.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function listen(enabled: boolean, dataDir?: string, exit?: (code: number) => void) {
  const server = createAppServer({ name: 'fp', processMetrics: false });
  installFailpoints(server, { enabled, app: 'fp', custom: ['stuck'], log: () => {}, ...(dataDir ? { dataDir } : {}), ...(exit ? { exit } : {}) });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (server.app.server.address() as { port: number }).port;
  return { app: server.app, url: `http://127.0.0.1:${port}` };
}
const post = (url: string) => fetch(url, { method: 'POST', signal: AbortSignal.timeout(3000) });

// Each app's main.ts as a real process: the route exists only with EDGEVISOR_FAILPOINTS=1.
for (const name of ['web', 'onvif', 'vacuum', 'camera']) {
  test(`${name}: no /failpoints route unless EDGEVISOR_FAILPOINTS=1`, async () => {
    for (const enabled of ['0', '1']) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), `fp-${name}-`));
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, `apps/${name}/src/main.ts`)], {
        cwd: root,
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, EDGEVISOR_FAILPOINTS: enabled },
        stdio: 'ignore',
      });
      try {
        await waitFor(`${name} /healthz`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).status < 500, 30_000, 100);
        const r = await post(`http://127.0.0.1:${port}/failpoints/nonesuch`);
        const body = (await r.json()) as { error: { code: string; message: string } };
        assert.equal(r.status, 404);
        assert.equal(body.error.code, enabled === '1' ? 'APP_ERR_FAILPOINT_UNKNOWN' : 'APP_ERR_NOT_FOUND', body.error.message);
        if (enabled === '1') assert.match(body.error.message, /accepted: block, hang-healthz, oom, crash-at-start/);
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
}

test('a bad EDGEVISOR_FAILPOINTS is refused, naming the variable and what is accepted', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/web/src/main.ts')], { cwd: root, env: { ...process.env, PORT: '0', EDGEVISOR_FAILPOINTS: 'yes' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  assert.equal(await new Promise((res) => child.on('exit', res)), 1);
  assert.match(stderr, /env EDGEVISOR_FAILPOINTS: expected 1 \(runtime failpoints on; tests only\) or 0, got "yes"/);
});

test('hang-healthz: /healthz never answers, /metrics still does', async () => {
  const s = await listen(true);
  try {
    assert.equal((await post(`${s.url}/failpoints/hang-healthz`)).status, 202);
    await assert.rejects(fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(1000) }), /TimeoutError|aborted/);
    assert.equal((await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(1000) })).status, 200);
  } finally {
    await s.app.close().catch(() => {});
  }
});

test('block?ms: nothing answers while the loop is blocked, then everything does (a real process: the block is its whole thread)', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/onvif/src/main.ts')], { cwd: root, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', EDGEVISOR_FAILPOINTS: '1' }, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('onvif /healthz', async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok, 30_000, 100);
    assert.equal((await post(`${url}/failpoints/block?ms=soon`)).status, 400);
    assert.equal((await post(`${url}/failpoints/block?ms=3000`)).status, 202);
    const t0 = Date.now();
    // The block starts 20 ms after the answer: wait until a request goes unanswered.
    await waitFor('the event loop blocked', () => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(150) }).then(() => false, () => true), 2000, 0);
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 > 2500, `answered ${Date.now() - t0} ms after the block began, not before it ended`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('crash-at-start: writes the marker and exits 1; every later start fails until it is removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-crash-'));
  let exited: number | undefined;
  const s = await listen(true, dir, (c) => (exited = c));
  try {
    assert.equal((await post(`${s.url}/failpoints/crash-at-start`)).status, 202);
    await waitFor('exit(1)', () => exited === 1, 3000);
    assert.ok(existsSync(join(dir, CRASH_AT_START_MARKER)));
    await assert.rejects(listen(true, dir), (e: Error & { code?: string }) => e.code === 'APP_ERR_FAILPOINT_CRASH_AT_START' && /remove it to start/.test(e.message));
    // Off: the marker means nothing.
    const off = await listen(false, dir);
    await off.app.close();
  } finally {
    await s.app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
