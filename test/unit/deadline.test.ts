// apps/common/src/deadline.ts: the bounded-call signal every app uses instead of
// AbortSignal.any([parent, AbortSignal.timeout(ms)]) (whose timer can be collected before it fires).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { deadline } from '../../apps/common/src/deadline.ts';

test('a fetch to a server that never answers is aborted by its deadline, even after a full GC', async (t) => {
  const server = createServer(() => {}); // accepts, never answers
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  const dl = deadline(300);
  (globalThis as { gc?: () => void }).gc?.();
  const err = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, { signal: dl.signal }).then(() => null, (e: Error) => e);
  dl.clear();
  assert.ok(err, 'the request was aborted');
  assert.equal(dl.expired(), true);
});

test('the parent aborting aborts the deadline, with the parent reason; clear() stops the timer', () => {
  const parent = new AbortController();
  const dl = deadline(60_000, parent.signal);
  parent.abort(new Error('stopping'));
  assert.equal(dl.signal.aborted, true);
  assert.equal((dl.signal.reason as Error).message, 'stopping');
  assert.equal(dl.expired(), false);
  dl.clear();
  const already = deadline(60_000, parent.signal);
  assert.equal(already.signal.aborted, true, 'an already aborted parent');
  already.clear();
});
