/** Opens a model file and picks the detector for it (motion graph or YOLO export). */
import * as ort from 'onnxruntime-node';
import { createMotionDetector } from './motion.ts';
import { readModelMetadata } from './onnx-proto.ts';
import { createYoloDetector, parseNames } from './yolo.ts';
import type { Detector } from './types.ts';

export interface LoadOptions {
  path: string;
  /** ORT intra-op threads (0 = ORT default: one per core). */
  threads: number;
  scoreThreshold: number;
  classes?: readonly string[];
}

export async function loadDetector(o: LoadOptions): Promise<Detector> {
  const meta = readModelMetadata(o.path);
  const session = await ort.InferenceSession.create(o.path, {
    executionProviders: ['cpu'],
    ...(o.threads > 0 ? { intraOpNumThreads: o.threads } : {}),
    // Frames of different cameras run concurrently; one inter-op thread per run is enough.
    interOpNumThreads: 1,
  });
  if (meta.edgevisor_kind === 'motion') return createMotionDetector({ session, cell: Number(meta.cell ?? 8) });
  return createYoloDetector({ session, names: parseNames(meta.names), scoreThreshold: o.scoreThreshold, classes: o.classes });
}
