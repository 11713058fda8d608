/**
 * The apps the compose stack runs besides camera and inference (web, onvif, vacuum): real /healthz
 * and /metrics on real listeners, a /healthz that fails when the data volume is gone, and main.ts
 * as a real process that drains and exits 0 on SIGTERM (what `docker stop` sends through the init).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp as buildWeb } from '../../apps/web/src/app.ts';
import { buildApp as buildOnvif } from '../../apps/onvif/src/app.ts';
import { buildApp as buildVacuum } from '../../apps/vacuum/src/app.ts';
import { defaultVacuumConfig } from '../../apps/vacuum/src/config.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const apps: { name: string; build: (dataDir?: string) => FastifyInstance; metric: string }[] = [
  { name: 'web', build: (dataDir) => buildWeb({ version: '9.9.9', dataDir, inferenceUrl: 'http://127.0.0.1:9' }), metric: 'web_http_requests_total' },
  { name: 'onvif', build: (dataDir) => buildOnvif({ config: { dataDir } }).app, metric: 'onvif_cameras_known' },
  { name: 'vacuum', build: (dataDir) => buildVacuum({ config: defaultVacuumConfig(dataDir ?? tmpdir()), schedule: false, log: () => {} }).app, metric: 'vacuum_last_success_timestamp_seconds' },
];

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

describe('web, onvif and vacuum apps', () => {
  for (const a of apps) {
    test(`${a.name}: /healthz and /metrics answer; /healthz fails when DATA_DIR is gone`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `edgevisor-${a.name}-`));
      const app = a.build(dir);
      try {
        const base = await listen(app);
        const ok = await fetch(`${base}/healthz`);
        assert.equal(ok.status, 200);
        assert.equal(((await ok.json()) as { app: string }).app, a.name);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, new RegExp(`^${a.metric}\\{`, 'm'));
        // A volume that did not mount (or was removed) must show up in the probe.
        rmSync(dir, { recursive: true });
        const bad = await fetch(`${base}/healthz`);
        assert.equal(bad.status, 503);
        assert.match(await bad.text(), /DATA_DIR .* is not writable/);
      } finally {
        await app.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('web shows the running version (what deploy tests read after an upgrade)', async () => {
    const app = buildWeb({ version: '1.2.3<x>', inferenceUrl: 'http://127.0.0.1:9' });
    try {
      const page = await (await fetch(`${await listen(app)}/`)).text();
      assert.match(page, /data-version="1\.2\.3&#60;x&#62;"/);
    } finally {
      await app.close();
    }
  });

  for (const name of ['web', 'onvif', 'vacuum']) {
    test(`${name} main.ts: listens on PORT, drains and exits 0 on SIGTERM`, async () => {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, `apps/${name}/src/main.ts`)], {
        cwd: root,
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tmpdir() },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      try {
        await waitFor(`${name} /healthz`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).ok, 20_000, 100);
        const t0 = Date.now();
        child.kill('SIGTERM');
        assert.equal(await exited, 0, stderr);
        assert.ok(Date.now() - t0 < 5_000, `drained in ${Date.now() - t0}ms, within its 5 s grace`);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }

  test('a bad PORT is one clear line and exit 1, not a stack trace', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/vacuum/src/main.ts')], { cwd: root, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 1);
    assert.match(stderr, /env PORT: expected an integer 0\.\.65535, got "eighty"/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
});
