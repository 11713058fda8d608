import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A one-way byte channel from a subprocess to this process, read without Node's stream
 * machinery: a connected pair of Unix sockets, one end (`childEnd`) handed to the subprocess as
 * its stdout, the other read with `onread` into one reusable buffer.
 *
 * Why not `spawn(..., { stdio: 'pipe' })` and `stdout.on('data')`: at one read per frame, the
 * Readable machinery behind 'data' (push, addChunk, emit, the maybeReadMore tick) cost more than
 * half of what node spent per RTSP camera (measured: 7.7 vs 3.3 ms CPU per second for the same
 * ffmpeg output at 10 fps). Only public APIs are used: `onread` on a connecting socket, and a
 * socket passed through `stdio`.
 *
 * The listening socket lives in a fresh private directory (mode 0700, so no other user can
 * connect in between), accepts exactly one connection and is closed and removed at once.
 */
export interface ByteChannel {
  /** Pass as `stdio[1]` to spawn; call `releaseChildEnd()` right after spawning. */
  childEnd: Socket;
  /** Closes this process's copy of the child's end: EOF then comes when the child exits. */
  releaseChildEnd(): void;
  /** Stops reading and closes both ends. Idempotent. */
  close(): void;
}

/** Reads at most this many bytes per wakeup (a pipe's default capacity). */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * A receiver that lets the socket read straight into its own memory (no copy at all): before each
 * read the socket asks `next()` where to put the bytes, then reports how many landed with
 * `wrote(n)`. Raw frames use it: the kernel writes each frame into the frame's own buffer.
 */
export interface ReadTarget {
  next(): Uint8Array;
  wrote(n: number): void;
}

/**
 * Opens a channel. With a function, it gets each chunk as a fresh buffer (copied out of the
 * reusable read buffer, so the receiver may keep it); with a ReadTarget, reads land in the
 * target's memory. The end of the stream is the caller's business (it watches the child
 * process); read errors end the channel quietly. Rejects when the local connection cannot be
 * made within `timeoutMs`.
 */
export async function openByteChannel(sink: ((chunk: Buffer) => void) | ReadTarget, timeoutMs = 2000): Promise<ByteChannel> {
  const dir = await mkdtemp(join(tmpdir(), 'camera-chan-'));
  const server: Server = createServer({ pauseOnConnect: true });
  let reader: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const path = join(dir, 's');
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
    const onread = typeof sink === 'function'
      ? {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => {
          const chunk = Buffer.allocUnsafe(n);
          chunk.set(buf.subarray(0, n));
          sink(chunk);
          return true; // keep reading: the receiver never applies backpressure
        },
      }
      : {
        // A function: node calls it for the buffer of every read (the current frame's free part).
        buffer: () => sink.next(),
        callback: (n: number) => {
          sink.wrote(n);
          return true;
        },
      };
    const r = connect({ path, onread });
    reader = r;
    const childEnd = await new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject);
      r.once('error', reject);
      timer = setTimeout(() => reject(new Error(`local socket not connected within ${timeoutMs}ms`)), timeoutMs);
    });
    r.removeAllListeners('error');
    r.on('error', () => r.destroy());
    return {
      childEnd,
      releaseChildEnd: () => childEnd.destroy(),
      close() {
        childEnd.destroy();
        r.destroy();
      },
    };
  } catch (err) {
    reader?.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    // The connected pair outlives the listening socket and its file.
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
