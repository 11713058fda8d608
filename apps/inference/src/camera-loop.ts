/**
 * Pulls frames of one camera from the camera controller and runs them, always the newest. Frames
 * the camera produced meanwhile are never queued; the seq gap says how many we skipped
 * (inference_dropped_frames_total). Three ways, best first:
 *
 * - ring: the camera's frame ring file (shared memory, apps/camera/src/frame-ring.ts), when
 *   GET /cameras names one (file name and token: the controller never says where it writes), it
 *   exists in our own frames directory (FRAMES_DIR: the directory or volume both apps are given;
 *   unset: no ring) and its frames are the model's input size. No HTTP per frame:
 *   one look at the header when a frame is due (a load when mapped, else a pread), one copy of the
 *   pixels into our own buffer.
 * - rgb: GET .../frame.rgb?after=SEQ&wait=MS long-polls (raw detect frames at the model size).
 * - jpeg: GET .../frame.jpg long-polls, decoded here with sharp (cameras without detect).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deadline, lineLogger, processLogger } from '../../common/src/index.ts';
import { openRingReader, type RingFrame, type RingReader } from '../../camera/src/frame-ring.ts';
import type { Pipeline } from './pipeline.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { FrameInput, RawFrame } from './model/types.ts';
import { waitRingFrame } from './ring-wait.ts';
import { ringPathIn, RING_NAME_REFUSED } from './ring-path.ts';
import type { CameraListing } from './camera-follow.ts';

export interface CameraLoopOptions {
  cameraUrl: string;
  camera: string;
  pipeline: Pipeline;
  metrics: InferenceMetrics;
  waitMs: number;
  signal: AbortSignal;
  /** The detector's input size: raw frames are used only when the camera's detect size equals it. */
  inputWidth: number;
  inputHeight: number;
  /** Where the camera writes its frame rings, as this process sees it (FRAMES_DIR; undefined: no ring). */
  framesDir?: string;
  log?: (line: string) => void;
}

/** How frames are fetched: the shared-memory ring, raw frames over HTTP, or JPEGs decoded here. */
export type FrameMode = 'ring' | 'rgb' | 'jpeg';
export const FRAME_MODES: readonly FrameMode[] = ['ring', 'rgb', 'jpeg'];

/** After falling back from a ring that could not be opened, look again this often. */
const RING_RETRY_MS = 30_000;

