/**
 * Runtime failpoints: `POST /failpoints/<name>` on an app's own port injects one fault into the
 * running app, so the end-to-end fault suite (test/e2e/faults.test.ts) and its benchmark can break
 * one unit at a time in a stack that is already up (env failpoints fixed at start cannot).
 * Off unless EDGEVISOR_FAILPOINTS=1 (read by each app's config.ts): without it no route exists and
 * `/failpoints/...` is a 404 like any unknown path.
 *
 * Shared by every app:
 *   block[?ms=N]    the event loop blocks (Atomics.wait) for N ms, forever without ms: nothing answers.
 *   hang-healthz    GET /healthz never answers (every other route still does): a hung handler.
 *   oom[?mb=N]      allocates and touches 16 MB a step until the kernel's OOM killer ends the
 *                   process (meant for a container with a memory limit); stops at N MB (default
 *                   2048) so a box without a limit is not starved.
 *   crash-at-start  writes a marker into DATA_DIR and exits 1; every later start of the app finds
 *                   the marker and fails (a crash loop) until the marker is removed.
 * App-specific ones (`custom`) only set a flag the app reads (`armed(name)`): the camera's
 * stop-frames, inference's stuck.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { AppServer } from './app-server.ts';
import { AppError, sendError } from './errors.ts';
import { redactingLog } from './redact.ts';

/** The zod field for each app's env schema: `...failpointsEnv`. */
export const failpointsEnv = {
  EDGEVISOR_FAILPOINTS: z.enum(['0', '1'], { message: 'expected 1 (runtime failpoints on; tests only) or 0' }).default('0'),
};

/** The file whose presence makes every start fail (in the app's DATA_DIR). */
export const CRASH_AT_START_MARKER = '.edgevisor-failpoint-crash-at-start';
const BUILTIN = ['block', 'hang-healthz', 'oom', 'crash-at-start'] as const;
const OOM_STEP = 16 << 20;

export interface FailpointsOptions {
  /** EDGEVISOR_FAILPOINTS=1. */
  enabled: boolean;
  /** App name, for log lines. */
  app: string;
  /** Where the crash-at-start marker lives; without it that failpoint is refused. */
  dataDir?: string;
  /** App-specific failpoint names (flags the app reads with `armed`). */
  custom?: readonly string[];
  log?: (line: string) => void;
  /** For tests: replaces process.exit. */
  exit?: (code: number) => void;
}

export interface Failpoints {
  readonly enabled: boolean;
  /** True once `name` was posted (for this process's life). */
  armed(name: string): boolean;
}

/**
 * Registers the routes (only when enabled) and, when enabled and the crash-at-start marker is in
 * `dataDir`, throws APP_ERR_FAILPOINT_CRASH_AT_START: the app's start fails, as a crash loop needs.
 */
export function installFailpoints(server: Pick<AppServer, 'app'>, opts: FailpointsOptions): Failpoints {
  const armedSet = new Set<string>();
  const failpoints: Failpoints = { enabled: opts.enabled, armed: (name) => armedSet.has(name) };
  if (!opts.enabled) return failpoints;
  // Default: the process's JSON log lines (apps/common/src/log.ts), through the one redaction.
  const log = redactingLog(opts.log);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  if (opts.dataDir && existsSync(join(opts.dataDir, CRASH_AT_START_MARKER))) {
    throw new AppError('APP_ERR_FAILPOINT_CRASH_AT_START', `${opts.app}: failpoint crash-at-start: ${CRASH_AT_START_MARKER} is in DATA_DIR; remove it to start`);
  }
  const names = [...BUILTIN, ...(opts.custom ?? [])];
  const { app } = server;
  // A hung handler: the request is taken and never answered (the socket stays open).
  app.addHook('onRequest', async (req) => {
    if (armedSet.has('hang-healthz') && req.url.startsWith('/healthz')) await new Promise<never>(() => {});
  });
  app.post<{ Params: { name: string }; Querystring: { ms?: string; mb?: string } }>('/failpoints/:name', async (req, reply) => {
    const name = req.params.name;
    if (!names.includes(name)) return sendError(reply, 404, 'APP_ERR_FAILPOINT_UNKNOWN', `no failpoint "${name.slice(0, 60)}"; accepted: ${names.join(', ')}`);
    if (name === 'crash-at-start' && !opts.dataDir) return sendError(reply, 409, 'APP_ERR_FAILPOINT_NO_DATA_DIR', `${opts.app} has no DATA_DIR for the crash-at-start marker`);
    const bad = (['ms', 'mb'] as const).find((k) => req.query[k] !== undefined && !/^[1-9]\d{0,9}$/.test(req.query[k]!));
    if (bad) return sendError(reply, 400, 'APP_ERR_FAILPOINT_BAD_PARAM', `failpoint ${name}: ${bad} must be a positive integer, got "${req.query[bad]!.slice(0, 20)}"`);
    const ms = req.query.ms === undefined ? undefined : Number(req.query.ms);
    const mb = req.query.mb === undefined ? 2048 : Number(req.query.mb);
    armedSet.add(name);
    log(`${opts.app}: FAILPOINT ${name} armed`);
    // Answer first, then break: the caller learns the fault was taken.
    reply.raw.once('finish', () => setTimeout(() => act(name), 20));
    return reply.code(202).send({ failpoint: name, app: opts.app });

    function act(what: string): void {
      if (what === 'block') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms ?? Infinity);
      else if (what === 'oom') allocateUntil(mb, log, opts.app);
      else if (what === 'crash-at-start') {
        writeFileSync(join(opts.dataDir!, CRASH_AT_START_MARKER), `${new Date().toISOString()}\n`);
        exit(1);
      }
    }
  });
  return failpoints;
}

/** Touches every page (fill), so the memory is resident and counted by the cgroup. */
function allocateUntil(capMb: number, log: (l: string) => void, app: string): void {
  const held: Buffer[] = [];
  const timer = setInterval(() => {
    if (held.length * (OOM_STEP >> 20) >= capMb) {
      clearInterval(timer);
      log(`${app}: FAILPOINT oom: reached ${capMb} MB without an OOM kill (no memory limit?); holding it`);
      return;
    }
    held.push(Buffer.allocUnsafeSlow(OOM_STEP).fill(0xa5));
  }, 5);
}
