import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';
import { TECH, VIEWER, childrenTree, fixture, startService, tempDir, type Service } from './api-helpers.ts';

const bin = resolve('bin/edgevisor.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real bin with only the env we give it (plus PATH), bounded in time. */
function edgevisor(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgevisor ${args.join(' ')} did not finish in ${timeoutMs}ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

describe('edgevisor CLI (real bin)', () => {
  const tmp = tempDir();
  let svc: Service;
  let env: Record<string, string>;
  before(async () => {
    svc = await startService(await childrenTree('box', ['web', 'cam']), join(tmp.dir, 'events.db'));
    await waitFor('children running', () => svc.tree.snapshot().nodes.every((n) => n.state === 'running'), 20_000);
    env = { EDGEVISOR_API: svc.url, EDGEVISOR_TOKEN: TECH };
  });
  after(async () => {
    await svc?.close();
    tmp.remove();
  });

  test('validate: exit 0 with a count on a good file, 1 with one message per problem on a bad one', async () => {
    const good = join(tmp.dir, 'good.yaml');
    writeFileSync(good, `version: 1\nname: g\nchildren:\n  - id: a\n    process: { command: [node, x.js] }\n  - id: grp\n    children:\n      - id: b\n        process: { command: [node, y.js] }\n`);
    const ok = await edgevisor(['validate', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'ok: 3 children');

    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, `version: 1\nname: b\nchildren:\n  - id: a\n    process: { command: [node, x.js] }\n    probes:\n      - name: p\n        tcp: { host: 127.0.0.1, port: 1 }\n        every: fast\n  - id: a\n    process: { command: [node, x.js] }\n`);
    const r = await edgevisor(['validate', bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.equal(lines[0], 'bad.yaml:9 children[0].probes[0].every: expected a duration like "500ms" or "2s", got "fast"');
    assert.match(lines[1]!, /^bad\.yaml:10 children\[1\]\.id: duplicate id "a"/);

    const missing = await edgevisor(['validate', join(tmp.dir, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  });

  test('status prints a table with nested indentation; --json the snapshot', async () => {
    const r = await edgevisor(['status'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+STATE\s+UPTIME\s+RESTARTS\s+LAST-REASON$/);
    assert.match(lines[1]!, /^box\s+running\s/);
    assert.match(lines[2]!, /^ {2}web\s+running\s+\d+s\s+0\s+\S/);
    assert.match(lines[3]!, /^ {2}cam\s+running\s/);
    const json = await edgevisor(['status', '--json'], { ...env, EDGEVISOR_TOKEN: VIEWER });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).nodes.map((n: { id: string }) => n.id), ['box', 'web', 'cam']);
  });

  test('restart / stop / start, refusals and unknown ids give one line and exit 2', async () => {
    const restart = await edgevisor(['restart', 'cam'], env);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stdout.trim(), 'restarting cam (one_for_one)');
    await waitFor('cam restarted', () => svc.tree.child('cam')!.restarts === 1 && svc.tree.child('cam')!.state === 'running', 15_000);

    const unknown = await edgevisor(['stop', 'foo'], env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'edgevisor: no child "foo" (known: box, web, cam)\n');

    const asViewer = await edgevisor(['restart', 'web'], { ...env, EDGEVISOR_TOKEN: VIEWER });
    assert.equal(asViewer.code, 2);
    assert.equal(asViewer.stderr.trim().split('\n').length, 1);
    assert.match(asViewer.stderr, /^edgevisor: .*technician token/);

    const noToken = await edgevisor(['status'], { EDGEVISOR_API: svc.url });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /^edgevisor: missing bearer token.*\(set EDGEVISOR_TOKEN\)\n$/);

    assert.equal((await edgevisor(['stop', 'web'], env)).code, 0);
    await waitFor('web stopped', () => svc.tree.child('web')!.state === 'stopped', 10_000);
    const again = await edgevisor(['stop', 'web'], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^edgevisor: web is stopped: .*\n$/);
    const status = await edgevisor(['status'], env);
    assert.match(status.stdout, /\n {2}web\s+stopped \(manual\)\s+-\s/);
    // LAST-REASON is why it was restarted, not "startup probes passed", and the CLI says it was the CLI.
    assert.match(status.stdout, /\n {2}cam\s+running\s+\S+\s+1\s+restarted by a technician \(cli\) \(\d+s ago\)\n/);
    assert.equal((await edgevisor(['start', 'web'], env)).code, 0);
    await waitFor('web running', () => svc.tree.child('web')!.state === 'running', 15_000);
  });

  test('events and logs', async () => {
    const r = await edgevisor(['events', '--since', '0', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const evs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; data?: Record<string, unknown> });
    assert.equal(evs[0]!.seq, 1);
    assert.ok(evs.some((e) => e.type === 'manual' && e.data?.['role'] === 'technician'));
    const human = await edgevisor(['events'], env);
    assert.equal(human.code, 0);
    assert.ok(human.stdout.trim().split('\n').length <= 20);
    assert.match(human.stdout, /#\d+\s+manual\s+web\s+start requested by technician via cli\s+\(by technician\)/);
    const logs = await edgevisor(['logs', 'web'], env);
    assert.equal(logs.code, 0);
    assert.match(logs.stdout, /listening on 127\.0\.0\.1:\d+/);
  });

  test('an unreachable supervisor: one line and exit 3', async () => {
    const port = await freePort();
    const r = await edgevisor(['status'], { EDGEVISOR_API: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `edgevisor: cannot reach the supervisor at http://127.0.0.1:${port} (connection refused)\n`);
  });

  test('run: serves the API, follows events, and stops the tree on SIGTERM', async () => {
    const childPort = await freePort();
    const apiPort = await freePort();
    const file = join(tmp.dir, 'run.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'name: runbox',
        'store: { path: ./var/run.db }',
        'children:',
        '  - id: web',
        `    process: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture)}], env: { PORT: "${childPort}" } }`,
        '    probes:',
        `      - { name: live, http: { url: "http://127.0.0.1:${childPort}/healthz" }, every: 250ms, startup_grace: 5s }`,
        '',
      ].join('\n'),
    );
    const api = `http://127.0.0.1:${apiPort}`;
    const child = spawn(process.execPath, [bin, 'run', file], {
      env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_LISTEN: `127.0.0.1:${apiPort}`, EDGEVISOR_TECHNICIAN_TOKEN: TECH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor('listening line', () => out.includes(`API listening on ${api}`), 20_000);
      const cliEnv = { EDGEVISOR_API: api, EDGEVISOR_TOKEN: TECH };
      await waitFor('web running', async () => (await edgevisor(['status'], cliEnv)).stdout.match(/\n {2}web\s+running/), 20_000, 300);

      const follow = spawn(process.execPath, [bin, 'events', '--follow'], { env: { PATH: process.env['PATH'] ?? '', ...cliEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let followed = '';
      follow.stdout.on('data', (d) => (followed += d));
      try {
        await waitFor('follow shows history', () => /web\s+starting -> running/.test(followed), 15_000);
        assert.equal((await edgevisor(['restart', 'web'], cliEnv)).code, 0);
        await waitFor('follow shows the live restart', () => /manual\s+web\s+restart requested by technician/.test(followed), 15_000);
      } finally {
        follow.kill('SIGINT');
      }

      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      // The service's stdout is JSON lines, one per event, about a child.
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { app: string; level: string; msg: string; child?: string; from?: string; to?: string });
      assert.ok(lines.every((l) => l.app === 'supervisor' && typeof l.level === 'string' && typeof l.msg === 'string'), out);
      assert.ok(lines.some((l) => /SIGTERM: stopping runbox/.test(l.msg)), out);
      assert.ok(lines.some((l) => l.child === 'web' && l.to === 'stopped'), out);
      await assert.rejects(fetch(`http://127.0.0.1:${childPort}/healthz`, { signal: AbortSignal.timeout(2_000) }), 'the child is gone');
      assert.ok(lines.some((l) => l.child === 'web' && l.from === 'running' && l.to === 'stopping'), out);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
