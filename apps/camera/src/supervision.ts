import { defaultBackends } from 'edgevisor';
import { createTree } from 'edgevisor';
import type { Tree } from 'edgevisor';
import { parseTreeObject } from 'edgevisor';
import type { InprocWorker } from 'edgevisor';

/**
 * The child id of a camera's worker in the controller's tree: the camera id itself, so the
 * supervisor's merged tree names it `camera/<cameraId>` (e.g. `camera/dock`).
 */
export const workerId = (cameraId: string) => cameraId;

/**
 * The controller's own supervision tree: one in-process worker per camera under one_for_one, so
 * a camera that breaks one of its deadlines (camera-worker.ts: no frame, frames or retries that
 * stop) restarts alone. Intensity is high on purpose: a flapping
 * camera must never take the whole controller (and every other camera) down with it; its
 * backoff (capped at 10 s) keeps it from spinning.
 */
export function createCameraTree(workers: ReadonlyArray<{ cameraId: string; run: InprocWorker }>): Tree {
  const spec = parseTreeObject({
    name: 'camera-controller',
    strategy: 'one_for_one',
    intensity: 1000,
    period: '60s',
    backoff: { initial: '200ms', max: '10s', reset_after: '60s' },
    children: workers.map((w) => ({
      id: workerId(w.cameraId),
      restart: 'permanent',
      shutdown: '3s',
      // A typed worker: its states and deadlines come with `run` (camera-worker.ts).
      inproc: { run: w.run },
    })),
  });
  return createTree(spec, { backends: defaultBackends() });
}
