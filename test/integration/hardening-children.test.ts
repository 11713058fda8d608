// Issue 16, points 4 and 7: process children never outlive a SIGKILLed supervisor, and they get
// only what their spec gives them (never the supervisor's tokens). Real `edgevisor run`, real
// http-child processes, /proc/<pid>/environ read as the kernel has it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGroupAlive, isProcessAlive } from '../../supervisor/src/backends/index.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { TEST_TECH, TEST_VIEWER, startSupervisor } from '../helpers/supervisor-process.ts';
import { httpChild } from '../helpers/tree.ts';

const portOpen = (port: number) =>
  new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });

/** Pids in process group `pgid` whose command line contains `text`. */
function groupMembers(pgid: number, text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === pgid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function environ(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

describe('hardening: process children and their supervisor', () => {
  let dir: string;
  let file: string;
  let ports: number[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgevisor-hard-children-'));
    ports = [await freePort(), await freePort()];
    file = join(dir, 'tree.yaml');
    const child = (id: string, port: number, extra = '') => `
  - id: ${id}
    shutdown: 2s
    process:
      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(httpChild)}]
      env: { PORT: "${port}", SPEC_VAR: from-spec }${extra}
    probes:
      - { name: live, http: { url: "http://127.0.0.1:${port}/healthz" }, every: 250ms, timeout: 1s, startup_grace: 5s }`;
    writeFileSync(
      file,
      `version: 1\nname: hard\nintensity: 2\nperiod: 30s\napi: { listen: "127.0.0.1:0" }\nstore: { path: ./var/events.db }\nchildren:${child('web', ports[0]!)}${child('cam', ports[1]!, '\n      pass_env: [SITE_NAME]')}\n`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a child gets its spec env and a minimal base, never the supervisor tokens or shell variables', async () => {
    const sup = await startSupervisor(file, { env: { SHELL_SECRET: 'do-not-pass-me', SITE_NAME: 'plant-7', EDGEVISOR_TOKEN: 'cli-token-xyz-123' } });
    try {
      await waitFor('both running', async () => (await sup.state('web')) === 'running' && (await sup.state('cam')) === 'running', 20_000);
      const tree = (await sup.api('/v1/tree')).body;
      for (const id of ['web', 'cam']) {
        const pid = tree.nodes.find((n: { id: string }) => n.id === id).info.pid as number;
        const env = environ(pid);
        const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
        for (const secret of [TEST_TECH, TEST_VIEWER, 'cli-token-xyz-123', 'do-not-pass-me']) assert.ok(!raw.includes(secret), `${id} environment carries ${secret}`);
        assert.ok(!Object.keys(env).some((k) => k.startsWith('EDGEVISOR_')), `${id}: ${Object.keys(env).join(',')}`);
        assert.equal(env['SPEC_VAR'], 'from-spec');
        assert.equal(env['PATH'], process.env['PATH']);
        assert.equal(env['SITE_NAME'], id === 'cam' ? 'plant-7' : undefined, 'pass_env passes exactly the named variables');
      }
    } finally {
      await sup.kill();
    }
    await waitFor('children gone after the kill', async () => (await Promise.all(ports.map(portOpen))).every((open) => !open), 15_000);
  });

  test('after a SIGKILL of the supervisor no child keeps serving, and the next start comes up clean', async () => {
    const first = await startSupervisor(file);
    await waitFor('both running', async () => (await first.state('web')) === 'running' && (await first.state('cam')) === 'running', 20_000);
    const nodes = (await first.api('/v1/tree')).body.nodes as { id: string; info?: { pid: number } }[];
    const pids = nodes.filter((n) => n.info?.pid).map((n) => n.info!.pid);
    assert.equal(pids.length, 2);
    assert.ok(await portOpen(ports[0]!));

    await first.kill(); // SIGKILL: no exit handler runs
    await waitFor('every child gone', () => pids.every((p) => !isProcessAlive(p) && !isGroupAlive(p)), 15_000);
    for (const p of ports) assert.equal(await portOpen(p), false, `port ${p} still served by an orphan`);

    const second = await startSupervisor(file);
    try {
      await waitFor('both running again', async () => (await second.state('web')) === 'running' && (await second.state('cam')) === 'running', 20_000);
      const tree = (await second.api('/v1/tree')).body;
      assert.equal(tree.state, 'running');
      for (const n of tree.nodes.filter((x: { parent: string | null }) => x.parent !== null)) assert.equal(n.restarts, 0, `${n.id} needed restarts: ${n.lastReason}`);
      assert.doesNotMatch(second.stdout(), /EADDRINUSE|gave_up/);
    } finally {
      await second.kill();
    }
  });

  test('children whose parent watch was killed too are reaped by the next supervisor (start time checked)', async () => {
    const first = await startSupervisor(file);
    await waitFor('both running', async () => (await first.state('web')) === 'running' && (await first.state('cam')) === 'running', 20_000);
    const nodes = (await first.api('/v1/tree')).body.nodes as { id: string; info?: { pid: number } }[];
    const pids = nodes.filter((n) => n.info?.pid).map((n) => n.info!.pid);
    // Take the first guard away: kill each group's watcher, then the supervisor.
    for (const p of pids) for (const w of groupMembers(p, 'read _')) process.kill(w, 'SIGKILL');
    await first.kill();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(pids.every((p) => isProcessAlive(p)), 'without their watcher the children outlive the supervisor');
    assert.ok(await portOpen(ports[0]!), 'the orphan still serves');

    const second = await startSupervisor(file);
    try {
      await waitFor('both running again', async () => (await second.state('web')) === 'running' && (await second.state('cam')) === 'running', 30_000);
      assert.ok(pids.every((p) => !isProcessAlive(p)), 'the orphans were stopped');
      assert.match(second.stdout(), /stopped web \(process group \d+\), left running by a previous supervisor/);
      const tree = (await second.api('/v1/tree')).body;
      for (const n of tree.nodes.filter((x: { parent: string | null }) => x.parent !== null)) assert.equal(n.restarts, 0, `${n.id}: ${n.lastReason}`);
    } finally {
      await second.kill();
    }
    await waitFor('children gone', () => pids.every((p) => !isProcessAlive(p)), 15_000);
  });
});
