/**
 * The inference app, buildable in tests: HTTP (/healthz, /metrics, /events,
 * /events/:id/snapshot.jpg) plus one frame loop per camera. main.ts is the process around it.
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAppServer, installFailpoints, redactingLog, sendError } from '../../common/src/index.ts';
import type { InferenceConfig } from './config.ts';
import { loadDetector } from './model/load.ts';
import type { Detector } from './model/types.ts';
import { Gauge } from 'prom-client';
import { loadZones, unknownZoneCameras } from './zones/zones-file.ts';
import { readModelMetadata } from './model/onnx-proto.ts';
import { parseNames } from './model/yolo.ts';
import { openEventStore, type EventStore } from './events/store.ts';
import { createEventWriter, type EventWriter } from './events/writer.ts';
import { createMetrics } from './metrics.ts';
import { createPipeline, type Pipeline } from './pipeline.ts';
import { readCameraList, runCameraLoop } from './camera-loop.ts';
import { createCameraFollower, type CameraFollower, type LoopState } from './camera-follow.ts';
import { eventId, parseEventsQuery } from './events/query.ts';

export interface InferenceApp {
  app: ReturnType<typeof createAppServer>['app'];
  pipeline: Pipeline;
  store: EventStore;
  /** Snapshots + event rows, surviving a full data volume (state shown in /healthz `data`). */
  writer: EventWriter;
  /**
   * Starts the frame loops: the cameras of CAMERAS (fixed), else those of the camera controller's
   * GET /cameras, followed while the app runs (camera-follow.ts).
   */
  startLoops(): void;
  /** The cameras with a frame loop, and its state. */
  loops(): Map<string, LoopState>;
  /** Stops the loops, closes HTTP, the model and the store. Idempotent. */
  close(): Promise<void>;
}

/** One read of the camera controller's list may take this long (then it changes nothing). */
const LIST_TIMEOUT_MS = 3000;

