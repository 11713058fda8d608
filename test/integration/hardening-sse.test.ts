// Issue 16, point 8: an SSE replay of 100k events reaches a reader that keeps reading, however
// slowly it starts: paged with backpressure, never "too slow; dropping it". Real SQLite log, real
// API on a loopback port, a raw HTTP client that pauses its socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { buildApi } from '../../supervisor/src/api/app.ts';
import { listenApi } from '../../supervisor/src/api/server.ts';
import { defaultBackends } from '../../supervisor/src/backends/index.ts';
import { createTree } from '../../supervisor/src/runtime/tree.ts';
import { parseTreeObject } from '../../supervisor/src/spec/load.ts';
import { openEventStore } from '../../supervisor/src/store/sqlite-store.ts';

const N = 100_000;

test('a 100k-event replay is delivered whole to a slow-starting reader, in order, in bounded pages', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-sse-'));
  const store = openEventStore(join(dir, 'e.db'), { retainEvents: 200_000 });
  for (let i = 1; i <= N; i++) store.append({ type: 'probe', child: 'cam', reason: `probe live failed: connection refused (${i})`, data: { probe: 'live', ok: false, n: i } });
  const logs: string[] = [];
  const logger = { level: 'warn', stream: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) };
  const tree = createTree(parseTreeObject({ version: 1, name: 't', children: [] }), { sink: store, backends: defaultBackends() });
  const app = buildApi({ tree, store, tokens: { viewer: 'viewer-token-sse-1' }, logger });
  const url = new URL(await listenApi(app, { host: '127.0.0.1', port: 0 }));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  try {
    const got = await new Promise<{ count: number; last: number; ordered: boolean; bytes: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/v1/events?since=0', headers: { accept: 'text/event-stream', authorization: 'Bearer viewer-token-sse-1' }, timeout: 120_000 }, (res) => {
        assert.equal(res.statusCode, 200);
        // Read nothing for 1.5 s: the socket and the server's buffer fill up (the old code dropped us here).
        res.pause();
        loop.enable();
        setTimeout(() => res.resume(), 1_500);
        let buf = '';
        let count = 0;
        let last = 0;
        let ordered = true;
        let bytes = 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          bytes += chunk.length;
          buf += chunk;
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const id = /^id: (\d+)$/m.exec(frame);
            if (!id) continue;
            const seq = Number(id[1]);
            if (seq !== last + 1) ordered = false;
            last = seq;
            if (++count === N) {
              req.destroy();
              resolve({ count, last, ordered, bytes });
            }
          }
        });
        res.on('close', () => count < N && reject(new Error(`stream closed after ${count} events (${bytes} bytes); logs: ${logs.join('')}`)));
      });
      req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
      req.end();
    });
    loop.disable();
    assert.equal(got.count, N);
    assert.equal(got.last, N);
    assert.ok(got.ordered, 'events in order without gaps');
    assert.ok(got.bytes > 4 * 1024 * 1024, `the replay (${got.bytes} bytes) is past the old 4 MB limit`);
    assert.ok(!logs.some((l) => /too slow/.test(l)), logs.join(''));
    // One page (1000 events) at a time: the loop is never held for the whole replay (~1 s here before).
    const maxMs = loop.max / 1e6;
    console.log(`replay of ${N} events: ${(got.bytes / 1024 / 1024).toFixed(1)} MB, longest event-loop stall ${maxMs.toFixed(0)} ms`);
    assert.ok(maxMs < 1_000, `event loop blocked for ${maxMs} ms`);
  } finally {
    await app.close();
    await tree.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
