import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter } from 'prom-client';
import type { Tree } from 'edgevisor';
import { createAppServer, installFailpoints, processLogger, redactingLog, sendError, type AppServer } from '../../common/src/index.ts';
import { CameraRuntime, createCameraWorker, type RingOptions } from './camera-worker.ts';
import { rmSync } from 'node:fs';
import { ringFileName, ringPath } from './frame-ring.ts';
import { prepareFramesDir, removeFramesDir } from './frames-dir.ts';
import type { CameraConfig, Failpoint } from './config.ts';
import type { Frame } from './frame-store.ts';
import { createCameraMetrics, type CameraMetrics } from './metrics.ts';
import { cameraErrors } from './sources/types.ts';
import { createCameraTree, workerId } from './supervision.ts';
import { DISCOVERED, createDiscoveredPoller, discoveredConfig, discoveredWorker, type DiscoveredOptions, type DiscoveredPoller } from './discovered.ts';
import { registerInnerTreeRoutes } from 'edgevisor';

/** A camera controller, built but not listening. main.ts (or a test) listens and starts it. */
export interface CameraApp extends AppServer {
  cameras: ReadonlyMap<string, CameraRuntime>;
  metrics: CameraMetrics;
  tree: Tree;
  /** The poller of the onvif service's cameras (with `discovery`; discovered.ts). */
  discovery?: DiscoveredPoller;
  /** Starts every camera worker. */
  start(): Promise<void>;
  /** Closes the HTTP server (ending MJPEG streams) and stops every worker (ffmpeg included). */
  stop(): Promise<void>;
}

/** The longest `wait` a frame.jpg long-poll may ask for. */
const MAX_WAIT_MS = 30_000;
const BOUNDARY = 'edgevisorframe';
/** Event-loop delay sampling interval of the process metrics (see buildCameraApp). */
const EVENT_LOOP_SAMPLE_MS = 1000;

/** Frame rings for detect cameras: written into `dir`; `perRun`: the directory is ours alone (removed at stop). */
export interface FramesOptions { dir: string; perRun?: boolean; log?: (line: string) => void }

/** Runtime failpoints (apps/common/src/failpoints.ts; tests only): on, and where the crash-at-start marker goes. */
export interface CameraFailpointsOptions { enabled: boolean; dataDir?: string }

/**
 * camerasFileWarning: what is wrong with the cameras file that the app cannot fix (cameras-file-mode.ts),
 * reported by /healthz as the `cameras_file` warning (status degraded, still 200).
 */
