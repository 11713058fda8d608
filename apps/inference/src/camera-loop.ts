/**
 * Pulls frames of one camera from the camera controller and runs them, always the newest:
 * GET {cameraUrl}/cameras/:id/frame.jpg?after=SEQ&wait=MS long-polls for the next frame after the
 * last one we ran. Frames the camera produced meanwhile are never queued; the seq gap says how many
 * we skipped (inference_dropped_frames_total).
 */
import type { Pipeline } from './pipeline.ts';
import type { InferenceMetrics } from './metrics.ts';

export interface CameraLoopOptions {
  cameraUrl: string;
  camera: string;
  pipeline: Pipeline;
  metrics: InferenceMetrics;
  waitMs: number;
  signal: AbortSignal;
  log?: (line: string) => void;
}

/** Runs until `signal` aborts. Never throws: fetch and model errors are counted and retried with backoff. */
export async function runCameraLoop(o: CameraLoopOptions): Promise<void> {
  const log = o.log ?? ((l: string) => console.error(l));
  let lastSeq = -1;
  let backoffMs = 250;
  let lastError = '';
  while (!o.signal.aborted) {
    try {
      const url = `${o.cameraUrl}/cameras/${encodeURIComponent(o.camera)}/frame.jpg?after=${lastSeq}&wait=${o.waitMs}`;
      const res = await fetch(url, { signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.waitMs + 5000)]) });
      if (res.status !== 200) {
        await res.body?.cancel();
        // 204/503/504 after the wait: no newer frame yet. Anything else is worth a line, once.
        if (res.status !== 204 && res.status !== 503 && res.status !== 504) throw new Error(`GET ${url}: HTTP ${res.status}`);
        continue;
      }
      const seq = Number(res.headers.get('x-frame-seq') ?? NaN);
      const tsHeader = Number(res.headers.get('x-frame-ts') ?? NaN);
      const jpeg = Buffer.from(await res.arrayBuffer());
      if (Number.isFinite(seq)) {
        if (lastSeq >= 0 && seq < lastSeq) {
          // The camera worker restarted and its seq began again: a new stream, a new background.
          o.pipeline.resetCamera(o.camera);
        } else if (lastSeq >= 0 && seq > lastSeq + 1) {
          o.metrics.dropped.inc({ camera: o.camera }, seq - lastSeq - 1);
        }
        lastSeq = seq;
      }
      // X-Frame-Ts may be ms or seconds; dwell timing should follow capture time either way.
      const ts = Number.isFinite(tsHeader) ? (tsHeader < 1e11 ? tsHeader * 1000 : tsHeader) : Date.now();
      await o.pipeline.processFrame(o.camera, jpeg, Math.round(ts));
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

/** Camera ids from GET {cameraUrl}/cameras: accepts ["a"], [{id:"a"}] or {cameras: [...]}. */
export async function listCameras(cameraUrl: string, timeoutMs = 3000): Promise<string[]> {
  const res = await fetch(`${cameraUrl}/cameras`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${cameraUrl}/cameras: HTTP ${res.status}`);
  const body = (await res.json()) as unknown;
  const arr = Array.isArray(body) ? body : ((body as { cameras?: unknown[] })?.cameras ?? []);
  return arr.map((c) => (typeof c === 'string' ? c : String((c as { id?: unknown }).id))).filter((id) => id && id !== 'undefined');
}
