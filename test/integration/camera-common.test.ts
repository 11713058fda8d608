import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Counter } from 'prom-client';
import { createAppServer, parseEnv, envVars, sendError } from '../../apps/common/src/index.ts';
import { loadYamlConfigLocal } from '../../apps/common/src/yaml.ts';
import { EdgevisorError, codes } from '../../supervisor/src/errors.ts';

describe('createAppServer', () => {
  test('healthz reflects checks; metrics serve the registry; errors are JSON', async () => {
    const { app, registry, addHealthCheck } = createAppServer({ name: 'demo', processMetrics: false });
    let healthy = true;
    addHealthCheck('thing', () => { if (!healthy) throw new Error('thing is down'); });
    const c = new Counter({ name: 'demo_things_total', help: 'x', registers: [registry] });
    c.inc(3);
    app.get('/boom', async () => { throw new EdgevisorError(codes.STATE_CONFLICT, 'nope'); });
    app.get('/busy', async (_req, reply) => sendError(reply, 503, 'DEMO_ERR_BUSY', 'busy'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    try {
      let r = await fetch(`${base}/healthz`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { app: 'demo', status: 'ok', checks: { thing: { ok: true } } });
      healthy = false;
      r = await fetch(`${base}/healthz`);
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { checks: { thing: { error: string } } }).checks.thing.error, 'thing is down');
      const m = await (await fetch(`${base}/metrics`)).text();
      assert.match(m, /demo_things_total\{app="demo"\} 3/);
      r = await fetch(`${base}/boom`);
      assert.equal(r.status, 409);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, codes.STATE_CONFLICT);
      r = await fetch(`${base}/busy`);
      assert.equal(r.status, 503);
      assert.deepEqual(await r.json(), { error: { code: 'DEMO_ERR_BUSY', message: 'busy' } });
      r = await fetch(`${base}/nothing`);
      assert.equal(r.status, 404);
    } finally {
      await app.close();
    }
  });
});

describe('parseEnv', () => {
  const schema = z.object({ PORT: envVars.port(8081), HOST: envVars.host('127.0.0.1') });
  test('applies defaults and freezes', () => {
    const cfg = parseEnv(schema, {});
    assert.deepEqual(cfg, { PORT: 8081, HOST: '127.0.0.1' });
    assert.ok(Object.isFrozen(cfg));
    assert.equal(parseEnv(schema, { PORT: '9000' }).PORT, 9000);
  });
  test('bad value names the variable, what is accepted and what it got', () => {
    assert.throws(() => parseEnv(schema, { PORT: 'abc' }), (err: EdgevisorError) => {
      assert.equal(err.code, codes.SPEC_INVALID);
      assert.match(err.details[0]!, /^env PORT: expected an integer 0\.\.65535, got "abc"$/);
      return true;
    });
  });
});

describe('loadYamlConfigLocal', () => {
  test('errors carry file, line and field path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'common-yaml-'));
    const file = join(dir, 'things.yaml');
    await writeFile(file, 'things:\n  - id: a\n    size: 3\n  - id: b\n    size: big\n');
    const schema = z.object({ things: z.array(z.object({ id: z.string(), size: z.number() })) });
    await assert.rejects(loadYamlConfigLocal(file, schema), (err: EdgevisorError) => {
      assert.equal(err.code, codes.SPEC_INVALID);
      assert.match(err.details[0]!, /^things\.yaml:5 things\.1\.size: .*number.*, got "big"$/);
      return true;
    });
    await writeFile(file, 'things:\n  - id: a\n    size: 3\n');
    assert.deepEqual(await loadYamlConfigLocal(file, schema), { things: [{ id: 'a', size: 3 }] });
  });
});
