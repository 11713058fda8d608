/**
 * The inference app and the web app as real processes on loopback, sharing one data dir, with the
 * inference app's SQLite event file also opened here: tests append safety events exactly as the
 * inference pipeline does, and so control which ids exist while one process or the other is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { openEventStore, type EventStore } from '../../apps/inference/src/events/store.ts';
import { freePort, waitFor } from './net.ts';

export type StackApp = 'web' | 'inference';

export interface EventsStack {
  dir: string;
  ports: { inference: number; web: number };
  store: EventStore;
  /** A 64x48 JPEG that every appended event names as its snapshot. */
  snapshot: string;
  /** Starts one app's main.ts; resolves once its /healthz answers 200. */
  start(app: StackApp): Promise<ChildProcess>;
  /** SIGKILLs the app's running process (a crash, not a drain). */
  kill(app: StackApp): Promise<void>;
  /** Appends `n` events (cam1, zone press, class motion); returns their ids. */
  append(n: number): number[];
  close(): Promise<void>;
}

export async function startEventsStack(opts: { webPollMs?: number } = {}): Promise<EventsStack> {
  const dir = mkdtempSync(join(tmpdir(), 'events-stack-'));
  // The camera controller is never started: the inference loop retries it, which is all it does here.
  const ports = { inference: await freePort(), web: await freePort(), camera: await freePort() };
  mkdirSync(join(dir, 'snapshots'));
  const snapshot = join(dir, 'snapshots', 'cam1-press-1.jpg');
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c03030' } }).jpeg().toFile(snapshot);
  const running = new Map<StackApp, ChildProcess>();

  const start = async (app: StackApp) => {
    const env = app === 'web'
      ? { PORT: String(ports.web), INFERENCE_URL: `http://127.0.0.1:${ports.inference}`, WEB_EVENTS_POLL_MS: String(opts.webPollMs ?? 100), DATA_DIR: dir }
      : { PORT: String(ports.inference), DATA_DIR: dir, CAMERA_URL: `http://127.0.0.1:${ports.camera}`, CAMERAS: 'cam1' };
    const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], { env: { ...process.env, HOST: '127.0.0.1', ...env }, stdio: 'ignore' });
    running.set(app, child);
    const port = ports[app];
    await waitFor(`${app} /healthz on 127.0.0.1:${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })).status === 200;
    }, 30_000, 100);
    return child;
  };
  const kill = async (app: StackApp) => {
    const child = running.get(app);
    running.delete(app);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };

  await start('inference');
  // Opened after the inference app created it; both sides use WAL and a busy timeout.
  const store = openEventStore(join(dir, 'events.db'));
  let ts = 1_700_000_000_000;
  return {
    dir, ports, store, snapshot, start, kill,
    append(n) {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        ts += 1000;
        ids.push(store.append({ ts, camera: 'cam1', zone: 'press', cls: 'motion', score: 0.9, boxes: [{ x1: 0.7, y1: 0.2, x2: 0.8, y2: 0.9, cls: 'motion', score: 0.9 }], snapshot: basename(snapshot), episodeStart: ts - 2000 }).id);
      }
      return ids;
    },
    async close() {
      await Promise.all([kill('web'), kill('inference')]);
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
