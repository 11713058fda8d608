/**
 * Docker's log stream format, read without the engine: `GET /containers/:id/logs` of a container
 * without a TTY answers frames of `[stream (1 stdout, 2 stderr), 0, 0, 0, size (uint32 BE)]` +
 * payload; with a TTY, raw bytes. Pure, so it is unit-tested on bytes.
 */

/** One output line of a container, prefixed like the process backend's log ring (`stdout| ...`). */
export type ContainerLogLine = `${'stdout' | 'stderr'}| ${string}`;

/** Splits a `docker logs` answer into lines, oldest first, each `stdout| ...` or `stderr| ...`. */
export function containerLogLines(buf: Buffer): ContainerLogLine[] {
  const parts: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  if (isMultiplexed(buf)) {
    const chunks = new Map<'stdout' | 'stderr', Buffer[]>([['stdout', []], ['stderr', []]]);
    for (let at = 0; at + 8 <= buf.length; ) {
      const stream = buf[at] === 2 ? 'stderr' : 'stdout';
      const size = buf.readUInt32BE(at + 4);
      chunks.get(stream)!.push(buf.subarray(at + 8, Math.min(buf.length, at + 8 + size)));
      // A line spans frames only rarely (the engine frames per write); keep order per line end.
      const joined = Buffer.concat(chunks.get(stream)!);
      const last = joined.lastIndexOf(0x0a);
      if (last !== -1) {
        for (const line of joined.subarray(0, last).toString('utf8').split('\n')) parts.push({ stream, text: line });
        chunks.set(stream, [joined.subarray(last + 1)]);
      } else chunks.set(stream, [joined]);
      at += 8 + size;
    }
    for (const [stream, rest] of chunks) {
      const text = Buffer.concat(rest).toString('utf8');
      if (text) parts.push({ stream, text });
    }
  } else {
    const text = buf.toString('utf8');
    for (const line of text.split('\n')) if (line) parts.push({ stream: 'stdout', text: line });
  }
  return parts.map((p) => `${p.stream}| ${p.text.replace(/\r$/, '')}` as ContainerLogLine);
}

/** True when every frame header checks out (stream 0-2, three zero bytes) up to the end. */
function isMultiplexed(buf: Buffer): boolean {
  if (buf.length < 8) return false;
  for (let at = 0; at + 8 <= buf.length; at += 8 + buf.readUInt32BE(at + 4)) {
    if (buf[at]! > 2 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) return false;
  }
  return true;
}
