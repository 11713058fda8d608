// The dashboard's pure parts: Frigate's quality rules, histogram quantiles, the history ring,
// restart words, the problems list, the tail log and the composite stream cursor.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { History, humanBytes, problems, qualityOf, quantileMs, restartWords } from '../../apps/web/src/stats.ts';
import { TailLog, parseProm } from '../../apps/web/src/event-log.ts';
import { parseCursor } from '../../apps/web/src/stream.ts';
import { scrubPaths } from '../../apps/web/src/hub.ts';

describe('web stats', () => {
  test('quality follows Frigate: excellent >= 0.9x with no reconnect, fair >= 0.6x, poor below, unusable about zero or > 10 reconnects', () => {
    assert.equal(qualityOf(5, 5, 0, 0), 'excellent');
    assert.equal(qualityOf(4.5, 5, 0, 4), 'excellent');
    assert.equal(qualityOf(4.5, 5, 1, 0), 'fair', 'one reconnect is no longer excellent');
    assert.equal(qualityOf(4.5, 5, 0, 5), 'fair', '5 stalls is no longer excellent');
    assert.equal(qualityOf(3, 5, 2, 0), 'fair');
    assert.equal(qualityOf(3, 5, 3, 0), 'poor');
    assert.equal(qualityOf(2.9, 5, 0, 0), 'poor');
    assert.equal(qualityOf(0.2, 5, 0, 0), 'unusable');
    assert.equal(qualityOf(5, 5, 11, 0), 'unusable');
    assert.equal(qualityOf(0.9, 1, 0, 0), 'excellent', 'a 1 fps camera at 0.9 fps is fine');
  });

  test('quantiles from histogram deltas, interpolated within a bucket, null without observations', () => {
    const before = new Map([[0.01, 0], [0.1, 0], [Infinity, 0]]);
    const now = new Map([[0.01, 50], [0.1, 100], [Infinity, 100]]);
    assert.equal(quantileMs(now, before, 0.5), 10);
    assert.equal(quantileMs(now, before, 0.75), 55);
    assert.equal(quantileMs(now, now, 0.5), null);
  });

  test('the history ring keeps the newest N samples, oldest first', () => {
    const h = new History(3);
    for (let i = 1; i <= 5; i++) h.add('dock', { ts: i * 1000, cameraFps: i, detectFps: i, inferenceMs: null });
    assert.deepEqual(h.columns('dock')!.cameraFps, [3, 4, 5]);
    assert.deepEqual(h.columns('dock')!.ts, [3, 4, 5]);
    assert.equal(h.columns('press'), undefined);
  });

  test('restart words say why, in a technician\'s words', () => {
    assert.equal(restartWords({ type: 'restart', reason: 'x', data: { cause: 'exit', exitCode: 137, oom: true } }), 'crashed: exit code 137, killed by the OOM killer');
    assert.equal(restartWords({ type: 'restart', reason: 'x', data: { cause: 'exit', signal: 'SIGKILL' } }), 'killed by signal SIGKILL');
    assert.equal(restartWords({ type: 'restart', reason: 'x', data: { cause: 'exit', exitCode: 3 } }), 'crashed: exit code 3');
    assert.match(restartWords({ type: 'restart', reason: 'probe live failed 3 times', data: { cause: 'probe' } }), /^hung: probe live failed 3 times/);
    assert.equal(restartWords({ type: 'restart', reason: 'x; restarting dock', data: { cause: 'deadline', words: 'stayed in connecting 12.0 s, limit 10 s' } }), 'stayed in connecting 12.0 s, limit 10 s');
    assert.equal(restartWords({ type: 'manual', reason: 'x', data: { action: 'restart', role: 'technician', via: 'dashboard' } }), 'restarted by a technician from the dashboard');
    assert.equal(restartWords({ type: 'manual', reason: 'x', data: { action: 'stop', role: 'technician', via: 'cli' } }), 'stopped by a technician via cli');
  });

  test('problems: gave up, backoff, an offline or slow camera (after 120 s), slow inference', () => {
    const base = { now: 200_000, startedAt: 0, treeError: null, camerasError: null, inferenceError: null, inferenceBudgetMs: 100, inferenceMs: 20 };
    const tree = { state: 'running', nodes: [{ id: 'box', state: 'running', parent: null }, { id: 'web', state: 'backoff', parent: 'box' }] };
    const list = problems({ ...base, tree, cameras: [{ id: 'dock', state: 'waiting', fps: 0, expectedFps: 5 }, { id: 'press', state: 'streaming', fps: 3, expectedFps: 5 }], inferenceMs: 150 });
    assert.deepEqual(list, ['web is in backoff (restarting)', 'camera dock is offline (no frame yet)', 'camera press below its expected fps (3 of 5)', 'inference slower than its budget (150 ms p95, budget 100 ms)']);
    assert.deepEqual(problems({ ...base, now: 60_000, tree: null, cameras: [{ id: 'press', state: 'streaming', fps: 3, expectedFps: 5 }] }), [], 'fps problems wait 120 s');
    assert.match(problems({ ...base, tree: { state: 'gave_up', nodes: [] }, cameras: [] })[0]!, /gave up/);
  });

  test('problems: disk low (vacuum alarm, below its floor, hours left under the threshold), vacuum unreachable, data volume not writable', () => {
    const base = { now: 200_000, startedAt: 0, tree: null, treeError: null, cameras: [], camerasError: null, inferenceError: null, inferenceBudgetMs: 100, inferenceMs: 20 };
    const vol = (over: object) => ({ name: 'data', freeBytes: 5_000_000_000, floorBytes: 1_000_000_000, hoursLeft: null, alarm: false, ...over });
    assert.deepEqual(problems({ ...base, disks: [vol({})], dataWritable: true }), [], 'plenty free, rate unknown: no problem');
    assert.deepEqual(problems({ ...base, disks: [vol({ hoursLeft: 100 })], diskHoursMin: 24 }), []);
    assert.deepEqual(problems({ ...base, disks: [vol({ hoursLeft: 10.4 })], diskHoursMin: 24 }), ['disk data low: 5.0 GB free, full in about 10 h at the current rate']);
    assert.deepEqual(problems({ ...base, disks: [vol({ hoursLeft: 30 })], diskHoursMin: 48 }), ['disk data low: 5.0 GB free, full in about 30 h at the current rate'], 'the threshold is a setting');
    assert.deepEqual(problems({ ...base, disks: [vol({ freeBytes: 400_000_000 })] }), ['disk data low: 400.0 MB free, below its floor of 1.0 GB']);
    assert.deepEqual(problems({ ...base, disks: [vol({ freeBytes: 0, alarm: true }), vol({ name: 'logs', floorBytes: null })] }), ['disk data low: 0 B free and nothing more the vacuum may delete (only pinned or newest events left)'], 'the alarm wins over the floor line; a volume without a floor is fine');
    assert.deepEqual(problems({ ...base, disks: [], disksError: 'the vacuum app is unavailable (not reachable)' }), ['vacuum unreachable: the vacuum app is unavailable (not reachable) (disk space is not watched)']);
    assert.deepEqual(problems({ ...base, dataWritable: false }), ['inference cannot write its data volume (safety events are not being saved)']);
    assert.deepEqual(problems({ ...base, dataWritable: null }), [], 'unknown (older inference app) is not a problem');
    assert.equal(humanBytes(1536), '1.5 KB');
    assert.equal(humanBytes(999), '999 B');
  });

  test('the tail log: everything after floor, null below it, trimming raises the floor', () => {
    const t = new TailLog<{ id: number }>((e) => e.id, 3);
    assert.equal(t.since(0), null, 'not loaded');
    t.reset(10);
    for (const id of [11, 12, 13, 14]) t.push({ id });
    assert.equal(t.push({ id: 14 }), false, 'no repeat');
    assert.equal(t.floor, 11);
    assert.deepEqual(t.since(12)!.map((e) => e.id), [13, 14]);
    assert.deepEqual(t.since(11)!.map((e) => e.id), [12, 13, 14]);
    assert.equal(t.since(10), null, 'older than the tail: page from the upstream');
  });

  test('the composite cursor: "S-T" or "S"; anything else (huge, signed, text) is an error that echoes no number', () => {
    assert.deepEqual(parseCursor('12-34'), { safety: 12, supervisor: 34 });
    assert.deepEqual(parseCursor('12'), { safety: 12, supervisor: null });
    assert.deepEqual(parseCursor(undefined), { safety: null, supervisor: null });
    for (const bad of ['abc', '-1', '1-', '1e3', '9'.repeat(400), '1-2-3', '99999999999999999999']) {
      const r = parseCursor(bad);
      assert.ok('error' in r, bad);
      assert.doesNotMatch(r.error, /e\+|Infinity/);
    }
  });

  test('prometheus lines and path scrubbing', () => {
    const p = parseProm('# HELP x\ninference_frames_total{app="inference",camera="dock"} 12\ninference_latency_seconds_bucket{le="+Inf",stage="run"} 3\nother 1\n', new Set(['inference_frames_total', 'inference_latency_seconds_bucket']));
    assert.deepEqual(p.map((s) => [s.name, s.labels['camera'] ?? s.labels['le'], s.value]), [['inference_frames_total', 'dock', 12], ['inference_latency_seconds_bucket', '+Inf', 3]]);
    assert.equal(scrubPaths("ENOSPC: no space left on device, open '/var/lib/edgevisor/snapshots/a.jpg'"), "ENOSPC: no space left on device, open '<path>'");
    assert.equal(scrubPaths('restart camera/dock'), 'restart camera/dock');
  });
});
