/**
 * Issue 14, item 5: a supervisor cannot be fooled by its own tree file. Real `edgevisor run`
 * processes on a temp folder (no Docker): a bad tree file without a last good tree exits 1 with
 * exactly the messages `edgevisor validate` prints; with one, the supervisor runs the last good
 * tree, says so in an alarm event and in /healthz (file name and line, no server path), and keeps
 * the last good copy as it was.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { edgevisorBin, startSupervisor, TEST_TECH, TEST_VIEWER, type SupervisorProcess } from '../helpers/supervisor-process.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const dir = mkdtempSync(join(tmpdir(), 'edgevisor-lastgood-'));
const treeFile = join(dir, 'tree.yaml');
const lastGood = join(dir, 'data', 'last-good-tree.yaml');
const running: SupervisorProcess[] = [];

const tree = (port: number, every: string) => [
  'version: 1',
  'name: box',
  `api: { listen: "127.0.0.1:${port}" }`,
  'store: { path: ./data/events.db }',
  'children:',
  '  - id: worker',
  `    process: { command: [${JSON.stringify(process.execPath)}, -e, "setInterval(() => {}, 1000)"] }`,
  '    probes:',
  '      - name: alive',
  '        exec: { command: ["true"] }',
  `        every: ${every}`,
  '',
].join('\n');

function run(file: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [edgevisorBin, ...(env['CMD'] === 'validate' ? ['validate'] : ['run']), file], {
      env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_VIEWER_TOKEN: TEST_VIEWER, EDGEVISOR_TECHNICIAN_TOKEN: TEST_TECH, ...env },
      timeout: 30_000,
    }, (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
  });
}

async function stop(s: SupervisorProcess): Promise<void> {
  s.child.kill('SIGTERM');
  assert.equal((await s.exited).code, 0, s.stderr());
}

describe('edgevisor run on a bad tree file', { timeout: 120_000 }, () => {
  after(async () => {
    for (const s of running) await s.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('without a last good tree: exit 1 with the messages validate prints, nothing started', async () => {
    writeFileSync(treeFile, tree(await freePort(), 'fast'));
    const validate = await run(treeFile, { CMD: 'validate' });
    assert.equal(validate.code, 1);
    assert.match(validate.stderr, /^tree\.yaml:11 children\[0\]\.probes\[0\]\.every: expected a duration/m);
    const r = await run(treeFile, { EDGEVISOR_LAST_GOOD_TREE: lastGood });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'no API, no tree');
    assert.equal(r.stderr, validate.stderr, 'the CLI\'s messages, as they are, and nothing else');
  });

  test('a good tree is kept as the last good one; a bad one then runs it, with an alarm and /healthz saying why', async () => {
    const port = await freePort();
    const good = tree(port, '1s');
    writeFileSync(treeFile, good);
    const first = await startSupervisor(treeFile, { env: { EDGEVISOR_LAST_GOOD_TREE: lastGood } });
    running.push(first);
    await waitFor('worker running', async () => (await first.state('worker')) === 'running', 20_000);
    assert.equal(readFileSync(lastGood, 'utf8'), good, 'the tree it runs is kept verbatim');
    assert.deepEqual((await first.api('/healthz')).body.treeFile, { status: 'ok', file: 'tree.yaml' });
    await stop(first);

    // A technician's typo (line 11), then a restart of the supervisor.
    writeFileSync(treeFile, tree(port, 'fast'));
    const second = await startSupervisor(treeFile, { env: { EDGEVISOR_LAST_GOOD_TREE: lastGood } });
    running.push(second);
    await waitFor('worker running on the last good tree', async () => (await second.state('worker')) === 'running', 20_000);
    const validate = await run(treeFile, { CMD: 'validate' });
    for (const line of validate.stderr.trimEnd().split('\n')) assert.ok(second.stderr().includes(`${line}\n`), `logged: ${line}\n${second.stderr()}`);
    assert.match(second.stderr(), /^edgevisor: tree\.yaml refused: running the last good tree \(saved \d{4}-\d\d-\d\dT[\d:.]+Z\)$/m);

    const health = await second.api('/healthz', { token: null });
    assert.equal(health.status, 200, 'the supervisor serves: it is running a good tree');
    assert.equal(health.body.status, 'degraded');
    assert.equal(health.body.treeFile.status, 'refused');
    assert.equal(health.body.treeFile.file, 'tree.yaml');
    assert.equal(health.body.treeFile.line, 11);
    assert.equal(health.body.treeFile.running, 'last_good');
    assert.deepEqual(health.body.treeFile.problems, validate.stderr.trimEnd().split('\n'));

    const events = (await second.api('/v1/events?since=0&limit=1000')).body.events as { type: string; child: string; reason: string; data?: Record<string, unknown> }[];
    const alarm = events.find((e) => e.type === 'alarm' && e.data?.['treeFile'] === 'tree.yaml');
    assert.ok(alarm, JSON.stringify(events));
    assert.equal(alarm.child, 'box');
    assert.match(alarm.reason, /^tree file tree\.yaml refused \(1 problem; first: tree\.yaml:11 children\[0\]\.probes\[0\]\.every: expected a duration.*\): running the last good tree, saved .*; fix tree\.yaml and restart the supervisor$/);
    assert.equal(alarm.data?.['line'], 11);
    for (const text of [JSON.stringify(health.body), JSON.stringify(alarm)]) assert.ok(!text.includes(dir), `no server path in ${text}`);
    assert.equal(readFileSync(lastGood, 'utf8'), good, 'a refused file never replaces the last good tree');
    await stop(second);
  });

  test('a missing tree file is refused the same way (the last good tree runs)', async () => {
    rmSync(treeFile);
    const s = await startSupervisor(treeFile, { env: { EDGEVISOR_LAST_GOOD_TREE: lastGood } });
    running.push(s);
    const health = await s.api('/healthz', { token: null });
    assert.equal(health.body.treeFile.status, 'refused');
    assert.match(health.body.treeFile.problems[0], /^tree\.yaml: cannot read tree\.yaml: ENOENT$/);
    assert.ok(!JSON.stringify(health.body).includes(dir), 'no server path');
    await stop(s);
  });
});
