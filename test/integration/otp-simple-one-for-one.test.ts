// simple_one_for_one templates of the thread and custom backends (issue 15), on real parts: a
// tree file in a temp dir, real worker threads, a backend registered with registerBackend that
// runs real processes, a real SQLite event log, the real API on 127.0.0.1:0. Children are added
// from code (tree.addChild) and over HTTP (POST /v1/children) with the overrides each backend
// takes (thread: env, args; custom: options); the unit tests of the same rules are
// unit/spec-template.test.ts and unit/otp-simple-one-for-one.test.ts (inproc, fake clock).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { createProcessUnit, defaultBackends, registerBackend } from '../../supervisor/src/backends/index.ts';
import type { TreeEvent } from '../../supervisor/src/core/events.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import type { Tree } from '../../supervisor/src/runtime/types.ts';
import { loadTreeFile, parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { codes } from '../../supervisor/src/errors.ts';
import { openEventStore } from '../../supervisor/src/store/sqlite-store.ts';
import type { EventStore } from '../../supervisor/src/store/types.ts';
import { waitFor } from '../helpers/net.ts';
import { repoRoot } from '../helpers/tree.ts';

const TECH = 'technician-token-s1f1';
const tech = { role: 'technician', via: 'test' } as const;

test('a custom template whose backend is not registered is refused when the tree is built, not at the first add', () => {
  const spec = parseTreeObject({ name: 'box', children: [{ id: 'far', strategy: 'simple_one_for_one', template: { custom: { kind: 'ssh' } } }] });
  assert.throws(() => createTree(spec, { backends: defaultBackends() }), {
    code: codes.START_FAILED,
    message: 'far: its template needs a ssh backend, and none is available in this supervisor (register it with registerBackend before building the tree)',
  });
});

describe('simple_one_for_one: thread and custom templates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-sofo-'));
  const flag = join(dir, 'spin-b');
  /** What the custom backend's factory was given, one entry per child made. */
  const made: { id: string; options: Record<string, unknown> }[] = [];
  const events: TreeEvent[] = [];
  let tree: Tree;
  let store: EventStore;
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    const file = join(dir, 'tree.yaml');
    writeFileSync(file, `version: 1
name: box
intensity: 10
period: 10s
backoff: { initial: 100ms, max: 1s, reset_after: 10s }
children:
  - id: cams
    strategy: simple_one_for_one
    intensity: 10
    period: 10s
    template:
      shutdown: 1s
      thread: { module: ${JSON.stringify(join(repoRoot, 'test/fixtures/template-thread.mjs'))}, heartbeat_timeout: 300ms, env: { CAMERA: none }, resource_limits: { max_old_generation_mb: 32 } }
  - id: shells
    strategy: simple_one_for_one
    template:
      shutdown: 1s
      custom: { kind: shell, options: { word: none, rest: kept } }
`);
    // A user's backend, as a library user writes one: a shell process saying its options' word.
    const backends = registerBackend(defaultBackends(), 'shell', (w, ctx) => {
      const o = w.backend.kind === 'custom' ? w.backend.options : {};
      made.push({ id: w.id, options: { ...o } });
      return createProcessUnit({ ...w, backend: { kind: 'process', command: ['sh', '-c', 'echo "word=$WORD"; exec sleep 600'], env: { WORD: String(o['word']) }, logLines: 50 } }, ctx);
    });
    store = openEventStore(join(dir, 'events.db'), { retainEvents: 10_000 });
    tree = createTree(loadTreeFile(file), { sink: store, backends });
    tree.onEvent((e) => events.push(e));
    app = buildApi({ tree, store, tokens: { technician: TECH } });
    url = await listenApi(app, { host: '127.0.0.1', port: 0 });
    await tree.start();
  });
  after(async () => {
    await tree?.stop();
    await app?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const add = async (parent: string, child: unknown) => {
    const res = await fetch(`${url}/v1/children`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TECH}`, 'content-type': 'application/json' },
      body: JSON.stringify({ parent, child }),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const info = (id: string) => tree.child(id)?.info ?? {};
  const said = (id: string) => info(id)['workerState'];

  test('a thread template: 3 children added at run time; one stuck in JS is terminated and replaced, the others untouched', async () => {
    assert.equal(tree.addChild('cams', { id: 'a' }, tech).id, 'a');
    const b = await add('cams', { id: 'b', env: { CAMERA: 'dock', SPIN_FLAG: flag }, args: ['--fps', '5'] });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    const c = await add('cams', {});
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const cid = c.body.added as string;
    assert.match(cid, /^cams-\d+$/);
    const ids = ['a', 'b', cid];
    await waitFor('the three threads running', () => ids.every((id) => tree.child(id)?.state === 'running' && said(id) !== undefined), 20_000);
    // Each is its own thread with its id, its overrides over the template's env, the template's heap limit.
    assert.equal(said('a'), 'id=a camera=none args= heap=32');
    assert.equal(said('b'), 'id=b camera=dock args=--fps,5 heap=32');
    assert.equal(said(cid), `id=${cid} camera=none args= heap=32`);
    const threads = ids.map((id) => info(id)['threadId']);
    assert.equal(new Set(threads).size, 3, `three threads: ${threads.join(',')}`);

    writeFileSync(flag, ''); // b (the only child with SPIN_FLAG) deletes it and spins
    await waitFor('b replaced by a second run', () => info('b')['run'] === 2 && tree.child('b')?.state === 'running' && info('b')['running'] === true, 20_000);
    assert.equal(existsSync(flag), false, 'the stuck run took the flag');
    const restart = events.find((e) => e.type === 'restart' && e.child === 'b');
    assert.deepEqual(restart?.data?.['affected'], ['b'], 'restarted alone');
    assert.match(restart?.reason ?? '', /no heartbeat for \d+ms \(heartbeat_timeout 300ms\)/);
    assert.equal(info('b')['abandoned'], 0, 'terminate() ended the stuck thread (not abandoned)');
    assert.notEqual(info('b')['threadId'], threads[1], 'a new thread');
    await waitFor('b says what it was given again', () => said('b') === 'id=b camera=dock args=--fps,5 heap=32');
    for (const [i, id] of ['a', cid].entries()) {
      assert.equal(info(id)['run'], 1, `${id} never restarted`);
      assert.equal(info(id)['threadId'], threads[i === 0 ? 0 : 2], `${id} keeps its thread`);
      assert.equal(tree.child(id)?.state, 'running');
    }
    assert.deepEqual(events.filter((e) => e.type === 'restart').map((e) => e.child), ['b']);
  });

  test('a custom template: each child built by the registered factory with its id and options merged; one killed is restarted alone', async () => {
    const r = await add('shells', { id: 's1', options: { word: 'dock' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const other = tree.addChild('shells', {}, tech).id;
    assert.equal(other, 'shells-1');
    await waitFor('both say their word', () => tree.logs('s1').includes('stdout| word=dock') && tree.logs(other).includes('stdout| word=none'), 20_000);
    assert.deepEqual(made, [{ id: 's1', options: { word: 'dock', rest: 'kept' } }, { id: other, options: { word: 'none', rest: 'kept' } }]);
    const [pid, otherPid] = [info('s1')['pid'] as number, info(other)['pid'] as number];
    process.kill(pid, 'SIGKILL');
    await waitFor('s1 back with a new process', () => tree.child('s1')?.state === 'running' && typeof info('s1')['pid'] === 'number' && info('s1')['pid'] !== pid, 20_000);
    assert.deepEqual(events.find((e) => e.type === 'restart' && e.child === 's1')?.data?.['affected'], ['s1']);
    assert.equal(info(other)['pid'], otherPid, 'its sibling is untouched');
    assert.equal(made.length, 2, 'a restart reuses the unit its factory made');
  });

  test('overrides a template does not take: 400 naming the field and what the template takes, nothing recorded', async () => {
    const before = store.lastSeq();
    const cases: [string, unknown, RegExp][] = [
      ['cams', { options: { word: 'x' } }, /^invalid child: options: only a custom template takes options; this template is thread, whose children take id, env, args$/],
      ['cams', { args: '--fps' }, /args: expected a list of strings/],
      ['shells', { env: { WORD: 'x' } }, /env: only a process or thread template takes env; this template is custom, whose children take id, options/],
      ['shells', { options: ['x'] }, /options: expected a mapping of options for the backend/],
      ['shells', { custom: { kind: 'shell' } }, /custom: unknown field; shells is simple_one_for_one: a child is its custom template plus id, options/],
    ];
    for (const [parent, child, message] of cases) {
      const r = await add(parent, child);
      assert.equal(r.status, 400, JSON.stringify(child));
      assert.equal(r.body.error.code, 'EDGEVISOR_ERR_SPEC_INVALID');
      assert.match(r.body.error.message, message);
    }
    assert.equal(store.lastSeq(), before, 'refused requests leave no event');
  });

  test('edgevisor add --option (custom templates), through the real bin; refused on a thread template with exit 1', async () => {
    // Not spawnSync: the API answering it runs in this process.
    const cli = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [join(repoRoot, 'bin/edgevisor.mjs'), ...args], { env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_API: url, EDGEVISOR_TOKEN: TECH }, timeout: 20_000 }, (err, stdout, stderr) => {
        done({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    });
    const ok = await cli('add', 'shells', '--id', 's2', '--option', 'word=bin');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'added s2 to shells');
    await waitFor('s2 says its word', () => tree.logs('s2').includes('stdout| word=bin'), 20_000);
    const refused = await cli('add', 'cams', '--option', 'word=x');
    assert.equal(refused.status, 1, refused.stderr); // a validation error
    assert.match(refused.stderr, /options: only a custom template takes options; this template is thread, whose children take id, env, args/);
    assert.equal(tree.child('cams')?.children?.length, 3, 'nothing added');
  });
});