/** Runs until `signal` aborts. Never throws: fetch and model errors are counted and retried with backoff. */
export async function runCameraLoop(o: CameraLoopOptions): Promise<void> {
  const log = o.log ?? lineLogger(processLogger());
  const cam = `${o.cameraUrl}/cameras/${encodeURIComponent(o.camera)}`;
  let lastSeq = -1;
  let backoffMs = 250;
  let lastError = '';
  let mode: FrameMode | undefined;
  let loggedMode = '';
  let ring: RingReader | undefined;
  let ringRetryAt = Infinity;
  let ringToken: number | undefined;
  let intervalMs = 200;
  let lastReadAt: number | undefined;
  const closeRing = () => { ring?.close(); ring = undefined; };

  const choose = async () => {
    closeRing();
    const info = (await describeCameras(o.cameraUrl)).find((c) => c.id === o.camera);
    const detect = info?.detect ?? null;
    intervalMs = 1000 / (info?.targetFps && info.targetFps > 0 ? info.targetFps : 5);
    ringRetryAt = Infinity;
    let why = '';
    if (detect && detect.width === o.inputWidth && detect.height === o.inputHeight) {
      mode = 'rgb';
      if (info?.ring && !o.framesDir) {
        why = 'no FRAMES_DIR: set it to the directory the camera app writes its frame rings in';
      } else if (info?.ring && o.framesDir) {
        let path = '';
        try {
          path = ringPathIn(o.framesDir, info.ring.file);
          ring = openRingReader(path, { width: o.inputWidth, height: o.inputHeight, token: info.ring.token });
          mode = 'ring';
          // The file name only: no server path in a log line.
          why = `${info.ring.file} in FRAMES_DIR`;
          // Another camera runtime (the controller restarted, or the camera was deleted and added
          // again, however far its new stream got meanwhile): its seq began again at 1.
          if (ringToken !== undefined && ring.token !== ringToken && lastSeq >= 0) {
            log(`inference camera ${o.camera}: its frame ring is a new stream (after seq ${lastSeq}): started clean`);
            o.pipeline.resetCamera(o.camera);
            lastSeq = -1;
            lastReadAt = undefined;
          }
          ringToken = ring.token;
        } catch (err) {
          const msg = (err as Error).message;
          why = (err as { code?: string }).code === RING_NAME_REFUSED ? msg : `ring unusable: ${path ? msg.replaceAll(path, info.ring.file).replaceAll(o.framesDir, 'FRAMES_DIR') : msg}`;
          ringRetryAt = Date.now() + RING_RETRY_MS;
        }
      } else {
        why = 'camera offers no frame ring';
      }
    } else {
      mode = 'jpeg';
    }
    for (const m of FRAME_MODES) o.metrics.framePath.set({ camera: o.camera, path: m }, m === mode ? 1 : 0);
    const line = mode === 'ring'
      ? `raw ${o.inputWidth}x${o.inputHeight} detect frames through the frame ring (${why}, ${ring!.access})`
      : mode === 'rgb'
        ? `raw ${o.inputWidth}x${o.inputHeight} detect frames (frame.rgb; ${why})`
        : `JPEG frames decoded here (camera detect size ${detect ? `${detect.width}x${detect.height}` : 'not set'}, model ${o.inputWidth}x${o.inputHeight})`;
    // Once per path: a camera restart re-asks, but logs only if the path changed.
    if (line !== loggedMode) log(`inference camera ${o.camera}: ${line}`);
    loggedMode = line;
  };

  while (!o.signal.aborted) {
    try {
      if (mode === 'rgb' && Date.now() >= ringRetryAt) mode = undefined;
      if (!mode) await choose();
      let seq: number;
      let ts: number;
      let frame: FrameInput;
      if (mode === 'ring') {
        const got = await waitRingFrame(ring!, { after: lastSeq, lastReadAt, intervalMs, waitMs: o.waitMs, signal: o.signal });
        // Replaced or gone: the camera worker or the controller restarted; ask again, reopen.
        if (got === 'replaced') { mode = undefined; continue; }
        // No frame within the wait: like the long-poll's 204, not an error.
        if (!got) continue;
        lastReadAt = performance.now();
        seq = got.seq;
        ts = got.ts;
        const s = seq;
        frame = rawFrameOfRing(got, () => sameFrameJpeg(cam, s));
      } else {
        const path = `/cameras/${encodeURIComponent(o.camera)}/frame.${mode === 'rgb' ? 'rgb' : 'jpg'}`;
        const url = `${o.cameraUrl}${path}?after=${lastSeq}&wait=${o.waitMs}`;
        // The camera answers within waitMs; 5 s more is a hung camera app. A held timer, not
        // AbortSignal.timeout (apps/common/src/deadline.ts says why).
        const dl = deadline(o.waitMs + 5000, o.signal);
        try {
          const res = await fetch(url, { signal: dl.signal });
          if (res.status !== 200) {
            const body = await res.text().catch(() => '');
            // The camera was reconfigured without detect (or restarted so): ask again which endpoint.
            if (res.status === 404 && mode === 'rgb' && body.includes('CAMERA_ERR_NO_DETECT')) { mode = undefined; continue; }
            // 204/503/504 after the wait: no newer frame yet. Anything else is worth a line, once.
            // The path only: no URL in a log line (CAMERA_URL may carry credentials).
            if (res.status !== 204 && res.status !== 503 && res.status !== 504) throw new Error(`GET ${path}: HTTP ${res.status}`);
            continue;
          }
          seq = Number(res.headers.get('x-frame-seq') ?? NaN);
          const tsHeader = Number(res.headers.get('x-frame-ts') ?? NaN);
          // X-Frame-Ts may be ms or seconds; dwell timing should follow capture time either way.
          ts = Number.isFinite(tsHeader) ? (tsHeader < 1e11 ? tsHeader * 1000 : tsHeader) : Date.now();
          const body = Buffer.from(await res.arrayBuffer());
          const s = seq;
          frame = mode === 'rgb' ? rawFrameOf(res.headers, body, () => sameFrameJpeg(cam, s)) : body;
        } finally {
          dl.clear();
        }
      }
      if (Number.isFinite(seq)) {
        if (lastSeq >= 0 && seq < lastSeq) {
          // The controller restarted and its seq began again: a new stream, a new background, and
          // maybe a new detect size (asked again before the next frame).
          o.pipeline.resetCamera(o.camera);
          if (mode !== 'ring') mode = undefined;
        } else if (lastSeq >= 0 && seq > lastSeq + 1) {
          o.metrics.dropped.inc({ camera: o.camera }, seq - lastSeq - 1);
        }
        lastSeq = seq;
      }
      await o.pipeline.processFrame(o.camera, frame, Math.round(ts));
      backoffMs = 250;
      lastError = '';
    } catch (err) {
      if (o.signal.aborted) break;
      o.metrics.errors.inc({ camera: o.camera });
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== lastError) log(`inference camera ${o.camera}: ${msg} (retrying)`);
      lastError = msg;
      // Ask again which path after an error (the camera may have restarted elsewhere).
      mode = undefined;
      // Abortable: a loop told to stop (its camera left the list, or the app closes) ends now.
      await sleep(backoffMs, undefined, { signal: o.signal }).catch(() => undefined);
      backoffMs = Math.min(backoffMs * 2, 5000);
    }
  }
  closeRing();
}

