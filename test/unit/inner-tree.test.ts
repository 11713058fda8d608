// The inner-tree contract's pure parts: the tree file field, merging an app's snapshot under its
// child, mapping its events, deriving events from snapshot diffs. The polling itself runs against
// the real camera controller in test/integration/inner-tree.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTree } from '../../supervisor/src/spec/load.ts';
import type { WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { diffInnerSnapshots, innerSnapshotSchema, mapInnerEvent, mergeInnerNodes, topLevelInnerIds, type InnerSnapshot } from '../../supervisor/src/inner/inner-tree.ts';
import { specErrors } from '../helpers/spec.ts';

const tree = (inner: string, extra = '') =>
  `version: 1\nname: box\nchildren:\n  - id: camera\n    process: { command: [node, cam.js] }\n    inner_tree: ${inner}\n${extra}`;

describe('inner_tree in the tree file', () => {
  test('defaults (every 1s, timeout 500ms), trailing slash dropped', () => {
    const t = parseTree(tree('{ url: "http://127.0.0.1:8081/" }'), '/x/tree.yaml');
    assert.deepEqual((t.root.children[0] as WorkerSpec).innerTree, { url: 'http://127.0.0.1:8081', everyMs: 1000, timeoutMs: 500 });
    const fast = parseTree(tree('{ url: "http://camera:8081", every: 200ms }'), '/x/tree.yaml');
    assert.deepEqual((fast.root.children[0] as WorkerSpec).innerTree, { url: 'http://camera:8081', everyMs: 200, timeoutMs: 200 });
  });
  test('ranges, URL shape and placement are checked with file, line and field', () => {
    assert.deepEqual(specErrors(() => parseTree(tree('{ url: "http://127.0.0.1:8081", every: 10ms }'), '/x/tree.yaml')), [
      'tree.yaml:6 children[0].inner_tree.every: expected a duration from 100ms to 1h, got "10ms"',
    ]);
    assert.deepEqual(specErrors(() => parseTree(tree('{ url: "http://127.0.0.1:8081", every: 1s, timeout: 2s }'), '/x/tree.yaml')), [
      'tree.yaml:6 children[0].inner_tree.timeout: expected a timeout no longer than every (1000ms), got 2000ms',
    ]);
    const creds = specErrors(() => parseTree(tree('{ url: "http://admin:pw@127.0.0.1:8081" }'), '/x/tree.yaml'));
    assert.match(creds[0]!, /^tree\.yaml:6 children\[0\]\.inner_tree\.url: expected a base URL like "http:\/\/127\.0\.0\.1:8081" without credentials/);
    assert.ok(!creds[0]!.includes('pw@'), 'the rejected URL (with its password) is not echoed');
    assert.match(specErrors(() => parseTree(tree('{ url: "ftp://x" }'), '/x/tree.yaml'))[0]!, /inner_tree\.url: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(specErrors(() => parseTree(tree('{ url: "http://x", poll: 1s }'), '/x/tree.yaml'))[0]!, /inner_tree/);
    const onSupervisor = `version: 1\nname: box\nchildren:\n  - id: grp\n    inner_tree: { url: "http://x" }\n    children:\n      - id: a\n        process: { command: [node, a.js] }\n`;
    assert.match(specErrors(() => parseTree(onSupervisor, '/x/tree.yaml'))[0]!, /^tree\.yaml:5 children\[0\]\.inner_tree: a nested supervisor takes no inner_tree/);
  });
});

const appSnapshot = (over: Partial<Record<'dock' | 'yard', Record<string, unknown>>> = {}): InnerSnapshot =>
  innerSnapshotSchema.parse({
    name: 'camera-controller',
    state: 'running',
    instance: 'i-1',
    nodes: [
      { id: 'camera-controller', type: 'supervisor', parent: null, state: 'running', since: 1, startedAt: 1, restarts: 0, lastReason: 'all children started', probes: [], children: ['dock', 'yard'] },
      { id: 'dock', type: 'worker', parent: 'camera-controller', state: 'running', since: 2, startedAt: 2, restarts: 0, lastReason: 'started', lastRestartReason: null, lastRestartAt: null, backend: 'inproc', probes: [], info: { run: 1, workerState: 'streaming', nested: { pid: 9 } }, ...over.dock },
      { id: 'yard', type: 'worker', parent: 'camera-controller', state: 'running', since: 3, startedAt: 3, restarts: 0, lastReason: 'started', probes: [], ...over.yard },
    ],
  });

describe('merging an app\'s tree', () => {
  test('nodes become <child>/<id> under the child, without the app\'s root, with inner/stale/fetchedAt', () => {
    const nodes = mergeInnerNodes('camera', appSnapshot(), { stale: false, fetchedAt: 42 });
    assert.deepEqual(nodes.map((n) => [n.id, n.parent]), [['camera/dock', 'camera'], ['camera/yard', 'camera']]);
    const dock = nodes[0]!;
    assert.equal(dock.inner, true);
    assert.equal(dock.stale, false);
    assert.equal(dock.fetchedAt, 42);
    assert.equal(dock.lastRestartReason, null);
    assert.deepEqual(dock.info, { run: 1, workerState: 'streaming' }, 'only primitive info passes');
    assert.equal(nodes[1]!.lastRestartAt, null, 'absent fields default to null');
    assert.deepEqual(topLevelInnerIds('camera', appSnapshot()), ['camera/dock', 'camera/yard']);
    assert.equal(dock.dynamic, undefined, 'a child of the app\'s tree file');
    const added = mergeInnerNodes('camera', appSnapshot({ yard: { dynamic: true } }), { stale: false, fetchedAt: 42 })[1]!;
    assert.equal(added.dynamic, true, 'a child the app added at run time stays marked deletable');
  });
  test('a snapshot with ids that would break the path, or states we do not know, is refused', () => {
    const bad = structuredClone(appSnapshot()) as unknown as { nodes: { id: string; state: string }[] };
    bad.nodes[1]!.id = 'a/b';
    assert.equal(innerSnapshotSchema.safeParse(bad).success, false);
    const odd = structuredClone(appSnapshot()) as unknown as { nodes: { id: string; state: string }[] };
    odd.nodes[1]!.state = 'dancing';
    assert.equal(innerSnapshotSchema.safeParse(odd).success, false);
  });
  test('events: prefixed, the app\'s root only for alarms, our own forwarded actions not echoed', () => {
    const e = { seq: 7, ts: 100, type: 'restart' as const, child: 'yard', reason: 'no heartbeat', data: { cause: 'heartbeat', words: 'heartbeat stopped for 1.2 s' } };
    assert.deepEqual(mapInnerEvent('camera', 'camera-controller', e), { type: 'restart', child: 'camera/yard', ts: 100, reason: 'no heartbeat', data: { cause: 'heartbeat', words: 'heartbeat stopped for 1.2 s', inner: true, innerSeq: 7 } });
    assert.equal(mapInnerEvent('camera', 'camera-controller', { ...e, type: 'transition', child: 'camera-controller' }), null);
    assert.equal(mapInnerEvent('camera', 'camera-controller', { ...e, type: 'alarm', child: 'camera-controller', reason: 'gave up' })!.child, 'camera');
    assert.equal(mapInnerEvent('camera', 'camera-controller', { ...e, type: 'manual', data: { action: 'restart', forwardedBy: 'supervisor' } }), null);
    assert.equal(mapInnerEvent('camera', 'camera-controller', { ...e, type: 'manual', data: { action: 'restart', via: 'api' } })!.child, 'camera/yard', 'an action taken on the app directly is recorded');
  });
  test('an app without /v1/events: restarts and state changes from snapshot diffs', () => {
    const drafts = diffInnerSnapshots('camera', appSnapshot(), appSnapshot({ yard: { restarts: 2, state: 'backoff', lastReason: 'no heartbeat', lastRestartReason: 'heartbeat stopped for 1.0 s' } }));
    assert.deepEqual(drafts.map((d) => [d.type, d.child, d.from, d.to, d.reason]), [
      ['restart', 'camera/yard', undefined, undefined, 'heartbeat stopped for 1.0 s'],
      ['transition', 'camera/yard', 'running', 'backoff', 'no heartbeat'],
    ]);
    assert.equal(drafts[0]!.data!['count'], 2);
    assert.deepEqual(diffInnerSnapshots('camera', appSnapshot(), appSnapshot()), []);
  });
});
