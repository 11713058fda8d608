// Issue 16, point 14: the root is among the known ids (it is restartable), a start sent while a
// manual stop is still in progress is queued behind it (202, then running), and a config error is
// printed once. Real processes, real API.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../helpers/net.ts';
import { edgevisorBin } from '../helpers/supervisor-process.ts';
import { TECH, call, childrenTree, startService, tempDir, type Service } from './api-helpers.ts';

describe('hardening: manual actions', () => {
  const tmp = tempDir();
  let svc: Service;
  before(async () => {
    const tree = await childrenTree('box', ['web']);
    // A child that takes its time to stop: its SIGTERM is ignored, the 1.5 s grace runs out.
    const web = (tree.children as Record<string, any>[])[0]!;
    web.shutdown = '1500ms';
    web.process.env.IGNORE_SIGTERM = '1';
    svc = await startService(tree, join(tmp.dir, 'events.db'));
    await waitFor('web running', () => svc.tree.child('web')?.state === 'running', 20_000);
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  test('unknown ids list every actionable id, the root first', async () => {
    const r = await call(`${svc.url}/v1/children/nope/restart`, { method: 'POST', token: TECH });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.message, 'no child "nope" (known: box, web)');
  });

  test('start while a manual stop is pending is queued, not refused as already up', async () => {
    const stop = await call(`${svc.url}/v1/children/web/stop`, { method: 'POST', token: TECH });
    assert.equal(stop.status, 202);
    await waitFor('web stopping', () => svc.tree.child('web')?.state === 'stopping', 5_000, 5);
    const start = await call(`${svc.url}/v1/children/web/start`, { method: 'POST', token: TECH });
    assert.equal(start.status, 202, JSON.stringify(start.body));
    await waitFor('web running again', () => svc.tree.child('web')?.state === 'running', 20_000);
    assert.equal(svc.tree.child('web')?.manuallyStopped, false);
  });
});

test('a config error is printed once by `edgevisor run`', () => {
  const r = spawnSync(process.execPath, [edgevisorBin, 'run', join(import.meta.dirname, '../fixtures/trees/bad.yaml')], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '' } });
  assert.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(new Set(lines).size, lines.length, r.stderr);
  assert.ok(lines.every((l) => /^bad\.yaml:\d+ /.test(l)), r.stderr);
  assert.equal(r.stdout, '');
});
