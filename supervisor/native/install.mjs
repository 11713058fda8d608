#!/usr/bin/env node
// The packed package's install step (package.json `postinstall`, when the repo's scripts/ are not
// there): compiles notify.c into build/notify.node, the sd_notify helper that `notify:` and
// `watchdog:` process children need (supervisor/src/notify/native.ts loads it). Offline and
// without node-gyp: the C compiler of the machine (CC, else cc, else gcc, else clang) against the
// N-API headers of the running node, found where node installs them (node-gyp would download
// them, which an offline box cannot). No compiler, no headers, another platform: it says so on
// stderr and exits 0, so the install succeeds; such a tree then fails with START_FAILED naming
// the fix (install gcc, `npm rebuild edgevisor`). EDGEVISOR_REQUIRE_NATIVE=1 makes it exit 1.
//
// scripts/build-native.mjs (a checkout's `npm ci`) compiles with `compileAddon` from here too.
// It writes only build/ next to this file; the repo's dev build (dist/, models) never runs here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Directories that may hold node_api.h for this node: npm's nodedir, node's own prefix, node-gyp's cache, the system's. */
export function headerDirs() {
  const version = process.versions.node;
  return [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
    join(resolve(dirname(process.execPath), '..'), 'include/node'),
    join(homedir(), '.cache/node-gyp', version, 'include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
}

/** The first C compiler that runs: CC (may carry arguments, e.g. "ccache gcc"), cc, gcc, clang. */
function findCompiler() {
  const tried = [];
  for (const cmd of process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang']) {
    const [bin, ...args] = cmd.trim().split(/\s+/);
    tried.push(bin);
    const r = spawnSync(bin, [...args, '--version'], { stdio: 'ignore', timeout: 10_000 });
    if (!r.error && r.status === 0) return { bin, args };
  }
  return { tried };
}

/**
 * Compiles one N-API helper (src -> out, atomically: a half-written .node is never loaded).
 * Returns why it could not, or null. `werror`: warnings fail the build (the repo's own check; off
 * for an install on someone else's compiler, where a new warning must not cost the helper).
 */
export function compileAddon(src, out, { werror = false } = {}) {
  if (process.platform !== 'linux') return `platform ${process.platform} (the helper is for Linux)`;
  const include = headerDirs().find((d) => existsSync(join(d, 'node_api.h')));
  if (!include) return `no node_api.h for node ${process.versions.node} (looked under npm_config_nodedir, node's prefix, node-gyp's cache, /usr and /usr/local)`;
  const cc = findCompiler();
  if (!cc.bin) return `no C compiler (tried ${cc.tried.join(', ')})`;
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const flags = ['-O2', '-Wall', ...(werror ? ['-Werror'] : []), '-shared', '-fPIC', `-I${include}`, '-o', tmp, src];
  const r = spawnSync(cc.bin, [...cc.args, ...flags], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    return r.error ? `${cc.bin}: ${r.error.message}` : `${cc.bin} exited with ${r.status ?? r.signal}`;
  }
  renameSync(tmp, out);
  return null;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = join(here, 'build/notify.node');
  const why = compileAddon(join(here, 'notify.c'), out);
  if (why) {
    const required = process.env.EDGEVISOR_REQUIRE_NATIVE === '1';
    console.error(
      `edgevisor: the sd_notify helper was not built (${why}); notify:/watchdog: children cannot be supervised until it is: ` +
        `install a C compiler (Debian: apt-get install gcc) and run npm rebuild edgevisor${required ? '; EDGEVISOR_REQUIRE_NATIVE=1, failing' : ''}`,
    );
    process.exit(required ? 1 : 0);
  }
  console.error('edgevisor: built the sd_notify helper (supervisor/native/build/notify.node)');
}
