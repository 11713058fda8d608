#!/usr/bin/env node
// Builds apps/camera/native/shm.node (memory-mapped frame rings) with the C compiler and the
// N-API headers of the running node. Run by `npm ci` (postinstall). Optional: if there is no
// compiler or no headers (e.g. a slim image), it says so and exits 0; frame rings are then read
// with pread. EDGEVISOR_REQUIRE_NATIVE=1 (CI) makes a failed build an error.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'apps/camera/native/shm.c');
const out = join(root, 'apps/camera/native/build/shm.node');
const required = process.env.EDGEVISOR_REQUIRE_NATIVE === '1';
const prefixes = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
const include = prefixes.map((p) => join(p, 'include/node')).find((d) => existsSync(join(d, 'node_api.h')));

function give(why) {
  const msg = `edgevisor: ${out} not built (${why}); frame rings will be read with pread instead of mmap`;
  if (required) {
    console.error(`${msg}; EDGEVISOR_REQUIRE_NATIVE=1, failing`);
    process.exit(1);
  }
  console.error(msg);
  process.exit(0);
}

if (process.platform !== 'linux') give(`platform ${process.platform}`);
if (!include) give(`no node_api.h under ${prefixes.map((p) => join(p, 'include/node')).join(', ')}`);
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
if (r.error) give(`${cc}: ${r.error.message}`);
if (r.status !== 0) give(`${cc} exited with ${r.status}`);
console.error(`edgevisor: built ${out}`);
