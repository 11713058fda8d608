// Issue 16, point 2: a full disk must not kill the supervisor. The event log lives on a 3 MB tmpfs
// that the test fills; a real `edgevisor run` supervises real http-child processes meanwhile.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, waitFor } from '../helpers/net.ts';
import { startSupervisor, type SupervisorProcess } from '../helpers/supervisor-process.ts';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts';
import { httpChild } from '../helpers/tree.ts';

const metric = async (sup: SupervisorProcess, name: string): Promise<number | undefined> => {
  const text = (await sup.api('/metrics', { token: null })).body as string;
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};
const storedSeqs = (db: string): number[] => {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT seq FROM events ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
  } finally {
    d.close();
  }
};

describe('hardening: the event log on a full disk', () => {
  let fs: Tmpfs;
  let file: string;
  let camPort: number;
  before(async () => {
    fs = mountTmpfs('3m');
    camPort = await freePort();
    const webPort = await freePort();
    const child = (id: string, port: number) => `
  - id: ${id}
    shutdown: 2s
    process: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(httpChild)}], env: { PORT: "${port}" } }
    probes:
      - { name: live, http: { url: "http://127.0.0.1:${port}/healthz" }, every: 250ms, timeout: 1s, startup_grace: 5s }`;
    // The tree file lives outside the tmpfs: only the log is on the full volume.
    file = join(fs.dir, '..', `${fs.dir.split('/').pop()}-tree.yaml`);
    writeFileSync(
      file,
      `version: 1\nname: disk\nintensity: 10\nperiod: 10s\nbackoff: { initial: 100ms, max: 1s }\napi: { listen: "127.0.0.1:0" }\nstore: { path: ${JSON.stringify(join(fs.dir, 'events.db'))} }\nchildren:${child('web', webPort)}${child('cam', camPort)}\n`,
    );
  });
  after(() => {
    fs.remove();
    rmSync(file, { force: true });
  });

  test('disk fills while running: supervision goes on, events are served from memory, written back when space returns', async () => {
    const sup = await startSupervisor(file);
    try {
      await waitFor('both running', async () => (await sup.state('web')) === 'running' && (await sup.state('cam')) === 'running', 20_000);
      assert.equal(await metric(sup, 'edgevisor_store_writable'), 1);
      fs.fill();

      // A crash: the exit, the restart decision and the probe verdicts are all event appends.
      await fetch(`http://127.0.0.1:${camPort}/fail/crash?code=3`, { method: 'POST', signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      await waitFor('cam restarted', async () => {
        const n = (await sup.api('/v1/tree')).body.nodes.find((x: { id: string }) => x.id === 'cam');
        return n.restarts >= 1 && n.state === 'running';
      }, 20_000);
      assert.equal(await metric(sup, 'edgevisor_store_writable'), 0);
      assert.ok((await metric(sup, 'edgevisor_store_pending_events'))! > 0);

      // Manual actions still answer.
      const r = await sup.api('/v1/children/web/restart', { method: 'POST' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await waitFor('web back', async () => (await sup.state('web')) === 'running', 20_000);

      // The in-memory events are numbered and served like stored ones, an alarm among them.
      const events = (await sup.api('/v1/events?since=0&limit=1000')).body.events as { seq: number; type: string; child: string; reason: string }[];
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(new Set(seqs).size, seqs.length);
      const alarm = events.find((e) => e.type === 'alarm' && /cannot be written/.test(e.reason));
      assert.ok(alarm, 'an alarm says the log cannot be written');
      assert.doesNotMatch(alarm.reason, /\//, 'no path in the alarm');
      assert.ok(events.some((e) => e.type === 'exit' && e.child === 'cam'));
      assert.ok(events.some((e) => e.type === 'manual' && e.child === 'web'));
      const health = (await sup.api('/healthz', { token: null })).body;
      assert.equal(health.store.writable, false);

      // Space returns: everything is written, in order, with the numbers it was served with.
      fs.free();
      await waitFor('log writable again', async () => (await metric(sup, 'edgevisor_store_writable')) === 1 && (await metric(sup, 'edgevisor_store_pending_events')) === 0, 30_000);
      const after = (await sup.api('/v1/events?since=0&limit=1000')).body.events as { seq: number; type: string; reason: string }[];
      assert.ok(after.some((e) => e.type === 'alarm' && /writable again/.test(e.reason)));
      const stored = storedSeqs(join(fs.dir, 'events.db'));
      for (const s of seqs) assert.ok(stored.includes(s), `event #${s} was served but never written`);
      assert.equal(sup.child.exitCode, null, 'the supervisor is alive');
    } finally {
      await sup.kill();
    }
  });

  test('started while the disk is full: the tree starts, and the log recovers by itself once space is freed', async () => {
    const lastBefore = Math.max(...storedSeqs(join(fs.dir, 'events.db')));
    fs.fill();
    const sup = await startSupervisor(file);
    try {
      await waitFor('tree running', async () => (await sup.api('/v1/tree')).body.state === 'running', 20_000);
      assert.equal(await metric(sup, 'edgevisor_store_writable'), 0);
      const r = await sup.api('/v1/children/cam/stop', { method: 'POST' });
      assert.equal(r.status, 202);
      const events = (await sup.api(`/v1/events?since=${lastBefore}&limit=1000`)).body.events as { seq: number }[];
      assert.ok(events.length > 0 && events[0]!.seq > lastBefore, 'numbering continues after the stored log');
      fs.free();
      await waitFor('log writable again', async () => (await metric(sup, 'edgevisor_store_pending_events')) === 0 && (await metric(sup, 'edgevisor_store_writable')) === 1, 30_000);
      const stored = storedSeqs(join(fs.dir, 'events.db'));
      for (const e of events) assert.ok(stored.includes(e.seq), `event #${e.seq} never written`);
    } finally {
      await sup.kill();
    }
  });
});
