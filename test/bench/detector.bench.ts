// Person detector benchmark (issue 13): models/nanodet.onnx (or the model file given) on real
// frames of vtest.avi (letterboxed to the model's input size as the camera sends them), measured
// in this process.
//
// Run: node --import tsx test/bench/detector.bench.ts [frames=40] [seconds=8] [model=models/nanodet.onnx]
//
// 1. Detector ms per frame, p50/p95, at 1 and 2 ORT threads: bare session.run, and detect()
//    (tensor wrap + run + decode + NMS) on the same frames.
// 2. Pipeline (gate off: the detector on every frame, zones, no event) against bare session.run on
//    the same frames and the same session options: wall and CPU per frame. Batches of 10 frames
//    alternate between the two sides so load from other tenants of the VM hits both alike; CPU is
//    process.cpuUsage (all threads, ORT's included) over each side's batches. Target <= 1.1x.
// 3. Cameras one box sustains at 5 detect-fps: K camera loops in parallel (1 ORT thread each, the
//    app's default), each running the detector as fast as it can for `seconds`; total detect fps / 5.
// 4. CPU saved by motion gating: the clip's first 30 s at 5 fps (150 frames: people walk through
//    the whole clip) and a quiet scene (one empty-looking frame repeated, as a plant at night)
//    through the motion-gated pipeline against the detector on every frame.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { Registry } from 'prom-client';
import { NANODET_MODEL } from '../../apps/inference/src/config.ts';
import { loadDetector } from '../../apps/inference/src/model/load.ts';
import { createPipeline } from '../../apps/inference/src/pipeline.ts';
import { createMetrics } from '../../apps/inference/src/metrics.ts';
import { openEventStore } from '../../apps/inference/src/events/store.ts';
import type { Detector, RawFrame } from '../../apps/inference/src/model/types.ts';
import type { ZonesConfig } from '../../apps/inference/src/zones/dwell.ts';
import { asRawFrame, vtestRange } from '../helpers/vtest.ts';

const N = Number(process.argv[2] ?? 40);
const SECONDS = Number(process.argv[3] ?? 8);
const MODEL = process.argv[4] ?? NANODET_MODEL;
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; };
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const fmt = (x: number) => x.toFixed(1);

const probe = await ort.InferenceSession.create(MODEL);
const inMeta = probe.inputMetadata[0]!;
const SIZE = inMeta.isTensor ? Number(inMeta.shape[1]) : 0;
const outShapes = probe.outputNames.map((n, i) => { const m = probe.outputMetadata[i]!; return [n, m.isTensor ? m.shape.map(Number) : []] as const; });
await probe.release();
const imageDims = [1, SIZE, SIZE, 3];

const clip = await vtestRange(0, 300);
// 5 fps camera: every other frame of the 10 fps clip.
const frames5: RawFrame[] = [];
for (let i = 0; i < clip.length; i += 2) frames5.push(await asRawFrame(clip[i]!, SIZE));
const frames = frames5.slice(0, N);
const zones: ZonesConfig = { cameras: { cam: { zones: [{ id: 'z', polygon: [[0.55, 0.35], [1, 0.35], [1, 0.75], [0.55, 0.75]], rules: [{ cls: 'person', dwellMs: 3_600_000, minScore: 0.45, exitGraceMs: 2000 }] }] } } };

