/**
 * `exec` probe: a command whose exit code decides (0 passes). For a unit with `exec` (Docker) it
 * runs inside the unit; otherwise it is spawned here, in its own process group, so that a timeout
 * kills the command and everything it started (a `sh -c` pipeline included).
 */
import { spawn } from 'node:child_process';
import { childEnv } from '../backends/child-env.ts';
import { constants as osConstants } from 'node:os';
import type { ProbeCheck } from '../spec/types.ts';
import type { ExecResult } from '../backends/types.ts';
import type { ProbeFn } from './types.ts';
import { ProbeFailure, guardProbe } from './common.ts';

export type ExecCheck = Extract<ProbeCheck, { kind: 'exec' }>;

/** Output kept per stream: enough for the last lines of a failing health script. */
const MAX_OUTPUT_BYTES = 16 * 1024;

export const execProbe: ProbeFn<ExecCheck> = (check, target, timeoutMs, signal) =>
  guardProbe(timeoutMs, signal, async (ctx) => {
    if (check.command.length === 0) throw new ProbeFailure('exec probe has an empty command');
    const result = target.unit.exec ? await target.unit.exec(check.command, timeoutMs, ctx.signal) : await execLocal(check.command, ctx.signal);
    if (result.code !== 0) throw new ProbeFailure(describeExit(check.command, result), result.code);
    return { value: 0 };
  });

function describeExit(command: readonly string[], r: ExecResult): string {
  const tail = lastLine(r.stderr) || lastLine(r.stdout);
  return `${command[0]} exited with code ${r.code}${tail ? `: ${tail}` : ''}`;
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  const last = lines[lines.length - 1]?.trim() ?? '';
  return last.length > 200 ? `${last.slice(0, 200)}...` : last;
}

/**
 * Spawns `command` in a new process group; on abort the whole group gets SIGKILL (a probe command
 * has no state worth a grace period). Resolves with the exit code; rejects when the command cannot be spawned.
 */
export function execLocal(command: readonly string[], signal: AbortSignal): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command[0]!, command.slice(1), { detached: true, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const collect = (key: 'stdout' | 'stderr') => (chunk: Buffer) => {
      if (out[key].length < MAX_OUTPUT_BYTES) out[key] += chunk.toString('utf8').slice(0, MAX_OUTPUT_BYTES - out[key].length);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone: nothing to kill.
      }
    };
    const onAbort = () => {
      killGroup();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    // Resolve on 'close' so the last output lines are read; but on 'exit' kill what the command
    // left in its group, and stop waiting after a moment in case something still holds the pipes.
    let code: number | null = null;
    let sig: NodeJS.Signals | null = null;
    let drainTimer: NodeJS.Timeout | undefined;
    child.once('exit', (c, s) => {
      code = c;
      sig = s;
      killGroup();
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 200);
    });
    child.once('close', (c, s) => {
      clearTimeout(drainTimer);
      signal.removeEventListener('abort', onAbort);
      const exitCode = code ?? c;
      const exitSignal = sig ?? s;
      // 128+n for a signal, as a shell reports it.
      resolve({ code: exitCode ?? 128 + (exitSignal ? (osConstants.signals[exitSignal] ?? 0) : 0), ...out });
    });
  });
}
