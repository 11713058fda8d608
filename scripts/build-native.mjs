#!/usr/bin/env node
// Builds the native helpers with the C compiler and the N-API headers of the running node. Run by
// `npm ci` (postinstall). Optional: if there is no compiler or no headers (e.g. a slim image), it
// says so and exits 0. EDGEVISOR_REQUIRE_NATIVE=1 (CI) makes a failed build an error.
//   apps/camera/native/build/shm.node     memory-mapped frame rings (without it: pread)
//   supervisor/native/build/notify.node   sd_notify's NOTIFY_SOCKET (without it: no notify/watchdog children)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targets = [
  { src: 'apps/camera/native/shm.c', out: 'apps/camera/native/build/shm.node', without: 'frame rings will be read with pread instead of mmap' },
  { src: 'supervisor/native/notify.c', out: 'supervisor/native/build/notify.node', without: 'children with notify/watchdog cannot be supervised' },
];
const required = process.env.EDGEVISOR_REQUIRE_NATIVE === '1';
const prefixes = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
const include = prefixes.map((p) => join(p, 'include/node')).find((d) => existsSync(join(d, 'node_api.h')));
const cc = process.env.CC ?? 'cc';
let failed = false;

for (const t of targets) {
  const out = join(root, t.out);
  const why = build(join(root, t.src), out);
  if (!why) {
    console.error(`edgevisor: built ${out}`);
    continue;
  }
  failed = true;
  console.error(`edgevisor: ${out} not built (${why}); ${t.without}${required ? '; EDGEVISOR_REQUIRE_NATIVE=1, failing' : ''}`);
}
process.exit(failed && required ? 1 : 0);

/** Compiles one helper; returns why it could not, or null. */
function build(src, out) {
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (!include) return `no node_api.h under ${prefixes.map((p) => join(p, 'include/node')).join(', ')}`;
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
  if (r.error) return `${cc}: ${r.error.message}`;
  if (r.status !== 0) return `${cc} exited with ${r.status}`;
  return null;
}
