#!/usr/bin/env node
// Builds the native helpers with the C compiler and the N-API headers of the running node. Run by
// `npm ci` (postinstall). Optional: if there is no compiler or no headers (e.g. a slim image), it
// says so and exits 0. EDGEVISOR_REQUIRE_NATIVE=1 (CI) makes a failed build an error.
//   apps/camera/native/build/shm.node     memory-mapped frame rings (without it: pread)
//   supervisor/native/build/notify.node   sd_notify's NOTIFY_SOCKET (without it: no notify/watchdog children)
// The compile step is supervisor/native/install.mjs's, which the packed package runs alone at
// its install; here warnings are errors (-Werror).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileAddon } from '../supervisor/native/install.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targets = [
  { src: 'apps/camera/native/shm.c', out: 'apps/camera/native/build/shm.node', without: 'frame rings will be read with pread instead of mmap' },
  { src: 'supervisor/native/notify.c', out: 'supervisor/native/build/notify.node', without: 'children with notify/watchdog cannot be supervised' },
];
const required = process.env.EDGEVISOR_REQUIRE_NATIVE === '1';
let failed = false;

for (const t of targets) {
  const why = compileAddon(join(root, t.src), join(root, t.out), { werror: true });
  if (!why) {
    console.error(`edgevisor: built ${t.out}`);
    continue;
  }
  failed = true;
  console.error(`edgevisor: ${t.out} not built (${why}); ${t.without}${required ? '; EDGEVISOR_REQUIRE_NATIVE=1, failing' : ''}`);
}
process.exit(failed && required ? 1 : 0);