export function buildCameraApp(opts: { cameras: readonly CameraConfig[]; failpoint?: Failpoint; frames?: FramesOptions; failpoints?: CameraFailpointsOptions; discovery?: DiscoveredOptions; camerasFileWarning?: string }): CameraApp {
  // Node process metrics with a coarser event-loop-delay sampler: prom-client's default (10 ms)
  // wakes the loop 100 times a second, about 6 ms of CPU per second on this class of machine,
  // a third of what the controller cost per camera before. Once a second still catches every
  // stall long enough to matter (a frame interval is 33-200 ms; the heartbeat timeout is >= 3 s).
  const server = createAppServer({ name: 'camera', processMetrics: false });
  const { app, registry } = server;
  const failpoints = installFailpoints(server, { enabled: opts.failpoints?.enabled ?? false, app: 'camera', custom: ['stop-frames'], ...(opts.failpoints?.dataDir ? { dataDir: opts.failpoints.dataDir } : {}) });
  const framesStopped = () => failpoints.armed('stop-frames');
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const metrics = createCameraMetrics(registry, opts.cameras.map((c) => c.id));
  const cameras = new Map(opts.cameras.map((c) => [c.id, new CameraRuntime(c)]));
  // Each camera runtime's ring token (CameraRuntime.ringToken) is in its ring's header and in
  // GET /cameras: a reader can tell our ring from a stale or foreign file of the same name, and
  // a stream that began again from one that went on.
  const ring: RingOptions | undefined = opts.frames ? { dir: opts.frames.dir, log: redactingLog(opts.frames.log) } : undefined;
  const makeWorker = (cam: CameraRuntime) => createCameraWorker(cam, metrics, { failpoint: opts.failpoint, framesStopped, ...(ring ? { ring } : {}) });
  const tree = createCameraTree([...cameras.values()].map((cam) => ({
    cameraId: cam.config.id,
    run: makeWorker(cam),
  })), opts.discovery ? { run: discoveredWorker(cameras, makeWorker, discoveredConfig(DISCOVERED, opts.discovery.onvifUrl, opts.discovery.config)) } : undefined);
  // Cameras the onvif service finds get a worker in this running tree, and lose it when the
  // service forgets them (discovered.ts). Once its worker stopped, a removed detect camera's frame
  // ring goes with it, and so do its metric series (metrics.ts).
  const forget = (id: string) => {
    metrics.forget(id).catch((err: unknown) => redactingLog()(`camera ${id}: its worker is gone, but removing its metric series failed: ${(err as Error).message}`));
    if (ring) rmSync(ringPath(ring.dir, id), { force: true });
  };
  const discovered = opts.discovery ? createDiscoveredPoller(tree, cameras, { log: redactingLog(), forget, ...opts.discovery }) : undefined;
  if (discovered) {
    // Is the poller working, and what does it get: whole lists, partial ones (the service just
    // started), none (service down, an error, a body that is not a list).
    new Counter({
      name: 'camera_discovery_polls_total', help: 'Polls of the onvif service\'s camera list (ONVIF_ADOPT), by result: whole, partial, failed', labelNames: ['result'], registers: [registry],
      collect() {
        const s = discovered.stats();
        this.reset();
        this.inc({ result: 'whole' }, s.listed - s.partial);
        this.inc({ result: 'partial' }, s.partial);
        this.inc({ result: 'failed' }, s.failed);
      },
    });
  }
  // Restarts of a camera's worker, by cause: a broken deadline is a stall (the worker neither
  // delivered nor retried in time), like Frigate's watchdog restarts of a stalled ffmpeg.
  // Each event of a camera's worker is a line with child = the camera id.
  const log = processLogger();
  tree.onEvent((e) => {
    const change = e.from || e.to ? `${e.from ?? '?'} -> ${e.to ?? '?'}: ` : '';
    log[e.type === 'restart' || e.to === 'failed' || e.to === 'backoff' ? 'warn' : 'info']({ child: e.child, event: e.type, seq: e.seq }, `${e.type}: ${change}${e.reason}`);
    const restart = e.type === 'restart' || (e.type === 'manual' && e.data?.['action'] === 'restart');
    const cam = restart ? cameras.get(e.child) : undefined;
    if (!cam) return;
    cam.restarts.add(e.ts);
    if (e.data?.['cause'] === 'deadline' || e.data?.['cause'] === 'heartbeat') cam.stalls.add(e.ts);
  });
  // The supervisor merges this tree under the camera child (inner_tree): GET /v1/tree, /v1/events,
  // POST /v1/children/:id/restart|stop|start. Each worker's own state (connecting, streaming,
  // reconnecting) is in its node as workerState, its events as worker_state.
  // POST /v1/children and DELETE /v1/children/:id too: a discovered camera added or deleted by hand (discovered.ts).
  const innerRoutes = registerInnerTreeRoutes(app, tree, discovered ? { children: discovered.children } : {});
  // One camera down is the camera's problem (shown in /cameras and metrics), not the process's:
  // failing /healthz for it would get every camera restarted by the outer supervisor.
  server.addHealthCheck('workers', () => {
    const s = tree.snapshot().state;
    if (s === 'failed' || s === 'gave_up') throw new Error(`camera supervision tree is ${s}`);
  });
  const fileWarning = opts.camerasFileWarning;
  if (fileWarning) server.addHealthCheck('cameras_file', () => fileWarning);

  const stopping = new AbortController();

  app.get('/cameras', async () => ({
    // False while this list may lack cameras the controller will have: with ONVIF_ADOPT, until
    // its first whole camera list from the onvif service since it started (a restarted
    // controller listens before it has adopted them again; a partial list may lack some).
    // Readers that follow the list (inference) add cameras from such an answer but remove none.
    complete: !discovered || discovered.stats().listed > discovered.stats().partial,
    cameras: [...cameras.values()].map((cam) => {
      const f = cam.frames.latest();
      const now = Date.now();
      const hourAgo = now - 3_600_000;
      const worker = tree.child(workerId(cam.config.id));
      return {
        id: cam.config.id,
        source: cam.config.source.kind,
        // Adopted from the onvif service (ONVIF_ADOPT), not in the cameras file.
        discovered: worker?.parent === DISCOVERED,
        state: cam.state(),
        fps: cam.measuredFps(),
        targetFps: cam.config.fps,
        width: cam.config.width,
        height: cam.config.height,
        detect: cam.config.detect ? { width: cam.config.detect.width, height: cam.config.detect.height, format: 'rgb24' } : null,
        // The frame ring (shared-memory file) of a detect camera: its file name and this run's
        // token, never the directory (no server path in an answer). A reader opens the file in its
        // own FRAMES_DIR, the same directory or volume given to both apps.
        ring: cam.config.detect && ring ? { file: ringFileName(cam.config.id), token: cam.ringToken } : null,
        seq: f?.seq ?? 0,
        lastFrameAt: f ? new Date(f.ts).toISOString() : null,
        workerRuns: cam.runs,
        // Per-camera stats for the dashboard (Frigate's camera stats): configured and measured fps,
        // counts over the last hour (bounded rings: at most 1024 each), the frame's age.
        expectedFps: cam.config.fps,
        cameraFps: cam.measuredFps(now),
        framesTotal: cam.framesTotal,
        lastFrameAgeMs: f ? now - f.ts : null,
        reconnectsLastHour: cam.reconnects.countSince(hourAgo),
        stallsLastHour: cam.stalls.countSince(hourAgo),
        restartsLastHour: cam.restarts.countSince(hourAgo),
        worker: worker
          ? { id: worker.id, state: worker.state, since: worker.since, restarts: worker.restarts, lastRestartReason: worker.lastRestartReason, lastRestartAt: worker.lastRestartAt }
          : null,
        lastError: cam.lastError ? { code: cam.lastError.code, message: cam.lastError.message, at: new Date(cam.lastError.at).toISOString() } : null,
      };
    }),
  }));

  type FrameRequest = FastifyRequest<{ Params: { id: string }; Querystring: { after?: string; wait?: string } }>;

  /**
   * The frame a frame.jpg / frame.rgb request asks for (newest, or long-poll with after/wait), or
   * undefined when the reply has already been sent (an error, or 204 when the wait ran out).
   */
  const frameFor = async (req: FrameRequest, reply: FastifyReply, cam: CameraRuntime): Promise<Frame | undefined> => {
    const after = req.query.after === undefined ? undefined : Number(req.query.after);
    const wait = req.query.wait === undefined ? 0 : Number(req.query.wait);
    if ((after !== undefined && !Number.isInteger(after)) || !Number.isFinite(wait) || wait < 0 || wait > MAX_WAIT_MS) {
      sendError(reply, 400, 'CAMERA_ERR_BAD_QUERY', `expected after=<integer seq> and wait=<0..${MAX_WAIT_MS} ms>, got after=${req.query.after ?? ''} wait=${req.query.wait ?? ''}`);
      return undefined;
    }
    let frame: Frame | undefined;
    if (after === undefined) {
      frame = cam.frames.latest() ?? (wait > 0 ? await cam.frames.next(0, wait, stopping.signal) : undefined);
    } else {
      frame = await cam.frames.next(after, wait, stopping.signal);
      // A long-poll that timed out is not an error: there is simply no newer frame yet.
      if (!frame && cam.frames.latest()) {
        reply.code(204).header('x-frame-seq', String(cam.frames.latest()!.seq)).send();
        return undefined;
      }
    }
    if (!frame) sendError(reply, 503, cameraErrors.NO_FRAME, `camera "${cam.config.id}" has no frame yet (state ${cam.state()}${cam.lastError ? `: ${cam.lastError.message}` : ''})`);
    return frame;
  };
  const cameraFor = (req: FrameRequest, reply: FastifyReply): CameraRuntime | undefined => {
    const cam = cameras.get(req.params.id);
    if (!cam) sendError(reply, 404, cameraErrors.UNKNOWN_CAMERA, `no camera "${req.params.id}"; known: ${[...cameras.keys()].join(', ')}`);
    return cam;
  };

  app.get('/cameras/:id/frame.jpg', async (req: FrameRequest, reply) => {
    const cam = cameraFor(req, reply);
    const frame = cam && (await frameFor(req, reply, cam));
    if (!frame) return reply;
    return reply
      .header('content-type', 'image/jpeg')
      .header('cache-control', 'no-store')
      .header('x-frame-seq', String(frame.seq))
      .header('x-frame-ts', String(frame.ts))
      .send(frame.jpeg);
  });

  // The raw detect frame of the same seq: width * height * 3 bytes of RGB24, the full frame
  // letterboxed into it. X-Letterbox-* map detect pixels back to the frame:
  // frame_x = (x - pad_x) / scale, over X-Frame-Width (the JPEG's width).
  app.get('/cameras/:id/frame.rgb', async (req: FrameRequest, reply) => {
    const cam = cameraFor(req, reply);
    if (!cam) return reply;
    if (!cam.config.detect) {
      return sendError(reply, 404, cameraErrors.NO_DETECT, `camera "${cam.config.id}" has no detect size, so no raw frames: add detect: { width, height } to it in the cameras file (or use frame.jpg)`);
    }
    const frame = await frameFor(req, reply, cam);
    if (!frame) return reply;
    if (!frame.raw) return sendError(reply, 503, cameraErrors.NO_FRAME, `camera "${cam.config.id}" has no raw frame for seq ${frame.seq} yet`);
    const g = frame.raw.geometry;
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', 'no-store')
      .header('x-frame-seq', String(frame.seq))
      .header('x-frame-ts', String(frame.ts))
      .header('x-frame-format', 'rgb24')
      .header('x-detect-width', String(g.width))
      .header('x-detect-height', String(g.height))
      .header('x-frame-width', String(g.frameWidth))
      .header('x-frame-height', String(g.frameHeight))
      .header('x-letterbox-scale', String(g.scale))
      .header('x-letterbox-pad-x', String(g.padX))
      .header('x-letterbox-pad-y', String(g.padY))
      .send(frame.raw.data);
  });

  app.get<{ Params: { id: string } }>('/cameras/:id/stream.mjpeg', async (req, reply) => {
    const cam = cameras.get(req.params.id);
    if (!cam) return sendError(reply, 404, cameraErrors.UNKNOWN_CAMERA, `no camera "${req.params.id}"; known: ${[...cameras.keys()].join(', ')}`);
    reply.hijack();
    streamMjpeg(reply.raw, cam, metrics, stopping.signal);
  });

  return {
    ...server,
    cameras,
    metrics,
    tree,
    ...(discovered ? { discovery: discovered } : {}),
    async start() {
      if (opts.frames) prepareFramesDir(opts.frames.dir, opts.frames.perRun ?? false);
      await tree.start();
      discovered?.start();
    },
    async stop() {
      discovered?.stop();
      stopping.abort();
      innerRoutes.close();
      await app.close();
      await tree.stop();
      if (opts.frames?.perRun) removeFramesDir(opts.frames.dir);
    },
  };
}