/** A RawFrame from a frame copied out of the ring (its letterbox geometry is in the slot header). */
export function rawFrameOfRing(got: RingFrame, jpeg?: () => Promise<Buffer | undefined>): RawFrame {
  const g = got.geometry;
  return {
    kind: 'raw', data: got.data, width: g.width, height: g.height,
    letterbox: { frameWidth: g.frameWidth, frameHeight: g.frameHeight, scale: g.scale, padX: g.padX, padY: g.padY, inputWidth: g.width, inputHeight: g.height },
    ...(jpeg ? { jpeg } : {}),
  };
}

/** A RawFrame from a frame.rgb answer (headers documented in apps/camera/README.md). */
export function rawFrameOf(h: Headers, data: Buffer, jpeg?: () => Promise<Buffer | undefined>): RawFrame {
  const num = (name: string) => {
    const v = Number(h.get(name) ?? NaN);
    if (!Number.isFinite(v)) throw new Error(`frame.rgb answer lacks a numeric ${name} header`);
    return v;
  };
  if ((h.get('x-frame-format') ?? '') !== 'rgb24') throw new Error(`frame.rgb format ${JSON.stringify(h.get('x-frame-format'))}, expected rgb24`);
  const width = num('x-detect-width');
  const height = num('x-detect-height');
  if (data.length !== width * height * 3) throw new Error(`frame.rgb has ${data.length} bytes, expected ${width}x${height}x3 = ${width * height * 3}`);
  return {
    kind: 'raw', data, width, height,
    letterbox: {
      frameWidth: num('x-frame-width'), frameHeight: num('x-frame-height'), scale: num('x-letterbox-scale'),
      padX: num('x-letterbox-pad-x'), padY: num('x-letterbox-pad-y'), inputWidth: width, inputHeight: height,
    },
    ...(jpeg ? { jpeg } : {}),
  };
}

/**
 * The camera's full-size JPEG of frame `seq`, if it is still the newest (the controller keeps only
 * the latest frame). Used only for event snapshots; otherwise undefined and the snapshot is made
 * from the raw frame.
 */
