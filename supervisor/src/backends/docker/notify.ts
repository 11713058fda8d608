/**
 * sd_notify for containers (systemd's protocol, supervisor side in notify/): a compose service's
 * container feeds the same watchdog as a process child, through a socket the supervisor binds at
 * `<docker.notify_dir>/<service>/notify.sock`, in a directory compose mounts into that container
 * (compose.yaml: the volume `notify-<service>`, NOTIFY_SOCKET=/run/notify/notify.sock and
 * WATCHDOG_USEC in the service's environment).
 *
 * Compose, not the supervisor, sets the container's environment and mounts, so every run checks
 * them against the tree before it counts (`checkContainer`): NOTIFY_SOCKET set, WATCHDOG_USEC no
 * longer than the tree's watchdog (the app pings every half of it), and the directory it names
 * mounted from the same place as the supervisor's socket. A mismatch fails the start with what
 * to change, instead of a watchdog that can never be fed.
 *
 * Who may feed it (`NotifySender`): the kernel stamps each datagram with the sender's pid as seen
 * from the supervisor's pid namespace.
 * - A supervisor on the host sees the container's processes: a sender counts when its pid
 *   namespace is the container's (any process in it: the app, `docker exec`), never one of the
 *   host's or another container's.
 * - A supervisor in a container of its own (the compose stack) sees no other container's pids:
 *   every outside sender arrives as pid 0. The boundary is then the mount: a pid-0 datagram counts
 *   only when the check found the socket's volume mounted into this container and into no other
 *   running container of the project (checked at each start and adoption); a sender in the
 *   supervisor's own namespace (pid > 0) never counts.
 */
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { EdgevisorError, codes } from '../../errors.ts';
import type { ContainerState, DockerClient } from './client.ts';
import { LABEL_PROJECT, LABEL_SERVICE } from './ownership.ts';

export const NOTIFY_SOCKET_NAME = 'notify.sock';

export interface ContainerNotify {
  /** The tree's watchdog for this child (ms), 0 without one. */
  watchdogMs: number;
  /** The supervisor's side: `<notify_dir>/<service>`. */
  dir: string;
}

/** The container the supervisor runs in (its id and mounts), or null when it runs on the host. */
export type OwnContainer = () => Promise<{ id: string; mounts: ContainerState['mounts'] } | null>;

/** The pid namespace of `pid` ("pid:[4026531836]"), undefined if it is gone or not ours to read. */
export function pidNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * The container's pid namespace when this supervisor can see the container's processes (it runs
 * on the host): `/proc/<its pid>` must be that container's (its cgroup names the id), since in a
 * container of our own the same number is some other process or none.
 */
export function visibleNamespace(st: ContainerState): string | undefined {
  if (st.pid <= 0) return undefined;
  try {
    if (!readFileSync(`/proc/${st.pid}/cgroup`, 'utf8').includes(st.id)) return undefined;
  } catch {
    return undefined;
  }
  const ns = pidNamespaceOf(st.pid);
  return ns !== undefined && ns !== pidNamespaceOf('self') ? ns : undefined;
}

/** The rule for one run (see the file comment). */
export interface NotifySender {
  accept(pid: number): boolean;
}

export function notifySenderFor(st: ContainerState, mountChecked: boolean): NotifySender {
  const ns = visibleNamespace(st);
  return {
    accept(pid) {
      if (pid > 0) return ns !== undefined && pidNamespaceOf(pid) === ns;
      return ns === undefined && mountChecked;
    },
  };
}

const fail = (id: string, why: string) => new EdgevisorError(codes.START_FAILED, `child ${id}: sd_notify: ${why}`);

/**
 * Checks a run's container against the tree (see the file comment); resolves to whether the
 * mount boundary holds (what a pid-0 datagram needs), throws START_FAILED naming what to change.
 */
export async function checkContainer(
  id: string,
  service: string,
  st: ContainerState,
  want: ContainerNotify,
  deps: { client: DockerClient; project: string; ownContainer: OwnContainer },
): Promise<boolean> {
  const socket = st.notifyEnv.NOTIFY_SOCKET;
  const hint = `in compose.yaml give service ${service} NOTIFY_SOCKET=/run/notify/${NOTIFY_SOCKET_NAME} and mount its volume notify-${service} at /run/notify (and at docker.notify_dir/${service} in the supervisor)`;
  if (!socket) throw fail(id, `the tree gives it a watchdog but its container has no NOTIFY_SOCKET: ${hint}`);
  if (!socket.startsWith('/') || posix.basename(socket) !== NOTIFY_SOCKET_NAME) {
    throw fail(id, `its container's NOTIFY_SOCKET must be an absolute path ending in /${NOTIFY_SOCKET_NAME}, got ${JSON.stringify(socket.slice(0, 80))}: ${hint}`);
  }
  if (want.watchdogMs > 0) {
    const raw = st.notifyEnv.WATCHDOG_USEC;
    const usec = Number(raw);
    const max = want.watchdogMs * 1000;
    if (raw === undefined || !Number.isInteger(usec) || usec <= 0 || usec > max) {
      throw fail(
        id,
        `its container's WATCHDOG_USEC is ${raw === undefined ? 'not set' : JSON.stringify(raw.slice(0, 20))}: the app pings every half of it, so it must be a whole number from 1 to ${max} (the tree's watchdog); set it in compose.yaml`,
      );
    }
  }
  const theirs = st.mounts.find((m) => m.destination === posix.dirname(socket));
  if (!theirs) throw fail(id, `its container has nothing mounted at ${posix.dirname(socket)}, where its NOTIFY_SOCKET is: ${hint}`);
  const own = await deps.ownContainer();
  let ours: string | undefined;
  if (own === null) {
    try {
      ours = `bind:${realpathSync(want.dir)}`;
    } catch {
      ours = undefined;
    }
  } else ours = own.mounts.find((m) => m.destination === want.dir)?.key;
  if (ours === undefined) throw fail(id, `the supervisor has nothing mounted at docker.notify_dir/${service}: ${hint}`);
  if (theirs.key !== ours) {
    throw fail(id, `its container mounts something else at ${posix.dirname(socket)} than the supervisor has at docker.notify_dir/${service}: mount the same volume (notify-${service}) in both`);
  }
  if (own === null) return false; // On the host the sender check needs no mount boundary.
  // In a container of our own, the mount is the boundary: no other container may hold it.
  const rows = await deps.client.list({ [LABEL_PROJECT]: deps.project });
  for (const row of rows) {
    if (row.id === st.id || row.id === own.id) continue;
    const other = await deps.client.inspect(row.id).catch(() => null);
    // Only a running container can send; a one-shot that mounted it and exited is no sender.
    if (other?.running && other.mounts.some((m) => m.key === ours)) {
      throw fail(id, `service ${other.labels[LABEL_SERVICE] ?? other.name} also mounts ${service}'s notify volume: only ${service} may (its datagrams would count as ${service}'s)`);
    }
  }
  return true;
}
