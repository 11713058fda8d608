#!/usr/bin/env node
// Runs the test suite with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [unit|integration|e2e|browser ...]   (default: all groups, in order)
// Unit tests run in parallel; the other groups run one file at a time because they start real
// processes, containers and browsers on a 2-core box and measure recovery times.
// dist/ is rebuilt first when a source changed: tests that run bin/edgevisor.mjs, the embedded
// tree or an image run the current sources, never an older bundle.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDist } from './build-dist.mjs';

const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e', 'browser'];
const files = (dir) => {
  let out = [];
  let entries = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(files(p));
    else if (/\.test\.(ts|mjs|js)$/.test(e)) out.push(p);
  }
  return out.sort();
};

await ensureDist();
let failed = false;
for (const group of groups) {
  const list = files(join('test', group));
  if (list.length === 0) continue;
  console.log(`\n# ${group}: ${list.length} file(s)`);
  const concurrency = group === 'unit' ? '2' : '1';
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
