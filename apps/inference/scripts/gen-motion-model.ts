/**
 * Writes models/motion.onnx, the default model shipped in the repo.
 * Run: node --import tsx apps/inference/scripts/gen-motion-model.ts [out.onnx]
 * Deterministic: running it again produces the same bytes (CI can diff it).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '../src/model/onnx-proto.ts';
import { motionGraph } from './motion-graph.ts';

const out = resolve(process.argv[2] ?? fileURLToPath(new URL('../../../models/motion.onnx', import.meta.url)));
mkdirSync(dirname(out), { recursive: true });
const bytes = encodeModel(motionGraph());
writeFileSync(out, bytes);
console.log(`wrote ${out} (${bytes.length} bytes)`);
