#!/usr/bin/env node
// Runs the benchmarks in test/bench (each prints its figures and ratios). Not part of `npm test`:
// speed and memory targets are checked here, against baselines measured in the same run.
// Usage: node scripts/bench.mjs [name-substring ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { ensureDist } from './build-dist.mjs';

const filters = process.argv.slice(2);
const files = readdirSync('test/bench')
  .filter((f) => /\.bench\.(ts|mjs)$/.test(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
await ensureDist(); // runtime.bench runs dist/ against the sources
let failed = false;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `test/bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