const session = (threads: number) => ort.InferenceSession.create(MODEL, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
// Preallocated outputs, as the detectors do, so bare and detect() do the same allocation work.
const outs = () => Object.fromEntries(outShapes.map(([n, d]) => [n, new ort.Tensor('float32', new Float32Array(d.reduce((a, b) => a * b, 1)), d)]));

console.log(`detector benchmark: ${MODEL}, ${frames.length} real frames of vtest.avi at ${SIZE}x${SIZE}`);

// 1. ms per frame.
for (const threads of [1, 2]) {
  const s = await session(threads);
  const o = outs();
  const det = await loadDetector({ path: MODEL, threads, scoreThreshold: 0.4, classes: ['person'] });
  for (const f of frames.slice(0, 5)) { await s.run({ image: new ort.Tensor('uint8', f.data, imageDims) }, o); await det.detect('w', f); }
  const bare: number[] = [], full: number[] = [];
  for (const f of frames) {
    let t = performance.now();
    await s.run({ image: new ort.Tensor('uint8', f.data, imageDims) }, o);
    bare.push(performance.now() - t);
    t = performance.now();
    await det.detect('c', f);
    full.push(performance.now() - t);
  }
  console.log(`1. ${threads} ORT thread(s): session.run p50 ${fmt(pct(bare, 50))} ms p95 ${fmt(pct(bare, 95))} ms; detect() p50 ${fmt(pct(full, 50))} ms p95 ${fmt(pct(full, 95))} ms`);
  await s.release();
  await det.close();
}

// 2. Pipeline against bare session.run, alternating batches.
{
  const threads = 1;
  const s = await session(threads);
  const o = outs();
  const det: Detector = await loadDetector({ path: MODEL, threads, scoreThreshold: 0.4, classes: ['person'] });
  const dir = mkdtempSync(join(tmpdir(), 'detector-bench-'));
  const store = openEventStore(join(dir, 'events.db'));
  const pipeline = createPipeline({ detector: det, zones, store, dataDir: dir, metrics: createMetrics(new Registry()) });
  const side = { bare: { wall: 0, cpu: 0, n: 0 }, pipe: { wall: 0, cpu: 0, n: 0 } };
  let ts = 1_800_000_000_000;
  const rounds = Math.max(4, Math.round(120 / 10));
  for (let r = 0; r < rounds; r++) {
    const batch = frames.slice((r * 10) % frames.length, ((r * 10) % frames.length) + 10);
    for (const which of r % 2 ? ['pipe', 'bare'] as const : ['bare', 'pipe'] as const) {
      const w0 = performance.now(), c0 = cpuMs();
      for (const f of batch) {
        if (which === 'bare') await s.run({ image: new ort.Tensor('uint8', f.data, imageDims) }, o);
        else await pipeline.processFrame('cam', f, (ts += 200));
      }
      if (r > 0) { side[which].wall += performance.now() - w0; side[which].cpu += cpuMs() - c0; side[which].n += batch.length; }
    }
  }
  const b = side.bare, p = side.pipe;
  console.log(`2. pipeline (1 thread, detector on every frame): ${fmt(1000 / (p.wall / p.n))} fps, ${fmt(p.cpu / p.n)} ms CPU/frame; bare session.run ${fmt(1000 / (b.wall / b.n))} fps, ${fmt(b.cpu / b.n)} ms CPU/frame -> ${(p.wall / p.n / (b.wall / b.n)).toFixed(3)}x time, ${(p.cpu / p.n / (b.cpu / b.n)).toFixed(3)}x CPU (target <= 1.1x)`);
  store.close();
  await s.release();
  await det.close();
}

// 3. Cameras at 5 detect-fps.
for (const k of [1, 2, 3]) {
  const dets = await Promise.all(Array.from({ length: k }, () => loadDetector({ path: MODEL, threads: 1, scoreThreshold: 0.4, classes: ['person'] })));
  const until = performance.now() + SECONDS * 1000;
  const c0 = cpuMs();
  const counts = await Promise.all(dets.map(async (d, j) => {
    let n = 0;
    while (performance.now() < until) { await d.detect(`cam${j}`, frames[(n + j * 7) % frames.length]!); n++; }
    return n;
  }));
  const total = counts.reduce((a, b) => a + b, 0) / SECONDS;
  console.log(`3. ${k} camera loop(s) in parallel: ${fmt(total)} detect fps in all (${counts.map((c) => fmt(c / SECONDS)).join(' + ')}), CPU ${fmt((cpuMs() - c0) / SECONDS / 10)} % of one core -> ${Math.floor(total / 5)} cameras at 5 detect-fps`);
  await Promise.all(dets.map((d) => d.close()));
}

// 4. Motion gating: CPU and detector runs, gated against every frame.
async function run(gated: boolean, input: RawFrame[]) {
  const det = await loadDetector({ path: MODEL, threads: 1, scoreThreshold: 0.4, classes: ['person'], ...(gated ? { gate: { minIntervalMs: 200, maxIntervalMs: 5000 } } : {}) });
  const dir = mkdtempSync(join(tmpdir(), 'detector-bench-'));
  const store = openEventStore(join(dir, 'events.db'));
  const registry = new Registry();
  const pipeline = createPipeline({ detector: det, zones, store, dataDir: dir, metrics: createMetrics(registry) });
  const c0 = cpuMs(), w0 = performance.now();
  const t0 = 1_800_000_000_000;
  for (const [i, f] of input.entries()) await pipeline.processFrame('cam', f, t0 + i * 200);
  const cpu = cpuMs() - c0, wall = performance.now() - w0;
  const m = await registry.metrics();
  const runs = gated ? Number(/inference_detect_frames_total\{camera="cam"\} (\d+)/.exec(m)?.[1]) : input.length;
  store.close();
  await det.close();
  return { cpu, wall, runs };
}
const quiet = Array.from({ length: 150 }, () => frames5[0]!);
for (const [name, input] of [['clip (people walking all the time)', frames5], ['quiet scene (one frame repeated)', quiet]] as const) {
  const all = await run(false, input);
  const gated = await run(true, input);
  console.log(`4. ${name}, ${input.length} frames at 5 fps: every frame ${fmt(all.cpu)} ms CPU (${all.runs} detector runs); motion-gated ${fmt(gated.cpu)} ms CPU (${gated.runs} runs) -> ${(100 * (1 - gated.cpu / all.cpu)).toFixed(0)} % CPU saved`);
}
