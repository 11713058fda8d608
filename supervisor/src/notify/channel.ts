/**
 * One NOTIFY_SOCKET per child: a datagram socket whose datagrams are taken only from the child's
 * own processes: the kernel stamps each with the sender's pid (SO_PASSCRED), and `accept(pid)`
 * checks it (the process backend: the sender is in the child's process group, so `systemd-notify`
 * run by a shell script counts, another child holding the path does not; the Docker backend: the
 * sender is in the container's pid namespace; `notify.access: main` narrows it to the main pid, in
 * runtime/notify-watch.ts). One socket per child means a datagram can never
 * feed another child's watchdog even before that check.
 *
 * Where the socket is: by default in a fresh 0700 directory under the OS temp dir (only the
 * supervisor's user can reach it). A container's is at a stable `path` instead, in the directory
 * compose mounts into that one container: the directory is made 0711 when missing (a container's
 * user, which may not be ours, must pass it), an old socket left there by an earlier supervisor is
 * replaced, and the socket is 0666 (reaching it is the mount's business; the sender check decides
 * what counts). Closing removes the socket only, never that directory (it is a mount point).
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EdgevisorError, codes } from '../errors.ts';
import { notifyAddon } from './native.ts';
import { parseNotify, type NotifyMessage } from './protocol.ts';

export interface NotifyChannel {
  /** The socket's path: the child's NOTIFY_SOCKET. */
  readonly path: string;
  /** Datagrams dropped because their sender failed `accept`. */
  rejected(): number;
  close(): void;
}

export interface NotifyChannelOptions {
  /**
   * Whether a datagram from `pid` (0: the kernel gave none) comes from the child; null when there
   * is no run to judge it against yet (dropped, not counted as rejected).
   */
  accept(pid: number): boolean | null;
  onMessage(message: NotifyMessage, pid: number): void;
  /** Parent of the socket's directory (default the OS temp dir). */
  dir?: string;
  /** A stable path for the socket (a container's, in a mounted directory) instead of a fresh directory. */
  path?: string;
  /** How messages name that place (never the path itself), e.g. "docker.notify_dir/web". */
  label?: string;
}

export function openNotifyChannel(opts: NotifyChannelOptions): NotifyChannel {
  const addon = notifyAddon();
  const stable = opts.path !== undefined;
  const path = opts.path ?? join(mkdtempSync(join(opts.dir ?? tmpdir(), 'edgevisor-notify-')), 'notify.sock'); // mode 0700
  const dir = dirname(path);
  const label = opts.label ?? 'the notify directory';
  if (stable) prepareStablePath(path, label);
  let rejected = 0;
  let handle: unknown;
  try {
    handle = addon.bind(path, (buf, pid) => {
      const ok = opts.accept(pid);
      if (ok !== true) {
        if (ok === false) rejected++;
        return;
      }
      opts.onMessage(parseNotify(buf.toString('utf8')), pid);
    });
    if (stable) chmodSync(path, 0o666);
  } catch (err) {
    if (stable) removeSocket(path);
    else rmSync(dir, { recursive: true, force: true });
    throw stable ? new EdgevisorError(codes.START_FAILED, `sd_notify: cannot bind notify.sock in ${label}: ${(err as Error).message}`, { cause: err }) : err;
  }
  let closed = false;
  return {
    path,
    rejected: () => rejected,
    close() {
      if (closed) return;
      closed = true;
      addon.close(handle);
      if (stable) removeSocket(path);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The directory exists (0711 when we make it); a socket already at `path` (an earlier supervisor's) goes, anything else there is refused. */
function prepareStablePath(path: string, label: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  } catch (err) {
    // Node's message names the path: give the code only.
    throw new EdgevisorError(codes.START_FAILED, `sd_notify: cannot make ${label}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new EdgevisorError(codes.START_FAILED, `sd_notify: notify.sock in ${label} exists and is not a socket: remove it`);
  unlinkSync(path);
}

function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Gone already.
  }
}

/** The process group of `pid` from /proc (Linux), undefined if it is gone. */
export function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgrp) ? pgrp : undefined;
  } catch {
    return undefined;
  }
}

/** Sends one sd_notify datagram to `socketPath` (what sd_notify(3) does); apps use it through apps/common. */
export function sendNotify(socketPath: string, message: string): void {
  notifyAddon().send(socketPath, message);
}
