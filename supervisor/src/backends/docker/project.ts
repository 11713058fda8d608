import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { EdgevisorError, codes } from '../../errors.ts';
import type { ContainerState, DockerClient } from './client.ts';
import { LABEL_PROJECT } from './ownership.ts';

/**
 * Candidate ids of the container we run in: a 64-hex id in /proc/self/cgroup (cgroup v1), in
 * /proc/self/mountinfo (cgroup v2 hosts: /var/lib/docker/containers/<id>/...), and the hostname
 * (Docker sets it to the short id unless compose sets `hostname:`).
 */
export async function ownContainerCandidates(): Promise<string[]> {
  const out: string[] = [];
  for (const f of ['/proc/self/cgroup', '/proc/self/mountinfo']) {
    try {
      const text = await readFile(f, 'utf8');
      for (const m of text.matchAll(/(?:docker[-/]|containers\/)([0-9a-f]{64})/g)) if (!out.includes(m[1]!)) out.push(m[1]!);
    } catch {
      // Not Linux or not readable: fall through to the hostname.
    }
  }
  out.push(hostname());
  return out;
}

/**
 * The compose project this supervisor belongs to: `configured` if set, else the project label of
 * the container we run in. Fails with a message saying how to fix it.
 */
export async function resolveProject(client: DockerClient, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const tried: string[] = [];
  for (const id of await ownContainerCandidates()) {
    try {
      const c = await client.inspect(id);
      const p = c.labels[LABEL_PROJECT];
      if (p) return p;
      tried.push(`${id.slice(0, 12)} (no ${LABEL_PROJECT} label)`);
    } catch {
      tried.push(`${id.slice(0, 12)} (not a container)`);
    }
  }
  throw new EdgevisorError(
    codes.SPEC_INVALID,
    `docker: cannot tell which compose project to supervise: set docker.project in the tree file, or run edgevisor inside a compose service (tried ${tried.join(', ')})`,
  );
}

/**
 * The container this supervisor runs in (its id and mounts), or null when it runs on the host:
 * the first candidate id the engine knows that carries a compose project label.
 */
export async function ownContainer(client: DockerClient): Promise<{ id: string; mounts: ContainerState['mounts'] } | null> {
  for (const id of await ownContainerCandidates()) {
    const c = await client.inspect(id).catch(() => null);
    if (c?.labels[LABEL_PROJECT]) return { id: c.id, mounts: c.mounts };
  }
  return null;
}
