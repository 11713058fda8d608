// Inference benchmark: the default model at 640x480 through the whole pipeline (JPEG -> sharp
// letterbox -> tensor -> session.run -> components -> zones) from 1 and 4 cameras, next to bare
// session.run on the same tensors. Run: node --import tsx test/bench/inference.bench.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { Registry } from 'prom-client';
import { renderSynthetic } from '../../apps/camera/src/sources/synthetic.ts';
import { DEFAULT_MODEL } from '../../apps/inference/src/config.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import { preprocess } from '../../apps/inference/src/model/preprocess.ts';
import { createPipeline } from '../../apps/inference/src/pipeline.ts';
import { createMetrics } from '../../apps/inference/src/metrics.ts';
import { openEventStore } from '../../apps/inference/src/events/store.ts';

const FRAMES = Number(process.argv[2] ?? 150);
const threads = Number(process.argv[3] ?? 1);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const jpegs: Buffer[] = [];
for (let i = 0; i < 60; i++) jpegs.push(await renderSynthetic(640, 480, 1_700_000_000_000 + i * 200, 12, 'bench'));

async function bare(cameras: number) {
  const session = await ort.InferenceSession.create(DEFAULT_MODEL, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const tensors = await Promise.all(jpegs.map(async (j) => new ort.Tensor('float32', (await preprocess(j, 320, 320)).data, [1, 3, 320, 320])));
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: cameras }, async (_, c) => {
    let bg: ort.Tensor = tensors[0]!;
    for (let i = 0; i < FRAMES; i++) {
      const s = performance.now();
      const out = await session.run({ frame: tensors[(i + c) % tensors.length]!, background: bg });
      bg = out.background_next!;
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await session.release();
  return { fps: (cameras * FRAMES) / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function pipeline(cameras: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const detector = await loadDetector({ path: DEFAULT_MODEL, threads, scoreThreshold: 0.25 });
  const store = openEventStore(join(dir, 'events.db'));
  const zones = { cameras: Object.fromEntries(Array.from({ length: cameras }, (_, c) => [`cam${c}`, { zones: [{ id: 'z', polygon: [[0.667, 0], [1, 0], [1, 1], [0.667, 1]] as [number, number][], rules: [{ cls: 'motion', dwellMs: 2000, minScore: 0.3, exitGraceMs: 1000 }] }] }])) };
  const p = createPipeline({ detector, zones, store, dataDir: dir, metrics: createMetrics(new Registry()) });
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: cameras }, async (_, c) => {
    for (let i = 0; i < FRAMES; i++) {
      const s = performance.now();
      await p.processFrame(`cam${c}`, jpegs[(i + c) % jpegs.length]!, 1_700_000_000_000 + i * 200);
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await detector.close();
  store.close();
  return { fps: (cameras * FRAMES) / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

console.log(`inference bench: default motion model, 640x480 JPEG frames, ${FRAMES} frames per camera, ORT threads ${threads}`);
console.log('cameras | bare run fps  p50 ms  p99 ms | pipeline fps  p50 ms  p99 ms | overhead (bare fps / pipeline fps)');
for (const cams of [1, 4]) {
  const b = await bare(cams);
  const q = await pipeline(cams);
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(`${String(cams).padStart(7)} | ${f(b.fps)} ${f(b.p50)} ${f(b.p99)} | ${f(q.fps)} ${f(q.p50)} ${f(q.p99)} | ${(b.fps / q.fps).toFixed(2)}x`);
}
