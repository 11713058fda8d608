// throughput and staleness probes: real scrapes of a loopback Prometheus endpoint whose text the
// test controls, with a fake clock (target.now) so rate windows are exact.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProbeTarget } from '../../supervisor/src/probes/types.ts';
import { recordReading, throughputProbe, type ThroughputCheck } from '../../supervisor/src/probes/throughput.ts';
import { stalenessProbe, type StalenessCheck } from '../../supervisor/src/probes/staleness.ts';
import { runProbe } from '../../supervisor/src/probes/index.ts';
import { bareUnit } from '../helpers/probes.ts';


let server: Server;
let base = '';
let metricsText = '';
let metricsStatus = 200;

before(async () => {
  server = createServer((req, res) => {
    res.writeHead(req.url === '/metrics' ? metricsStatus : 404, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(req.url === '/metrics' ? metricsText : 'no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

/** The fields a verdict is judged by. */
const pick = (r: { ok: boolean; value?: number; error?: string }) => ({ ok: r.ok, value: r.value, error: r.error });

function fakeTarget(startMs = 1_700_000_000_000): ProbeTarget & { advance(ms: number): void } {
  let now = startMs;
  return { unit: bareUnit, memory: {}, now: () => now, advance: (ms) => (now += ms) };
}

const counter = (lines: string[]) => ['# TYPE frames_total counter', ...lines, ''].join('\n');

describe('recordReading (rate window)', () => {
  test('no rate until a reading a full window old exists, then delta over that span', () => {
    const mem = {};
    assert.deepEqual(recordReading(mem, { t: 0, v: 0 }, 3000), { reset: false });
    assert.deepEqual(recordReading(mem, { t: 1000, v: 10 }, 3000), { reset: false });
    assert.deepEqual(recordReading(mem, { t: 2000, v: 20 }, 3000), { reset: false });
    assert.deepEqual(recordReading(mem, { t: 3000, v: 60 }, 3000), { rate: 20, spanMs: 3000, reset: false });
    // Next: base is the newest reading >= 3s old (t=1000), older ones are dropped.
    assert.deepEqual(recordReading(mem, { t: 4000, v: 60 }, 3000), { rate: 50 / 3, spanMs: 3000, reset: false });
    assert.equal((mem as { readings: unknown[] }).readings.length, 4);
  });

  test('jittered intervals still measure over at least the window', () => {
    const mem = {};
    recordReading(mem, { t: 0, v: 0 }, 3000);
    recordReading(mem, { t: 1010, v: 10 }, 3000);
    recordReading(mem, { t: 2020, v: 20 }, 3000);
    const v = recordReading(mem, { t: 3030, v: 30 }, 3000);
    assert.equal(v.spanMs, 3030);
    assert.ok(Math.abs(v.rate! - 30 / 3.03) < 1e-9);
  });

  test('a counter reset (value went down) restarts the window', () => {
    const mem = {};
    recordReading(mem, { t: 0, v: 100 }, 2000);
    recordReading(mem, { t: 2000, v: 140 }, 2000);
    assert.deepEqual(recordReading(mem, { t: 3000, v: 5 }, 2000), { reset: true });
    assert.deepEqual(recordReading(mem, { t: 4000, v: 10 }, 2000), { reset: false });
    assert.deepEqual(recordReading(mem, { t: 5000, v: 15 }, 2000), { rate: 5, spanMs: 2000, reset: false });
  });
});

describe('throughput probe', () => {
  const check = (extra: Partial<ThroughputCheck> = {}): ThroughputCheck => ({ kind: 'throughput', url: `${base}/metrics`, metric: 'frames_total', minRate: 5, windowMs: 3000, ...extra });

  test('passes without a value until a full window exists, then passes or fails on the rate', async () => {
    const target = fakeTarget();
    for (const [i, v] of [0, 20, 40].entries()) {
      metricsText = counter([`frames_total ${v}`]);
      const r = await throughputProbe(check(), target, 1000, AbortSignal.timeout(5000));
      assert.equal(r.ok, true, `reading ${i}`);
      assert.equal(r.value, undefined, 'no rate before a full window');
      assert.equal(r.error, undefined);
      target.advance(1000);
    }
    metricsText = counter(['frames_total 60']);
    const good = await throughputProbe(check(), target, 1000, AbortSignal.timeout(5000));
    assert.deepEqual({ ok: good.ok, value: good.value }, { ok: true, value: 20 });

    // Stalled: the counter stays at 60 for a whole window.
    for (let i = 0; i < 3; i++) {
      target.advance(1000);
      await throughputProbe(check(), target, 1000, AbortSignal.timeout(5000));
    }
    target.advance(1000);
    const stalled = await throughputProbe(check(), target, 1000, AbortSignal.timeout(5000));
    assert.equal(stalled.ok, false);
    assert.equal(stalled.code, 'EDGEVISOR_ERR_PROBE_FAILED');
    assert.equal(stalled.error, 'frames_total rate 0.00/s over 3s < min 5/s');
    assert.equal(stalled.value, 0);
  });

  test('sums the samples matching the label selector only', async () => {
    const target = fakeTarget();
    const text = (a: number, b: number, other: number) =>
      counter([`frames_total{camera="gate",stream="main"} ${a}`, `frames_total{camera="gate",stream="sub"} ${b}`, `frames_total{camera="dock",stream="main"} ${other}`]);
    metricsText = text(0, 0, 0);
    assert.equal((await runProbe(check({ labels: { camera: 'gate' }, windowMs: 1000 }), target, 1000)).ok, true);
    target.advance(1000);
    metricsText = text(3, 3, 1000);
    const r = await runProbe(check({ labels: { camera: 'gate' }, windowMs: 1000 }), target, 1000);
    assert.equal(r.ok, true);
    assert.equal(r.value, 6, 'dock must not count toward gate');
    target.advance(1000);
    metricsText = text(4, 3, 5000);
    const slow = await runProbe(check({ labels: { camera: 'gate' }, windowMs: 1000 }), target, 1000);
    assert.equal(slow.ok, false);
    assert.equal(slow.error, 'frames_total{camera="gate"} rate 1.00/s over 1s < min 5/s');
  });

  test('a restarted exporter (counter went down) does not fail: the window starts again', async () => {
    const target = fakeTarget();
    const c = check({ windowMs: 1000 });
    metricsText = counter(['frames_total 500']);
    await throughputProbe(c, target, 1000, AbortSignal.timeout(5000));
    target.advance(1000);
    metricsText = counter(['frames_total 2']);
    const r = await throughputProbe(c, target, 1000, AbortSignal.timeout(5000));
    assert.deepEqual({ ok: r.ok, value: r.value, error: r.error }, { ok: true, value: undefined, error: undefined });
    target.advance(1000);
    metricsText = counter(['frames_total 12']);
    assert.equal((await throughputProbe(c, target, 1000, AbortSignal.timeout(5000))).value, 10);
  });

  test('a missing counter fails and names the metric, URL and unparsable lines', async () => {
    const target = fakeTarget();
    metricsText = 'other_total 5\nframes_total{camera="x} 4\n';
    const r = await throughputProbe(check(), target, 1000, AbortSignal.timeout(5000));
    assert.equal(r.ok, false);
    assert.equal(r.error, `metric frames_total not found at ${base}/metrics (1 unparsable line(s), first: line 2: frames_total: unterminated value of label camera)`);
    metricsText = 'other_total 5\n';
    assert.equal((await throughputProbe(check({ labels: { camera: 'x' } }), target, 1000, AbortSignal.timeout(5000))).error, `metric frames_total{camera="x"} not found at ${base}/metrics`);
  });

  test('absent: pass: a page without the counter passes (nothing to count yet); once it appears the window starts, and a stall fails again', async () => {
    const target = fakeTarget();
    const c = check({ windowMs: 1000, passIfAbsent: true });
    metricsText = 'other_total 5\n';
    assert.deepEqual(pick(await throughputProbe(c, target, 1000, AbortSignal.timeout(5000))), { ok: true, value: undefined, error: undefined });
    metricsText = counter(['frames_total 10']);
    await throughputProbe(c, target, 1000, AbortSignal.timeout(5000));
    target.advance(1000);
    metricsText = counter(['frames_total 10']);
    assert.equal((await throughputProbe(c, target, 1000, AbortSignal.timeout(5000))).ok, false, 'a counter that is there and stopped still fails');
  });

  test('a non-2xx scrape fails with the status', async () => {
    metricsStatus = 503;
    try {
      const r = await throughputProbe(check(), fakeTarget(), 1000, AbortSignal.timeout(5000));
      assert.equal(r.ok, false);
      assert.equal(r.error, `status 503 from ${base}/metrics, expected 2xx`);
    } finally {
      metricsStatus = 200;
    }
  });
});

describe('staleness probe', () => {
  const check = (extra: Partial<StalenessCheck> = {}): StalenessCheck => ({ kind: 'staleness', url: `${base}/metrics`, metric: 'last_frame_timestamp_seconds', maxAgeMs: 2000, ...extra });
  const gauge = (...lines: string[]) => ['# TYPE last_frame_timestamp_seconds gauge', ...lines, ''].join('\n');

  test('young passes with the age as value; old fails with the age in words', async () => {
    const target = fakeTarget(1_700_000_010_000);
    metricsText = gauge('last_frame_timestamp_seconds 1700000009.5');
    const fresh = await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000));
    assert.deepEqual({ ok: fresh.ok, value: fresh.value }, { ok: true, value: 500 });
    metricsText = gauge('last_frame_timestamp_seconds 1700000002.8');
    const stale = await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000));
    assert.equal(stale.ok, false);
    assert.equal(stale.error, 'last_frame_timestamp_seconds is 7.2s old > max 2s');
    assert.equal(stale.code, 'EDGEVISOR_ERR_PROBE_FAILED');
  });

  test('with several matching series the oldest decides', async () => {
    const target = fakeTarget(1_700_000_010_000);
    metricsText = gauge('last_frame_timestamp_seconds{camera="a"} 1700000009.9', 'last_frame_timestamp_seconds{camera="b"} 1700000005');
    assert.equal((await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000))).error, 'last_frame_timestamp_seconds is 5s old > max 2s');
    assert.equal((await stalenessProbe(check({ labels: { camera: 'a' } }), target, 1000, AbortSignal.timeout(5000))).ok, true);
  });

  test('absent: pass: no gauge at all passes; a stale one still fails', async () => {
    const target = fakeTarget(1_700_000_010_000);
    metricsText = gauge();
    assert.deepEqual(pick(await stalenessProbe(check({ passIfAbsent: true }), target, 1000, AbortSignal.timeout(5000))), { ok: true, value: undefined, error: undefined });
    metricsText = gauge('last_frame_timestamp_seconds 1700000005');
    assert.equal((await stalenessProbe(check({ passIfAbsent: true }), target, 1000, AbortSignal.timeout(5000))).error, 'last_frame_timestamp_seconds is 5s old > max 2s');
  });

  test('missing, never set (0) and milliseconds-by-mistake fail with a clear reason', async () => {
    const target = fakeTarget();
    metricsText = gauge();
    assert.equal((await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000))).error, `metric last_frame_timestamp_seconds not found at ${base}/metrics`);
    metricsText = gauge('last_frame_timestamp_seconds 0');
    assert.match((await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000))).error ?? '', /is 0 \(never set\)/);
    metricsText = gauge('last_frame_timestamp_seconds 1700000000000');
    assert.match((await stalenessProbe(check(), target, 1000, AbortSignal.timeout(5000))).error ?? '', /in ms\?/);
  });
});
