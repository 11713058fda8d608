/**
 * CPU per camera for RTSP decode at 10 fps 1280x720 -> 640x360: the camera controller against
 * the same ffmpeg command alone. Target ratio <= 1.15 (issue 4). Two rows, one after the other:
 * - `jpeg`: no detect (the default case): ffmpeg decodes to JPEG on stdout.
 * - `jpeg+detect`: `detect: 320x320`: the same single decode also writes raw RGB24 320x320 frames
 *   (letterboxed) on fd 3, which the controller pairs with the JPEGs and serves as frame.rgb;
 *   ffmpeg alone runs the same two-output command, both outputs drained by this process.
 *
 * Run: node --import tsx test/bench/camera.bench.ts [window_s=30] [warmup_s=40]
 * The warm-up is 40 s: a fresh node spends its first 20-40 s on startup GC, which is not what a
 * camera controller that runs for months costs per camera.
 *
 * How it measures, and why:
 * - The controller runs as its own process, exactly as deployed (`node --import tsx
 *   apps/camera/src/main.ts` with a cameras file), and its whole process tree counts: node with
 *   all its threads (V8 GC, the tsx loader thread) plus its ffmpeg, plus any ffmpeg it reaped
 *   during the window (cutime/cstime). The bench process itself is not measured.
 * - ffmpeg alone runs the same arguments (`ffmpegArgs`, the controller's own) against the same
 *   RTSP sim, writing into a pipe that this process drains, as the controller's ffmpeg does.
 * - Both run at the same time over the same window, so the load of this shared machine drifts
 *   alike for both. The window starts after a warm-up: a fresh node spends its first ~20-30 s
 *   finishing startup (memory-reducing GCs of the loader's garbage), which is not per-camera
 *   cost in a controller that runs for months.
 * - A third process, node + tsx doing nothing, shows node's idle floor in the same window. It is
 *   printed for context only and never subtracted.
 * CPU comes from /proc/<pid>/stat (utime+stime, and cutime+cstime for reaped children).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ffmpegArgs } from '../../apps/camera/src/sources/rtsp.ts';
import type { DetectSize } from '../../apps/camera/src/config.ts';
import { JpegSplitter } from '../../apps/camera/src/sources/jpeg-splitter.ts';
import { startRtspSim } from '../sim/rtsp-server.ts';
import { freePort, sleep, waitFor } from '../helpers/net.ts';

const windowS = Number(process.argv[2] ?? 30);
const warmupS = Number(process.argv[3] ?? 40);
const FPS = 10;
const root = fileURLToPath(new URL('../../', import.meta.url));
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** CPU seconds of one process (all its threads); with `reaped`, plus its waited-for children. */
function cpuOf(pid: number, reaped = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "comm) ": f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
  const own = Number(f[11]) + Number(f[12]);
  return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / TICKS;
}

/** Minor page faults of one process so far (field 10 of /proc/<pid>/stat). */
function faultsOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[7]);
}

