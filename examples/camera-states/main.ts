/**
 * Example: camera workers with their own states and deadlines.
 *
 *   node --import tsx examples/camera-states/main.ts
 *
 * Three simulated cameras under one_for_one. `dock` is healthy; `gate`'s frames freeze on its
 * first run; `yard` never connects on its first run and loops on reconnecting on its second. Each
 * broken deadline restarts that camera alone, with the constraint as the reason. The example prints
 * the worker-state and restart events as they happen, then `edgevisor status`'s table once every
 * camera is streaming again, a `summary` line, and exits (0; 1 if that did not happen within 30 s).
 */
import { createTree, defaultBackends, formatEvent, formatStatus, parseTreeObject } from 'edgevisor';
import { simulatedCamera } from './simulated-camera.ts';

const cameras = {
  dock: simulatedCamera(['healthy']),
  gate: simulatedCamera(['freezes', 'healthy']),
  yard: simulatedCamera(['never-connects', 'reconnect-loop', 'healthy']),
};
/** Restarts the script above leads to: gate 1, yard 2. */
const EXPECTED_RESTARTS: Record<string, number> = { dock: 0, gate: 1, yard: 2 };

const tree = createTree(
  parseTreeObject({
    name: 'cameras',
    strategy: 'one_for_one',
    backoff: { initial: '100ms', max: '2s', reset_after: '60s' },
    children: Object.entries(cameras).map(([id, run]) => ({ id, shutdown: '1s', inproc: { run } })),
  }),
  { backends: defaultBackends() },
);
tree.onEvent((e) => {
  if (e.type === 'worker_state' || e.type === 'restart') console.log(formatEvent(e));
});

const settled = () => tree.snapshot().nodes.filter((n) => n.parent !== null).every((n) => n.restarts === EXPECTED_RESTARTS[n.id] && n.state === 'running' && n.workerState === 'streaming');
// Settled is checked after every event (the last one is yard's `connecting -> streaming`).
const done = new Promise<boolean>((resolve) => {
  const timer = setTimeout(() => resolve(false), 30_000);
  tree.onEvent(() => {
    if (!settled()) return;
    clearTimeout(timer);
    resolve(true);
  });
});
await tree.start();
const ok = await done;
const nodes = tree.snapshot().nodes.filter((n) => n.parent !== null);
console.log(`\n${formatStatus(tree.snapshot())}\n`);
console.log(`camera-states: summary ${JSON.stringify({ restarts: Object.fromEntries(nodes.map((n) => [n.id, n.restarts])), workerStates: Object.fromEntries(nodes.map((n) => [n.id, n.workerState])), reasons: Object.fromEntries(nodes.filter((n) => n.lastRestartReason).map((n) => [n.id, n.lastRestartReason])) })}`);
await tree.stop();
if (!ok) console.error('camera-states: the cameras did not all get back to streaming within 30 s');
process.exit(ok ? 0 : 1);
