/**
 * CPU per camera for RTSP decode at 10 fps 1280x720 -> 640x360: the controller (node + its
 * ffmpeg) against the same ffmpeg command alone. Target ratio <= 1.15.
 * Run: node --import tsx test/bench/camera.bench.ts [seconds=15]
 * CPU is read from /proc/<pid>/stat (utime+stime) of both processes over the same window.
 */
import { readFileSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { buildCameraApp } from '../../apps/camera/src/app.ts';
import { parseCameras } from '../../apps/camera/src/config.ts';
import { ffmpegArgs } from '../../apps/camera/src/sources/rtsp.ts';
import { startRtspSim } from '../sim/rtsp-server.ts';
import { sleep } from '../helpers/net.ts';

const seconds = Number(process.argv[2] ?? 15);
const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / ticks; // utime, stime (fields 14, 15)
};
const ffmpegPid = (url: string): number => Number(execFileSync('pgrep', ['-n', '-f', `ffmpeg.*${url}`], { encoding: 'utf8' }).trim());

const sim = await startRtspSim({ width: 1280, height: 720, fps: 10 });
try {
  // 1. ffmpeg alone.
  const alone = spawn('ffmpeg', ffmpegArgs(sim.url, 10, 640, 360), { stdio: ['ignore', 'pipe', 'ignore'] });
  let bytes = 0;
  alone.stdout.on('data', (d: Buffer) => { bytes += d.length; });
  await sleep(4000); // past connection and probing
  const a0 = cpuSeconds(alone.pid!);
  await sleep(seconds * 1000);
  const aloneCpu = (cpuSeconds(alone.pid!) - a0) / seconds;
  alone.kill('SIGKILL');

  // 2. the controller: node process (this one) + its ffmpeg child.
  const cam = buildCameraApp({ cameras: parseCameras({ cameras: [{ id: 'bench', source: { rtsp: { url: sim.url } }, fps: 10, width: 640, height: 360 }] }) });
  await cam.start();
  await sleep(4000);
  const ff = ffmpegPid(sim.url);
  const f0 = cpuSeconds(ff);
  const n0 = process.cpuUsage();
  const frames0 = cam.cameras.get('bench')!.frames.latest()?.seq ?? 0;
  await sleep(seconds * 1000);
  const ffCpu = (cpuSeconds(ff) - f0) / seconds;
  const nu = process.cpuUsage(n0);
  const nodeCpu = (nu.user + nu.system) / 1e6 / seconds;
  const fps = ((cam.cameras.get('bench')!.frames.latest()?.seq ?? 0) - frames0) / seconds;
  await cam.stop();
  const total = ffCpu + nodeCpu;
  console.log(JSON.stringify({
    window_s: seconds,
    ffmpeg_alone_cpu: +aloneCpu.toFixed(3),
    controller_ffmpeg_cpu: +ffCpu.toFixed(3),
    controller_node_cpu: +nodeCpu.toFixed(3),
    controller_total_cpu: +total.toFixed(3),
    controller_fps: fps,
    ratio: +(total / aloneCpu).toFixed(3),
    target_ratio: 1.15,
  }, null, 2));
} finally {
  await sim.stop();
}
