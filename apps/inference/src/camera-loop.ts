/**
 * Pulls frames of one camera from the camera controller and runs them, always the newest:
 * GET {cameraUrl}/cameras/:id/frame.rgb (or frame.jpg)?after=SEQ&wait=MS long-polls for the next
 * frame after the last one we ran. Frames the camera produced meanwhile are never queued; the seq
 * gap says how many we skipped (inference_dropped_frames_total).
 *
 * Which endpoint: frame.rgb when the camera offers raw detect frames of exactly the model's input
 * size (GET /cameras says `detect`): the camera decoded and letterboxed the frame once, and the
 * bytes go to the model as they are. Otherwise frame.jpg, decoded here with sharp (the fallback).
 */
import type { Pipeline } from './pipeline.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { FrameInput, RawFrame } from './model/types.ts';

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
  log?: (line: string) => void;
}

/** How frames are fetched: raw detect frames at model size, or JPEGs decoded here. */
export type FrameMode = 'rgb' | 'jpeg';

/** Runs until `signal` aborts. Never throws: fetch and model errors are counted and retried with backoff. */
export async function runCameraLoop(o: CameraLoopOptions): Promise<void> {
  const log = o.log ?? ((l: string) => console.error(l));
  const cam = `${o.cameraUrl}/cameras/${encodeURIComponent(o.camera)}`;
  let lastSeq = -1;
  let backoffMs = 250;
  let lastError = '';
  let mode: FrameMode | undefined;
  while (!o.signal.aborted) {
    try {
      if (!mode) {
        const detect = (await describeCameras(o.cameraUrl)).find((c) => c.id === o.camera)?.detect ?? null;
        mode = detect && detect.width === o.inputWidth && detect.height === o.inputHeight ? 'rgb' : 'jpeg';
        log(`inference camera ${o.camera}: ${mode === 'rgb'
          ? `raw ${o.inputWidth}x${o.inputHeight} detect frames (frame.rgb)`
          : `JPEG frames decoded here (camera detect size ${detect ? `${detect.width}x${detect.height}` : 'not set'}, model ${o.inputWidth}x${o.inputHeight})`}`);
      }
      const url = `${cam}/frame.${mode === 'rgb' ? 'rgb' : 'jpg'}?after=${lastSeq}&wait=${o.waitMs}`;
      const res = await fetch(url, { signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.waitMs + 5000)]) });
      if (res.status !== 200) {
        const body = await res.text().catch(() => '');
        // The camera was reconfigured without detect (or restarted so): ask again which endpoint.
        if (res.status === 404 && mode === 'rgb' && body.includes('CAMERA_ERR_NO_DETECT')) { mode = undefined; continue; }
        // 204/503/504 after the wait: no newer frame yet. Anything else is worth a line, once.
        if (res.status !== 204 && res.status !== 503 && res.status !== 504) throw new Error(`GET ${url}: HTTP ${res.status}`);
        continue;
      }
      const seq = Number(res.headers.get('x-frame-seq') ?? NaN);
      const tsHeader = Number(res.headers.get('x-frame-ts') ?? NaN);
      const body = Buffer.from(await res.arrayBuffer());
      if (Number.isFinite(seq)) {
        if (lastSeq >= 0 && seq < lastSeq) {
          // The controller restarted and its seq began again: a new stream, a new background, and
          // maybe a new detect size (asked again before the next frame).
          o.pipeline.resetCamera(o.camera);
          mode = undefined;
        } else if (lastSeq >= 0 && seq > lastSeq + 1) {
          o.metrics.dropped.inc({ camera: o.camera }, seq - lastSeq - 1);
        }
        lastSeq = seq;
      }
      const frame: FrameInput = mode === 'rgb' ? rawFrameOf(res.headers, body, () => sameFrameJpeg(cam, seq)) : body;
      // X-Frame-Ts may be ms or seconds; dwell timing should follow capture time either way.
      const ts = Number.isFinite(tsHeader) ? (tsHeader < 1e11 ? tsHeader * 1000 : tsHeader) : Date.now();
      await o.pipeline.processFrame(o.camera, frame, Math.round(ts));
      backoffMs = 250;
      lastError = '';
    } catch (err) {
      if (o.signal.aborted) break;
      o.metrics.errors.inc({ camera: o.camera });
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== lastError) log(`inference camera ${o.camera}: ${msg} (retrying)`);
      lastError = msg;
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 5000);
    }
  }
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

/** One camera as GET /cameras describes it: its id and its raw detect size, if any. */
export interface CameraInfo { id: string; detect: { width: number; height: number } | null }

/** Cameras from GET {cameraUrl}/cameras: accepts ["a"], [{id:"a", detect?}] or {cameras: [...]}. */
export async function describeCameras(cameraUrl: string, timeoutMs = 3000): Promise<CameraInfo[]> {
  const res = await fetch(`${cameraUrl}/cameras`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${cameraUrl}/cameras: HTTP ${res.status}`);
  const body = (await res.json()) as unknown;
  const arr = Array.isArray(body) ? body : ((body as { cameras?: unknown[] })?.cameras ?? []);
  return arr.map((c): CameraInfo => {
    if (typeof c === 'string') return { id: c, detect: null };
    const { id, detect } = c as { id?: unknown; detect?: { width?: unknown; height?: unknown } | null };
    const ok = detect && Number.isInteger(detect.width) && Number.isInteger(detect.height);
    return { id: String(id), detect: ok ? { width: detect.width as number, height: detect.height as number } : null };
  }).filter((c) => c.id && c.id !== 'undefined');
}

/** Camera ids from GET {cameraUrl}/cameras. */
export async function listCameras(cameraUrl: string, timeoutMs = 3000): Promise<string[]> {
  return (await describeCameras(cameraUrl, timeoutMs)).map((c) => c.id);
}
