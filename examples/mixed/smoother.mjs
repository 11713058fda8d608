// smoother.mjs: the mixed example's `thread` worker (worker_threads: its own heap, killable).
// It heartbeats every 50 ms; on its first run it wedges after 300 ms: a loop spinning in
// JavaScript that no abort reaches. Its heartbeat stops, the supervisor marks it hung and
// terminate()s the thread (an `inproc` worker could only be abandoned), then starts it again.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export default async function smoother({ signal, heartbeat, setState }) {
  const marker = join(process.env.MIXED_DIR, 'smoother-wedged');
  const wedgeAt = existsSync(marker) ? Infinity : Date.now() + 300;
  setState('smoothing');
  while (!signal.aborted) {
    heartbeat();
    if (Date.now() >= wedgeAt) {
      writeFileSync(marker, '1');
      for (;;) {
        // wedged: only terminate() ends this
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
