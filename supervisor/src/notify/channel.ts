/**
 * One NOTIFY_SOCKET per child: a datagram socket in a fresh 0700 directory (only the supervisor's
 * user can reach it), whose datagrams are taken only from the child's own processes: the kernel
 * stamps each with the sender's pid (SO_PASSCRED), and `accept(pid)` checks it (the process
 * backend: the sender is in the child's process group, so `systemd-notify` run by a shell script
 * counts, another child holding the path does not). One socket per child means a datagram can
 * never feed another child's watchdog even before that check.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** Whether a datagram from `pid` (0: the kernel gave none) comes from the child. */
  accept(pid: number): boolean;
  onMessage(message: NotifyMessage, pid: number): void;
  /** Parent of the socket's directory (default the OS temp dir). */
  dir?: string;
}

export function openNotifyChannel(opts: NotifyChannelOptions): NotifyChannel {
  const addon = notifyAddon();
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), 'edgevisor-notify-')); // mode 0700
  const path = join(dir, 'notify.sock');
  let rejected = 0;
  let handle: unknown;
  try {
    handle = addon.bind(path, (buf, pid) => {
      if (!opts.accept(pid)) {
        rejected++;
        return;
      }
      opts.onMessage(parseNotify(buf.toString('utf8')), pid);
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    path,
    rejected: () => rejected,
    close() {
      if (closed) return;
      closed = true;
      addon.close(handle);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
