import { spawn } from 'node:child_process';
import { AppError, redactSecrets } from '../../../common/src/index.ts';
import { JpegSplitter } from './jpeg-splitter.ts';
import { runWithReconnect } from './reconnect.ts';
import { cameraErrors, type FrameSource, type SourceContext } from './types.ts';
import { openByteChannel, type ByteChannel } from './byte-channel.ts';
import { redact } from './http-get.ts';
import type { DetectSize } from '../config.ts';
import { detectFrameBytes, detectGeometry, type DetectFrame } from '../detect-frame.ts';
import { FramePairer, RawFrameAssembler } from './raw-frames.ts';

/**
 * The ffmpeg command that decodes one RTSP camera to JPEG frames on stdout at the target fps and
 * size (as Frigate does). With `detect`, the same single decode also feeds a second output: the
 * frame letterboxed into the detect size as rawvideo rgb24 on fd 3 (`split` after fps and scale,
 * so both outputs carry the same frames in the same order and the same picture). The letterbox is
 * given as exact sizes and offsets (see detect-frame.ts), so this process knows the geometry
 * without asking ffmpeg. Exported so the benchmark runs exactly the same command alone.
 */
export function ffmpegArgs(url: string, fps: number, width: number, height: number, detect?: DetectSize): string[] {
  // A local file (a synthetic camera's clip): read at its own frame rate (-re), looped forever.
  const input = !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', url] : [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    // TCP interleaved: no UDP ports to open, survives NAT and lossy Wi-Fi. -timeout (µs) makes
    // ffmpeg give up on a silent socket instead of hanging forever.
    '-rtsp_transport', 'tcp', '-timeout', '5000000',
    // Short probing: the default (5 s analyzeduration) delays the first frame by ~4 s, longer
    // than a 5 fps camera's heartbeat timeout. SPS/PPS come in-band, so 1 s is plenty.
    '-probesize', '500000', '-analyzeduration', '1000000', '-fflags', '+discardcorrupt',
    '-i', url,
  ];
  // flush_packets: without it ffmpeg holds frames in a 32 KB pipe buffer (seconds at small sizes).
  const jpegOut = ['-f', 'image2pipe', '-flush_packets', '1', '-c:v', 'mjpeg', '-q:v', '5'];
  if (!detect) return [...input, '-an', '-vf', `fps=${fps},scale=${width}x${height}`, ...jpegOut, '-'];
  const g = detectGeometry(width, height, detect);
  // Padding after the conversion to rgb24, so it is exactly 0,0,0 (black in YUV is not always).
  const graph = `[0:v]fps=${fps},scale=${width}x${height},split=2[jpeg][det];` +
    `[det]scale=${g.pictureWidth}:${g.pictureHeight},format=rgb24,pad=${g.width}:${g.height}:${g.padX}:${g.padY}:black[raw]`;
  return [
    ...input, '-filter_complex', graph,
    '-map', '[jpeg]', ...jpegOut, 'pipe:1',
    '-map', '[raw]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-flush_packets', '1', 'pipe:3',
  ];
}

/**
 * RTSP (and ONVIF stream URIs): one ffmpeg subprocess per connection. The subprocess is killed
 * when the worker stops or the stream stalls; a dropped stream reconnects with backoff.
 */
export function rtspSource(url: string, opts: { stallMs?: number; maxBackoffMs?: number } = {}): FrameSource {
  return (ctx) => runWithReconnect(ctx, async (gotFrame) => {
    const stallMs = opts.stallMs ?? Math.max(5000, 5000 / ctx.fps);
    const run = { lastData: Date.now(), frames: 0 };
    const emit = (jpeg: Buffer, raw?: DetectFrame) => { run.frames++; gotFrame(); ctx.frame(jpeg, raw); };
    const { detect } = ctx;
    const geometry = detect ? detectGeometry(ctx.width, ctx.height, detect) : undefined;
    const pairer = geometry ? new FramePairer<Buffer, Buffer>((jpeg, data) => emit(jpeg, { data, geometry }), (m) => ctx.decodeError(m)) : undefined;
    const splitter = new JpegSplitter((jpeg) => (pairer ? pairer.pushA(jpeg) : emit(jpeg)), (m) => ctx.decodeError(m));
    // ffmpeg's frames come through sockets read with `onread` (see byte-channel.ts), the
    // cheapest way for node to take in one chunk per frame.
    const channels: ByteChannel[] = [];
    try {
      try {
        channels.push(await openByteChannel((chunk) => { run.lastData = Date.now(); splitter.push(chunk); }));
        if (detect && pairer) {
          const assembler = new RawFrameAssembler(detectFrameBytes(detect), (data) => pairer.pushB(data));
          channels.push(await openByteChannel({ next: () => assembler.next(), wrote: (n) => { run.lastData = Date.now(); assembler.wrote(n); } }));
        }
      } catch (err) {
        throw new AppError(cameraErrors.CONNECT, `camera ${ctx.cameraId}: cannot open a local socket for ffmpeg's output: ${(err as Error).message}`, { cause: err });
      }
      if (!ctx.signal.aborted) await runFfmpeg(ctx, url, channels, stallMs, run);
    } finally {
      for (const c of channels) c.close();
    }
  }, { maxMs: opts.maxBackoffMs });
}

/**
 * One ffmpeg run writing its JPEGs into `channels[0]` (stdout) and, with detect, its raw frames
 * into `channels[1]` (fd 3); settles once ffmpeg has exited.
 */
function runFfmpeg(ctx: SourceContext, url: string, channels: ByteChannel[], stallMs: number, run: { lastData: number; frames: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', ffmpegArgs(url, ctx.fps, ctx.width, ctx.height, ctx.detect), {
      stdio: ['ignore', channels[0]!.childEnd, 'pipe', ...channels.slice(1).map((c) => c.childEnd)],
    });
    // ffmpeg holds its own copies now; ours would keep the channels open after ffmpeg exits.
    for (const c of channels) c.releaseChildEnd();
    let stalled = false;
    let stderrTail = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        // ffmpeg quotes the input URL (password included) in its errors: redacted as it is read,
        // before it is kept, counted or put into any message.
        stderrTail = redactSecrets(line.trim()).slice(0, 300);
        // With -loglevel error, what ffmpeg prints once frames flow is a decode problem; before
        // that it is a connection problem, reported by the reconnect instead.
        if (run.frames > 0) ctx.decodeError(stderrTail);
      }
    });
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); }, 2000).unref();
    };
    // One timer per stall period, not a poll: it checks the age of the last data when it fires
    // and re-arms for the rest of the period, so a healthy stream costs no extra wakeups.
    let watchdog: NodeJS.Timeout;
    const watch = () => {
      const quietMs = Date.now() - run.lastData;
      if (quietMs >= stallMs) { stalled = true; kill(); return; }
      watchdog = setTimeout(watch, stallMs - quietMs);
    };
    watchdog = setTimeout(watch, stallMs);
    const onAbort = () => kill();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      clearTimeout(watchdog);
      ctx.signal.removeEventListener('abort', onAbort);
      reject(new AppError(cameraErrors.CONNECT, `camera ${ctx.cameraId}: cannot run ffmpeg: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(watchdog);
      ctx.signal.removeEventListener('abort', onAbort);
      if (ctx.signal.aborted) return resolve();
      const why = stalled ? `no data for ${stallMs}ms` : `ffmpeg exited (${signal ?? `code ${code}`})${stderrTail ? `: ${stderrTail}` : ''}`;
      reject(new AppError(cameraErrors.STREAM_LOST, `camera ${ctx.cameraId}: ${redact(url)}: ${why}`));
    });
  });
}
