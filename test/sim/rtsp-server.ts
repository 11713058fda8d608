import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../helpers/net.ts';

/** A running simulated RTSP camera (GStreamer, see rtsp-server.py). */
export interface RtspSim {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, then SIGKILL after 3 s. Idempotent. */
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./rtsp-server.py', import.meta.url));

/**
 * Starts the RTSP sim and waits until it answers an RTSP OPTIONS request.
 * Pass `port` to restart on the same address (to test reconnects), `file` to play a video file.
 */
export async function startRtspSim(opts: { port?: number; width?: number; height?: number; fps?: number; address?: string; file?: string } = {}): Promise<RtspSim> {
  const port = opts.port ?? (await freePort());
  const host = opts.address ?? '127.0.0.1';
  const args = [script, '--port', String(port), '--width', String(opts.width ?? 640), '--height', String(opts.height ?? 360), '--fps', String(opts.fps ?? 10), '--address', host, ...(opts.file ? ['--file', opts.file] : [])];
  const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  child.stdout!.resume();
  let exited = false;
  child.once('exit', () => { exited = true; });
  try {
    await waitFor(`RTSP sim on port ${port}`, async () => exited || rtspOptions(host, port), 15_000, 100);
    if (exited) throw new Error(`rtsp-server.py exited early: ${stderr}`);
  } catch (err) {
    await kill(child);
    throw err;
  }
  return { url: `rtsp://${host}:${port}/test`, port, pid: child.pid!, stop: () => kill(child) };
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

/** True when the server answers `OPTIONS` with RTSP/1.0 200 within 1 s. */
function rtspOptions(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write(`OPTIONS rtsp://${host}:${port}/test RTSP/1.0\r\nCSeq: 1\r\n\r\n`));
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n\r\n')) done(buf.startsWith('RTSP/1.0 200')); });
  });
}
