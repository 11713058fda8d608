/**
 * Restarting the shared Docker engine for the fault suite's fault 8, the way .ci/provision.sh
 * started it (`nohup dockerd >/var/log/dockerd.log 2>&1 &`, detached from the test). `ensureDockerd`
 * runs whatever happened before it: the engine is left running for everyone else on the machine.
 */
import { execFile, spawn } from 'node:child_process';
import { waitFor } from './net.ts';

const sh = (cmd: string, timeoutMs = 15_000) =>
  new Promise<string>((res) => execFile('sh', ['-c', cmd], { timeout: timeoutMs }, (err, stdout) => res(err ? '' : stdout.trim())));

const answers = async () => (await sh('docker info --format "{{.ServerVersion}}"', 10_000)) !== '';
const dockerdPid = async () => Number((await sh('pidof dockerd')).split(/\s+/)[0] || 0);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function startDockerd(): void {
  spawn('sh', ['-c', 'nohup dockerd >/var/log/dockerd.log 2>&1 &'], { detached: true, stdio: 'ignore' }).unref();
}

/** Starts dockerd if none runs and waits until it answers. */
export async function ensureDockerd(timeoutMs = 120_000): Promise<void> {
  if (await answers()) return;
  if (!(await dockerdPid())) startDockerd();
  await waitFor('docker info answers', answers, timeoutMs, 500);
}

/** SIGTERM to dockerd (it stops every container), waits for it to exit, starts it again; returns the ms it was away. */
export async function restartDockerd(): Promise<number> {
  const pid = await dockerdPid();
  if (!pid) throw new Error('no dockerd process to restart');
  const t0 = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
    await waitFor('dockerd exited', () => !alive(pid), 120_000, 200);
  } finally {
    await ensureDockerd();
  }
  return Date.now() - t0;
}