/** Live descendants of a process (children of every thread, recursively). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let kids = '';
    try { kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8'); } catch { continue; }
    for (const k of kids.split(' ').filter(Boolean).map(Number)) out.push(k, ...descendants(k));
  }
  return out;
}

/** CPU seconds of a whole process tree: the root with its reaped children, plus the live ones. */
function treeCpu(pid: number): { total: number; root: number; children: number } {
  const rootCpu = cpuOf(pid);
  let children = cpuOf(pid, true) - rootCpu;
  for (const d of descendants(pid)) {
    try { children += cpuOf(d, true); } catch { /* exited between listing and reading */ }
  }
  return { total: rootCpu + children, root: rootCpu, children };
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

const sim = await startRtspSim({ width: 1280, height: 720, fps: FPS });
const dir = await mkdtemp(join(tmpdir(), 'camera-bench-'));

/** One row: ffmpeg alone and the controller (with or without detect), concurrently, same window. */
async function row(name: string, detect: DetectSize | undefined): Promise<Record<string, unknown>> {
  let alone: ChildProcess | undefined;
  let controller: ChildProcess | undefined;
  let idle: ChildProcess | undefined;
  try {
    // 1. ffmpeg alone, same arguments, its frames drained (and counted) here; with detect also fd 3.
    alone = spawn('ffmpeg', ffmpegArgs(sim.url, FPS, 640, 360, detect), { stdio: ['ignore', 'pipe', 'ignore', ...(detect ? ['pipe' as const] : [])] });
    let aloneFrames = 0;
    let rawBytes = 0;
    const counter = new JpegSplitter(() => { aloneFrames++; }, () => undefined);
    alone.stdout!.on('data', (d: Buffer) => counter.push(d));
    if (detect) (alone.stdio[3] as Readable).on('data', (d: Buffer) => { rawBytes += d.length; });

    // 2. the controller, as deployed.
    const port = await freePort();
    const camerasFile = join(dir, `cameras-${name}.yaml`);
    await writeFile(camerasFile, `cameras:\n  - id: bench\n    source: { rtsp: { url: "${sim.url}" } }\n    fps: ${FPS}\n    width: 640\n    height: 360\n${detect ? `    detect: { width: ${detect.width}, height: ${detect.height} }\n` : ''}`);
    controller = spawn(process.execPath, ['--import', 'tsx', 'apps/camera/src/main.ts'], {
      cwd: root,
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CAMERAS_FILE: camerasFile },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const seq = async (): Promise<number> => {
      const r = await fetch(`http://127.0.0.1:${port}/cameras`, { signal: AbortSignal.timeout(2000) });
      return ((await r.json()) as { cameras: Array<{ seq: number }> }).cameras[0]!.seq;
    };

    // 3. node's idle floor: the same runtime and loader, no work.
    idle = spawn(process.execPath, ['--import', 'tsx', '-e', 'setInterval(() => {}, 1 << 30)'], { cwd: root, stdio: 'ignore' });

    await waitFor('controller frames', async () => (await seq().catch(() => 0)) > 0, 60_000, 250);
    if (detect) {
      const r = await fetch(`http://127.0.0.1:${port}/cameras/bench/frame.rgb`, { signal: AbortSignal.timeout(2000) });
      if (r.status !== 200 || (await r.arrayBuffer()).byteLength !== detect.width * detect.height * 3) throw new Error(`frame.rgb: HTTP ${r.status}`);
    }
    await sleep(warmupS * 1000);

    const a0 = cpuOf(alone.pid!), c0 = treeCpu(controller.pid!), i0 = cpuOf(idle.pid!), s0 = await seq(), f0 = aloneFrames, p0 = faultsOf(controller.pid!);
    await sleep(windowS * 1000);
    const a1 = cpuOf(alone.pid!), c1 = treeCpu(controller.pid!), i1 = cpuOf(idle.pid!), s1 = await seq(), f1 = aloneFrames, p1 = faultsOf(controller.pid!);

    const per = (x: number) => +(x / windowS).toFixed(4);
    const aloneCpu = per(a1 - a0);
    const total = per(c1.total - c0.total);
    return {
      row: name,
      detect: detect ? `${detect.width}x${detect.height} rgb24` : null,
      ffmpeg_alone_cpu: aloneCpu,
      ffmpeg_alone_fps: +((f1 - f0) / windowS).toFixed(1),
      ...(detect ? { ffmpeg_alone_raw_frames: Math.floor(rawBytes / (detect.width * detect.height * 3)) } : {}),
      controller_total_cpu: total,
      controller_node_cpu: per(c1.root - c0.root),
      controller_ffmpeg_cpu: per(c1.children - c0.children),
      controller_fps: +((s1 - s0) / windowS).toFixed(1),
      controller_node_page_faults_per_frame: +((p1 - p0) / Math.max(1, s1 - s0)).toFixed(1),
      node_idle_floor_cpu: per(i1 - i0),
      ratio: +(total / aloneCpu).toFixed(3),
      target_ratio: 1.15,
    };
  } finally {
    await Promise.all([stop(alone), stop(controller), stop(idle)]);
  }
}

try {
  const rows = [];
  for (const [name, detect] of [['jpeg', undefined], ['jpeg+detect', { width: 320, height: 320 }]] as const) rows.push(await row(name, detect));
  console.log(JSON.stringify({ window_s: windowS, warmup_s: warmupS, rows }, null, 2));
} finally {
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