export async function buildInferenceApp(cfg: Readonly<InferenceConfig>, opts: { detector?: Detector; log?: (l: string) => void } = {}): Promise<InferenceApp> {
  // Every line redacted (CAMERA_URL may carry credentials; fetch errors quote it).
  const log = redactingLog(opts.log);
  mkdirSync(cfg.dataDir, { recursive: true });
  const gate = cfg.motionGate ? { minIntervalMs: 1000 / cfg.detectFps, maxIntervalMs: cfg.detectMaxIntervalMs } : undefined;
  const detector = opts.detector ?? (await loadDetector({ path: cfg.model, threads: cfg.ortThreads, scoreThreshold: cfg.scoreThreshold, classes: cfg.classes, ...(gate ? { gate } : {}) }));
  // Zones are checked against what is known now: the cameras of CAMERAS and the model's classes
  // (a typo would silently disable a danger zone). Cameras from the controller are checked later.
  let zones: Awaited<ReturnType<typeof loadZones>>;
  try {
    zones = await loadZones(cfg.zonesFile, { ...(cfg.cameras.length ? { cameras: cfg.cameras } : {}), ...modelClasses(detector, cfg, !opts.detector) });
  } catch (err) {
    await detector.close();
    throw err;
  }
  const store = openEventStore(join(cfg.dataDir, 'events.db'));
  const snapDir = join(cfg.dataDir, 'snapshots');
  const { app, registry, addHealthCheck } = createAppServer({ name: 'inference' });
  // stuck: the next frame of every camera never finishes (as INFERENCE_FAILPOINT=hang, at run time).
  const failpoints = installFailpoints({ app }, { enabled: cfg.failpoints ?? false, app: 'inference', dataDir: cfg.dataDir, custom: ['stuck'], log });
  const metrics = createMetrics(registry);
  mkdirSync(snapDir, { recursive: true });
  const writer = createEventWriter({ store, snapDir, registry, log });
  const pipeline = createPipeline({ detector, zones, store, dataDir: cfg.dataDir, metrics, failpoint: cfg.failpoint, writer, stuck: () => failpoints.armed('stuck') });
  let zoneWarning: string | undefined;
  const unknownCameras = new Gauge({ name: 'inference_zones_unknown_cameras', help: 'Cameras named in the zones file that the camera controller does not have (their zones never see a frame)', registers: [registry] });
  unknownCameras.set(0);
  addHealthCheck('zones', () => zoneWarning);
  /** Cameras learned from the controller (each time they change): zones of any other camera are dead, loudly. */
  const checkZoneCameras = (ids: readonly string[]) => {
    const unknown = unknownZoneCameras(zones, ids);
    unknownCameras.set(unknown.length);
    const was = zoneWarning;
    zoneWarning = unknown.length ? `zones file names cameras the camera controller does not have: ${unknown.join(', ')} (known: ${ids.join(', ') || 'none'}); their zones are not watched` : undefined;
    if (zoneWarning && zoneWarning !== was) log(`inference: WARNING: ${zoneWarning}`);
    else if (was && !zoneWarning) log('inference: every camera the zones file names is known to the camera controller now');
  };
  const abort = new AbortController();
  /** CAMERAS: one loop per camera, for the app's life. */
  const fixedLoops = new Map<string, Promise<void>>();
  let follower: CameraFollower | undefined;

  // Liveness of the process and its store; frame flow is watched by the supervisor's
  // throughput/staleness probes on /metrics, which is where a stuck model shows.
  addHealthCheck('store', () => void store.since(Number.MAX_SAFE_INTEGER, 1));
  // A full or read-only data volume is a warning (degraded, 200; 503 with ?strict=1), not a
  // failure: restarting the app would not free space and would lose the events held in memory.
  addHealthCheck('data', () => {
    const s = writer.state();
    if (s.writable && !s.pendingEvents && !s.pendingSnapshots && !s.lost) return undefined;
    const parts = [`${s.pendingEvents} safety events and ${s.pendingSnapshots} snapshots waiting in memory`];
    if (s.lost) parts.push(`${s.lost} events lost since start`);
    return `${s.writable ? 'data volume writable again, catching up' : `data volume not writable (${s.lastError ?? 'unknown error'})`}: ${parts.join(', ')}`;
  });

  // For the web app and the vacuum. GET /events?since=ID[&limit=N] pages forward from a cursor
  // (an event's id); GET /events?latest=N gives the newest N; both oldest first, `last` is the
  // cursor to pass next. GET /events?camera=&zone=&cls=&from=&to=&pinned=&before=&limit= filters,
  // newest first (page on with before = the smallest id returned).
  app.get<{ Querystring: Record<string, string | undefined> }>('/events', async (req, reply) => {
    const q = parseEventsQuery(req.query);
    if ('error' in q) return sendError(reply, 400, 'INFERENCE_ERR_BAD_QUERY', q.error);
    if (q.mode === 'latest') {
      const events = store.latest(q.latest);
      return { events, last: events.at(-1)?.id ?? 0 };
    }
    if (q.mode === 'since') {
      const events = store.since(q.since, q.limit);
      return { events, last: events.at(-1)?.id ?? q.since };
    }
    const events = store.query(q.filter);
    return { events, next: events.length === q.filter.limit ? events.at(-1)!.id : null };
  });

  // The danger zones as loaded (polygons in normalized frame coordinates), for the dashboard to
  // draw over the live view. No file name or path in it.
  app.get('/zones', async () => ({
    cameras: Object.fromEntries(Object.entries(zones.cameras).map(([camera, c]) => [camera, { zones: c.zones.map((z) => ({ id: z.id, polygon: z.polygon, rules: z.rules.map((r) => ({ cls: r.cls, dwellMs: r.dwellMs })) })) }])),
  }));

  // Pins (an operator keeps an event for an investigation; the vacuum never deletes it).
  const pinRoute = (pinned: boolean) => async (req: { params: { id: string } }, reply: Parameters<typeof sendError>[0]) => {
    const id = eventId(req.params.id);
    if (id === undefined) return sendError(reply, 400, 'INFERENCE_ERR_BAD_QUERY', `id: expected an event id (integer >= 1), got ${JSON.stringify(req.params.id)}`);
    const ev = store.setPinned(id, pinned);
    if (!ev) return sendError(reply, 404, 'INFERENCE_ERR_NO_EVENT', `no safety event ${id}`);
    return ev;
  };
  app.put<{ Params: { id: string } }>('/events/:id/pin', pinRoute(true));
  app.delete<{ Params: { id: string } }>('/events/:id/pin', pinRoute(false));

  // An event's snapshot (the JPEG with boxes and zone drawn), by event id.
  app.get<{ Params: { id: string } }>('/events/:id/snapshot.jpg', async (req, reply) => {
    const id = eventId(req.params.id);
    if (id === undefined) return sendError(reply, 400, 'INFERENCE_ERR_BAD_QUERY', `id: expected an event id (integer >= 1), got ${JSON.stringify(req.params.id)}`);
    const ev = store.get(id);
    if (!ev) return sendError(reply, 404, 'INFERENCE_ERR_NO_EVENT', `no safety event ${id}`);
    if (!ev.snapshot) return sendError(reply, 404, 'INFERENCE_ERR_NO_SNAPSHOT', `event ${id} was stored without a snapshot${ev.snapshotError ? ` (${ev.snapshotError})` : ''}`);
    try {
      const jpeg = await readFile(join(snapDir, ev.snapshot));
      return reply.type('image/jpeg').header('cache-control', 'max-age=86400, immutable').send(jpeg);
    } catch {
      // Retention (the vacuum app) may have deleted it since.
      return sendError(reply, 404, 'INFERENCE_ERR_NO_SNAPSHOT', `event ${id}: its snapshot is gone (removed by retention)`);
    }
  });

  const runCamera = (camera: string, signal: AbortSignal) => {
    log(`inference: camera ${camera} (${detector.kind} model ${detector.inputWidth}x${detector.inputHeight})`);
    return runCameraLoop({ cameraUrl: cfg.cameraUrl, camera, pipeline, metrics, waitMs: cfg.frameWaitMs, signal, log, ...(cfg.framesDir ? { framesDir: cfg.framesDir } : {}), inputWidth: detector.inputWidth, inputHeight: detector.inputHeight });
  };

  let closing: Promise<void> | undefined;
  return {
    app, pipeline, store, writer,
    startLoops() {
      if (follower || fixedLoops.size) return;
      if (cfg.cameras.length) {
        for (const camera of cfg.cameras) fixedLoops.set(camera, runCamera(camera, abort.signal));
        metrics.cameraLoops.set(fixedLoops.size);
        return;
      }
      // Where it asks, for the log lines: the host only (CAMERA_URL may carry credentials).
      const where = `at ${new URL(cfg.cameraUrl).host}`;
      follower = createCameraFollower({
        list: async (signal) => {
          try {
            return await readCameraList(cfg.cameraUrl, LIST_TIMEOUT_MS, signal);
          } catch (err) {
            throw new Error(`${(err as Error).message} (${where})`);
          }
        },
        everyMs: cfg.cameraListIntervalMs,
        run: runCamera,
        // A camera that comes back starts clean: no model background, dwell episode or series of its last run.
        forget: async (camera) => {
          pipeline.resetCamera(camera);
          await metrics.forgetCamera(camera);
        },
        onCameras: checkZoneCameras,
        onList: (outcome, n) => {
          metrics.cameraLists.inc({ outcome });
          metrics.cameraLoops.set(n);
        },
        log,
        signal: abort.signal,
      });
    },
    loops: () => follower?.loops() ?? new Map([...fixedLoops.keys()].map((c) => [c, 'running' as const])),
    close() {
      closing ??= (async () => {
        abort.abort();
        await app.close();
        // A loop stuck in the hang failpoint never settles: do not wait for loops forever.
        await Promise.race([Promise.allSettled([...fixedLoops.values(), follower?.settled()]), new Promise((r) => setTimeout(r, 2000).unref())]);
        await detector.close();
        await writer.close();
        store.close();
      })();
      return closing;
    },
  };
}

/**
 * The classes the detector can report, to check zone rules against: motion reports "motion";
 * a YOLO file its metadata names (when it has them), narrowed by CLASSES. Unknown: not checked.
 */
function modelClasses(detector: Detector, cfg: Readonly<InferenceConfig>, fromFile: boolean): { classes?: readonly string[] } {
  const own = (detector as { classes?: readonly string[] }).classes;
  let names: readonly string[] | undefined = own ?? (detector.kind === 'motion' ? ['motion'] : undefined);
  if (!names && fromFile) {
    try { names = parseNames(readModelMetadata(cfg.model).names) ?? undefined; } catch { /* no metadata: not checked */ }
  }
  if (cfg.classes.length) names = names ? names.filter((n) => cfg.classes.includes(n)) : cfg.classes;
  return names ? { classes: names } : {};
}