/**
 * Serves one MJPEG client. Latest-frame semantics: a frame is written only when the socket has
 * taken the previous one (no pending 'drain'); otherwise the client is marked behind and gets the
 * newest frame at the next 'drain'. So a slow client holds at most one frame in its buffers and
 * never slows the camera or other clients.
 */
function streamMjpeg(res: ServerResponse, cam: CameraRuntime, metrics: CameraMetrics, stopping: AbortSignal): void {
  const labels = { camera: cam.config.id };
  res.writeHead(200, {
    'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
    'cache-control': 'no-store',
    connection: 'close',
  });
  // Headers go out now: for a camera without a frame yet the client would otherwise wait for them
  // until the first frame (forever for a camera that never connects) and could not tell.
  res.flushHeaders();
  metrics.streamClients.inc(labels);
  let behind = false;
  let lastSent = 0;
  const write = (f: Frame) => {
    if (res.writableEnded || res.destroyed) return;
    lastSent = f.seq;
    res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.jpeg.length}\r\nX-Frame-Seq: ${f.seq}\r\n\r\n`);
    res.write(f.jpeg);
    res.write('\r\n');
  };
  const onFrame = (f: Frame) => {
    if (res.writableNeedDrain) {
      if (behind) metrics.streamSkipped.inc(labels);
      behind = true;
      return;
    }
    write(f);
  };
  const onDrain = () => {
    const f = cam.frames.latest();
    if (behind && f && f.seq > lastSent) write(f);
    behind = false;
  };
  const unsubscribe = cam.frames.subscribe(onFrame);
  res.on('drain', onDrain);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    res.off('drain', onDrain);
    stopping.removeEventListener('abort', onStop);
    metrics.streamClients.dec(labels);
  };
  const onStop = () => { end(); res.end(); };
  stopping.addEventListener('abort', onStop, { once: true });
  res.once('close', end);
  const first = cam.frames.latest();
  if (first) write(first);
}
