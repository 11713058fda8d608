/**
 * One frame through the whole chain: model -> zone rules -> snapshot + stored event -> metrics.
 * Transport-free: the camera loop feeds it frames from HTTP, tests feed it sharp-drawn frames.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { asFrame, type Detection, type Detector, type FrameInput, type JpegFrame, type RawFrame } from './model/types.ts';
import { createDwellState, updateDwell, type ZonesConfig } from './zones/dwell.ts';
import type { EventStore, SafetyEvent } from './events/store.ts';
import { decodeRgb, encodeSnapshot, rawPicture } from './events/snapshot.ts';
import { createEventWriter, type EventWriter } from './events/writer.ts';
import type { RgbImage } from './events/draw.ts';
import type { InferenceMetrics } from './metrics.ts';
import { createFailpointGate, type Failpoint } from './failpoint.ts';

export interface PipelineDeps {
  detector: Detector;
  zones: ZonesConfig;
  store: EventStore;
  /** Snapshots go to `${dataDir}/snapshots/`. */
  dataDir: string;
  metrics: InferenceMetrics;
  failpoint?: Failpoint | null;
  /** The runtime failpoint `stuck` (apps/common/src/failpoints.ts): when true, frames hang as with `hang`. */
  stuck?: () => boolean;
  now?: () => number;
  /** Stores events and snapshots, surviving a full disk (default: one of its own on `store`). */
  writer?: EventWriter;
}

export interface FrameResult { detections: Detection[]; events: SafetyEvent[] }

export interface Pipeline {
  /**
   * Runs one frame of `camera` (raw detect frame, or JPEG; a bare Buffer is a JPEG); `ts` is the
   * frame's capture time (unix ms; default now).
   */
  processFrame(camera: string, frame: FrameInput, ts?: number): Promise<FrameResult>;
  /** Forget a camera's model state and open episodes (its stream restarted). */
  resetCamera(camera: string): void;
}

/**
 * The pixels an event snapshot is drawn on: the JPEG frame decoded; for a raw frame the camera's
 * full-size JPEG of the same frame if it still has it, else the picture inside the raw frame (at
 * the detect resolution). Boxes are normalized to the full frame, so they fit either.
 */
async function snapshotPixels(frame: JpegFrame | RawFrame): Promise<RgbImage> {
  if (frame.kind === 'jpeg') return decodeRgb(frame.jpeg);
  const full = await frame.jpeg?.().catch(() => undefined);
  return full ? decodeRgb(full) : rawPicture(frame);
}

export function createPipeline(d: PipelineDeps): Pipeline {
  const now = d.now ?? Date.now;
  const dwell = createDwellState();
  const gate = createFailpointGate(d.failpoint ?? null, now, d.stuck);
  const snapDir = join(d.dataDir, 'snapshots');
  // Label children looked up once: no label object or hashing per frame.
  const stage = { preprocess: d.metrics.latency.labels('preprocess'), run: d.metrics.latency.labels('run'), postprocess: d.metrics.latency.labels('postprocess') };
  mkdirSync(snapDir, { recursive: true });
  const writer = d.writer ?? createEventWriter({ store: d.store, snapDir });
  // Snapshot file names: safe characters only (camera ids from CAMERAS may be anything).
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);

  return {
    async processFrame(camera, input, ts = now()) {
      const frame = asFrame(input);
      const { detections, times, gate: gated } = await d.detector.detect(camera, frame, ts);
      if (gated) d.metrics.gateDone(camera, gated, now());
      await gate.inFrame();
      const zones = d.zones.cameras[camera]?.zones ?? [];
      const t0 = performance.now();
      const hits = updateDwell(dwell, zones, camera, detections, ts);
      const events: SafetyEvent[] = [];
      // Pixels for snapshots are decoded or fetched only when an event fires (rare), once per
      // frame; each zone's snapshot draws on its own copy.
      let pixels: RgbImage | undefined;
      for (const hit of hits) {
        // The dwell episode is consumed: from here the event must be recorded whatever fails. A
        // snapshot that cannot be made is an Error the event carries (snapshotError), not a throw.
        let jpeg: Buffer | Error;
        try {
          pixels ??= await snapshotPixels(frame);
          jpeg = await encodeSnapshot(hits.length > 1 ? { ...pixels, data: pixels.data.slice() } : pixels, hit.zone, hit.boxes);
        } catch (err) {
          jpeg = err instanceof Error ? err : new Error(String(err));
        }
        // The class is in the name: two rules of one zone firing on one frame get two files.
        const snapshot = `${safe(camera)}-${safe(hit.zone.id)}-${safe(hit.cls)}-${ts}.jpg`;
        const ev = await writer.record({ ts, camera, zone: hit.zone.id, cls: hit.cls, score: hit.score, boxes: hit.boxes, episodeStart: hit.sinceMs }, jpeg, snapshot);
        if (ev) events.push(ev);
        d.metrics.events.inc({ camera, zone: hit.zone.id });
      }
      const post = times.postprocess + (performance.now() - t0) / 1000;
      if (!gate.suppressCounting()) {
        d.metrics.frameDone(camera, now() / 1000);
        stage.preprocess.observe(times.preprocess);
        if (times.run > 0) stage.run.observe(times.run);
        stage.postprocess.observe(post);
      }
      return { detections, events };
    },
    resetCamera(camera) {
      d.detector.reset(camera);
      for (const key of dwell.keys()) if (key.startsWith(`${camera}\u0000`)) dwell.delete(key);
    },
  };
}
