/** Opens a model file and picks the detector for it (motion graph, NanoDet, CenterNet or YOLO export). */
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { AppError } from '../../../common/src/index.ts';
import { createCenternetDetector } from './centernet.ts';
import { createGatedDetector, type GatePolicy } from './gate.ts';
import { createMotionDetector } from './motion.ts';
import { createNanodetDetector } from './nanodet.ts';
import { encodeModel, readModelMetadata } from './onnx-proto.ts';
import { createYoloDetector, parseNames } from './yolo.ts';
import { motionGraph, MOTION_MODEL } from '../../scripts/motion-graph.ts';
import type { Detector } from './types.ts';

export interface LoadOptions {
  path: string;
  /** ORT intra-op threads (0 = ORT default: one per core). */
  threads: number;
  scoreThreshold: number;
  classes?: readonly string[];
  /**
   * Motion gating for object detectors (NanoDet, CenterNet, YOLO): the motion model on every frame, the
   * detector as the policy allows. Undefined: every frame goes to the detector.
   */
  gate?: GatePolicy;
}

const sessionOptions = (threads: number): ort.InferenceSession.SessionOptions => ({
  executionProviders: ['cpu'],
  ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  // Frames of different cameras run concurrently; one inter-op thread per run is enough.
  interOpNumThreads: 1,
});

export async function loadDetector(o: LoadOptions): Promise<Detector> {
  if (!existsSync(o.path)) {
    const built = /(nanodet|centernet)\.onnx$/.exec(o.path)?.[1];
    throw new AppError('INFERENCE_ERR_NO_MODEL', `MODEL ${o.path} does not exist${built ? `: it is built at install (npm ci runs scripts/build-models.mjs; or run node --import tsx apps/inference/scripts/build-${built}.ts)` : ''}`);
  }
  const meta = readModelMetadata(o.path);
  const session = await ort.InferenceSession.create(o.path, sessionOptions(o.threads));
  if (meta.edgevisor_kind === 'motion') return createMotionDetector({ session, cell: Number(meta.cell ?? 8) });
  // Our own converters write names as JSON; ultralytics writes a Python dict (parseNames).
  const jsonNames = () => JSON.parse(meta.names ?? '[]') as string[];
  const detector = meta.edgevisor_kind === 'nanodet'
    ? createNanodetDetector({ session, names: jsonNames(), strides: JSON.parse(meta.strides ?? '[8,16,32]') as number[], bins: Number(meta.bins ?? 11), scoreThreshold: o.scoreThreshold, classes: o.classes })
    : meta.edgevisor_kind === 'centernet'
    ? createCenternetDetector({ session, names: jsonNames(), stride: Number(meta.stride ?? 4), scoreThreshold: o.scoreThreshold, classes: o.classes })
    : createYoloDetector({ session, names: parseNames(meta.names), scoreThreshold: o.scoreThreshold, classes: o.classes });
  if (!o.gate) return detector;
  // The motion model at the detector's input size, built in memory (1 KB, ~1 ms a frame at 512x512):
  // it takes the same raw frames, so the camera decodes each frame once for both.
  const graph = encodeModel(motionGraph({ ...MOTION_MODEL, width: detector.inputWidth, height: detector.inputHeight }));
  const motion = createMotionDetector({ session: await ort.InferenceSession.create(graph, sessionOptions(1)), cell: MOTION_MODEL.cell });
  return createGatedDetector({ motion, detector, policy: o.gate });
}
