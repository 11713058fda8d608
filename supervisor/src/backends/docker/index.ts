/**
 * The Docker backend: the only place in edgevisor that imports dockerode (through client.ts).
 * See README.md in this folder.
 */
import type { BackendRegistry } from '../types.ts';
import type { ChildSpec, TreeSpec } from '../../spec/types.ts';
import { createDockerBackend, type DockerBackend } from './unit.ts';

export { createDockerBackend, type DockerBackend, type DockerBackendOptions } from './unit.ts';
export { createDockerClient, DEFAULT_SOCKET, type DockerClient, type ContainerState, type ContainerEvent } from './client.ts';
export { createEventWatcher, type EventWatcher } from './events.ts';
export { assertOwned, isOwned, LABEL_PROJECT, LABEL_SERVICE, LABEL_ONEOFF } from './ownership.ts';
export { resolveProject } from './project.ts';

/** Whether any worker of the tree names a compose service. */
export function hasDockerChildren(spec: TreeSpec): boolean {
  // A simple_one_for_one template of a docker service counts: its child is added at run time.
  const walk = (c: ChildSpec): boolean => (c.type === 'worker' ? c.backend.kind === 'docker' : c.template?.backend.kind === 'docker' || c.children.some(walk));
  return walk(spec.root);
}

/**
 * The backends a tree needs beyond process/inproc: `{ docker }` when it has docker children,
 * configured from `spec.docker`, else `{}`. Resolves the compose project first so that a
 * supervisor that cannot know it fails at boot with a clear message, not at the first start.
 * The caller owns `close()` of the returned backend (call it after tree.stop()).
 */
export async function backendsForTree(spec: TreeSpec, opts: { log?: (line: string) => void } = {}): Promise<BackendRegistry & { docker?: DockerBackend }> {
  if (!hasDockerChildren(spec)) return {};
  const docker = createDockerBackend({
    project: spec.docker?.project,
    socketPath: spec.docker?.socketPath,
    timeoutMs: spec.docker?.timeoutMs,
    log: opts.log,
    ...(spec.docker?.notifyDir ? { notifyDir: spec.docker.notifyDir } : {}),
  });
  try {
    await docker.project();
  } catch (err) {
    docker.close();
    throw err;
  }
  return { docker };
}
