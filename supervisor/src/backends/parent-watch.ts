/**
 * Children die with their supervisor, even when it is SIGKILLed (issue 16, point 4).
 *
 * Linux's parent-death signal (prctl PR_SET_PDEATHSIG) is not reachable from Node, and an orphan
 * that keeps serving holds the ports its replacement needs. So each process child is launched
 * through a tiny POSIX shell wrapper that becomes the group leader:
 *
 *   sh -c '(read _ <&3; trap "" TERM; kill -TERM 0; sleep 3; kill -KILL 0) & exec 3<&- "$@"' sh CMD ARGS...
 *
 * - fd 3 is a pipe whose other end only the supervisor holds (close-on-exec, so no sibling
 *   inherits it). The kernel closes it when the supervisor dies, however it dies.
 * - A background watcher blocks reading fd 3; at EOF it sends SIGTERM to its whole process group
 *   (the child and everything it started), waits 3 s, then SIGKILL. It ignores TERM only after
 *   EOF, so while the supervisor lives a normal stop (SIGTERM to the group) ends it at once.
 * - The shell then execs the command in place: the leader's pid, exit code and signals are the
 *   command's own, as without the wrapper. The watcher (a dash subshell, ~1 MB) is one more
 *   member of the group, killed with it.
 * A program that leaves its process group (setsid) escapes this, as it escapes group signals.
 *
 * The wrapper hides a missing command behind sh's exit 127, so the command is looked up first
 * (as execvp would) and a missing one is still a START_FAILED with ENOENT.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** How long the children get for their SIGTERM once the supervisor is gone. */
export const ORPHAN_GRACE_S = 3;

const SCRIPT = `(read _ <&3; trap '' TERM; kill -TERM 0; sleep ${ORPHAN_GRACE_S}; kill -KILL 0) & exec 3<&- "$@"`;

/**
 * The argv (file, args) that runs `command` under the watcher. With `pidEnv`, the command finds
 * its own pid in that variable: the wrapper's `$$`, which exec hands on to the command.
 */
export function watchedCommand(command: readonly string[], opts: { pidEnv?: string } = {}): { file: string; args: string[] } {
  const name = opts.pidEnv;
  if (name !== undefined && !/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`watchedCommand: bad variable name ${JSON.stringify(name)}`);
  const script = name ? `${name}=$$; export ${name}; ${SCRIPT}` : SCRIPT;
  return { file: '/bin/sh', args: ['-c', script, 'sh', ...command] };
}

function isExecutableFile(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Throws an ENOENT error (as spawn would) when `file` is not an executable found the way execvp
 * finds it: a name with a slash relative to `cwd`, otherwise along `PATH`.
 */
export function assertCommandExists(file: string, cwd: string, path: string | undefined): void {
  const candidates = file.includes('/') ? [isAbsolute(file) ? file : resolve(cwd, file)] : (path ?? '').split(delimiter).filter(Boolean).map((d) => join(resolve(cwd, d), file));
  if (candidates.some(isExecutableFile)) return;
  const err = new Error(`spawn ${file} ENOENT`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  throw err;
}