async function sameFrameJpeg(cam: string, seq: number): Promise<Buffer | undefined> {
  const res = await fetch(`${cam}/frame.jpg`, { signal: AbortSignal.timeout(2000) });
  if (res.status !== 200 || Number(res.headers.get('x-frame-seq')) !== seq) {
    await res.body?.cancel();
    return undefined;
  }
  return Buffer.from(await res.arrayBuffer());
}

/** One camera as GET /cameras describes it: its id, its raw detect size and frame ring, if any. */
export interface CameraInfo {
  id: string;
  detect: { width: number; height: number } | null;
  /** The camera's frame ring: its file name (checked when it is opened: ring-path.ts) and this run's token. */
  ring?: { file: string; token: number } | null;
  targetFps?: number;
}

/** Cameras from GET {cameraUrl}/cameras: accepts ["a"], [{id:"a", detect?}] or {cameras: [...]}. */
export async function describeCameras(cameraUrl: string, timeoutMs = 3000): Promise<CameraInfo[]> {
  const res = await fetch(`${cameraUrl}/cameras`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /cameras: HTTP ${res.status}`);
  return parseCameraList(await res.json()).cameras;
}

/**
 * A GET /cameras body: its cameras, and whether the list is complete (the controller's
 * `complete`; a body without it, e.g. a bare array, is complete). Throws when it is no camera list.
 */
export function parseCameraList(body: unknown): { cameras: CameraInfo[]; complete: boolean } {
  const list = Array.isArray(body) ? body : (body as { cameras?: unknown } | null)?.cameras;
  if (!Array.isArray(list)) throw new Error('the answer is not a camera list (expected { cameras: [...] })');
  const complete = Array.isArray(body) || (body as { complete?: unknown }).complete !== false;
  const cameras = list.map((c): CameraInfo => {
    if (typeof c === 'string') return { id: c, detect: null };
    const { id, detect, ring, targetFps } = (c ?? {}) as { id?: unknown; detect?: { width?: unknown; height?: unknown } | null; ring?: { file?: unknown; token?: unknown } | null; targetFps?: unknown };
    const ok = detect && Number.isInteger(detect.width) && Number.isInteger(detect.height);
    // The name is checked where it is joined to FRAMES_DIR (ringPathIn), so a refusal is logged.
    const ringOk = ring && typeof ring.file === 'string' && typeof ring.token === 'number';
    return {
      id: String(id),
      detect: ok ? { width: detect.width as number, height: detect.height as number } : null,
      ring: ringOk ? { file: ring.file as string, token: ring.token as number } : null,
      ...(typeof targetFps === 'number' ? { targetFps } : {}),
    };
  }).filter((c) => c.id && c.id !== 'undefined');
  return { cameras, complete };
}

/**
 * One read of GET {cameraUrl}/cameras for the follower (camera-follow.ts): ids and `complete`,
 * within `timeoutMs` (a held timer under `signal`: apps/common/src/deadline.ts). Its errors name
 * no URL (CAMERA_URL may carry credentials; the follower logs them).
 */
export async function readCameraList(cameraUrl: string, timeoutMs: number, signal: AbortSignal): Promise<CameraListing> {
  const dl = deadline(timeoutMs, signal);
  try {
    let res: Response;
    try {
      res = await fetch(`${cameraUrl}/cameras`, { signal: dl.signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Error(dl.expired() ? `the camera controller did not answer GET /cameras within ${timeoutMs} ms` : `the camera controller is unreachable${cause ? ` (${cause})` : ''}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`the camera controller answered GET /cameras with HTTP ${res.status}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new Error(dl.expired() ? `the camera controller did not finish its GET /cameras answer within ${timeoutMs} ms` : 'the camera controller\'s GET /cameras answer is not JSON');
    }
    const { cameras, complete } = parseCameraList(body);
    return { ids: cameras.map((c) => c.id), complete };
  } finally {
    dl.clear();
  }
}
