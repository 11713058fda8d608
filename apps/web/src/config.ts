/**
 * The web app's configuration: env checked once (zod), files read once, the result frozen. The
 * only module of the web app that reads process.env (main.ts passes it in).
 *
 * PORT (8080), HOST (127.0.0.1), DATA_DIR, EDGEVISOR_VERSION, INFERENCE_URL, CAMERA_URL,
 * VACUUM_URL (optional: disk figures and problems), WEB_DISK_HOURS_MIN (24: fewer hours left on a
 * volume is a problem), SUPERVISOR_URL, SUPERVISOR_TOKEN_FILE (env-style file with EDGEVISOR_TECHNICIAN_TOKEN /
 * EDGEVISOR_VIEWER_TOKEN, e.g. var/tokens.env: the tokens stay in this process; without it,
 * EDGEVISOR_TOKEN is used to read only), WEB_PASSWORDS_FILE
 * (set-password.ts), WEB_REQUIRE_SIGNIN (false), WEB_SESSION_TTL_MS (8 h), WEB_ALLOWED_HOSTS
 * (comma-separated host names besides IP literals and localhost), WEB_EVENTS_POLL_MS (500),
 * WEB_INFERENCE_BUDGET_MS (100), WEB_HEALTH_BUDGET_MS (500).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { envVars, parseEnv, type Env } from '../../common/src/index.ts';
import { codes, EdgevisorError } from 'edgevisor';
import { parsePasswordFile, type PasswordEntry } from './passwords.ts';
import { parseTokenFile } from './upstream.ts';

const url = (what: string) => z.string().regex(/^https?:\/\/[^/\s]+\/?$/, `expected an http:// URL of the ${what} (scheme, host, port)`);

const schema = z.object({
  PORT: envVars.port(8080),
  HOST: envVars.host('127.0.0.1'),
  DATA_DIR: envVars.optionalString(),
  EDGEVISOR_VERSION: z.string().default('dev'),
  INFERENCE_URL: url('inference app').default('http://127.0.0.1:8083'),
  CAMERA_URL: url('camera app').optional(),
  VACUUM_URL: url('vacuum app').optional(),
  WEB_DISK_HOURS_MIN: z.coerce.number({ message: 'expected hours 1..8760' }).min(1, 'expected hours 1..8760').max(8760, 'expected hours 1..8760').default(24),
  SUPERVISOR_URL: url('supervisor control API').optional(),
  SUPERVISOR_TOKEN_FILE: envVars.optionalString(),
  /** A viewer token alone: enough to read, not to act. */
  EDGEVISOR_TOKEN: envVars.optionalString(),
  /** compose.yaml passes the site's tokens this way (they stay in this process, never sent to a browser). */
  EDGEVISOR_VIEWER_TOKEN: envVars.optionalString(),
  EDGEVISOR_TECHNICIAN_TOKEN: envVars.optionalString(),
  WEB_PASSWORDS_FILE: envVars.optionalString(),
  WEB_REQUIRE_SIGNIN: z.enum(['true', 'false', '1', '0'], { message: 'expected true or false' }).default('false'),
  WEB_SESSION_TTL_MS: z.coerce.number({ message: 'expected milliseconds 60000..604800000' }).int().min(60_000, 'expected milliseconds 60000..604800000').max(604_800_000, 'expected milliseconds 60000..604800000').default(8 * 3_600_000),
  WEB_ALLOWED_HOSTS: z.string().regex(/^[\w.,\s-]*$/, 'expected comma-separated host names').default(''),
  WEB_EVENTS_POLL_MS: z.coerce.number({ message: 'expected milliseconds 50..60000' }).int().min(50, 'expected milliseconds 50..60000').max(60_000, 'expected milliseconds 50..60000').default(500),
  WEB_INFERENCE_BUDGET_MS: z.coerce.number({ message: 'expected milliseconds 1..60000' }).int().min(1).max(60_000).default(100),
  WEB_HEALTH_BUDGET_MS: z.coerce.number({ message: 'expected milliseconds 50..10000' }).int().min(50).max(10_000).default(500),
});

/** The checked configuration (see the file comment for each variable). */
export interface WebConfig {
  port: number; host: string; dataDir?: string; version: string;
  inferenceUrl: string; cameraUrl?: string; supervisorUrl?: string; vacuumUrl?: string; diskHoursMin: number;
  supervisorTokens: { viewer?: string; technician?: string };
  passwords: readonly PasswordEntry[];
  requireSignin: boolean; sessionTtlMs: number; sessionSecret: Buffer; allowedHosts: readonly string[];
  eventsPollMs: number; inferenceBudgetMs: number; healthBudgetMs: number;
  /** Lines to print at start (e.g. a missing token file), never a secret. */
  warnings: readonly string[];
}

function readFileOrFail(path: string, env: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgevisorError(codes.SPEC_INVALID, `env ${env}: cannot read ${basename(path)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { details: [`env ${env}: cannot read ${basename(path)}`] });
  }
}

/** The session key lives in DATA_DIR so sessions survive a restart; without it, one per process. */
function sessionSecret(dataDir: string | undefined): Buffer {
  if (!dataDir) return randomBytes(32);
  const file = join(dataDir, 'web-session.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  const key = randomBytes(32);
  writeFileSync(file, key.toString('hex'), { mode: 0o600 });
  return key;
}

export function loadWebConfig(envIn: Env): Readonly<WebConfig> {
  const e = parseEnv(schema, envIn);
  const warnings: string[] = [];
  let supervisorTokens: WebConfig['supervisorTokens'] = {};
  if (e.SUPERVISOR_TOKEN_FILE) {
    if (existsSync(e.SUPERVISOR_TOKEN_FILE)) supervisorTokens = parseTokenFile(readFileOrFail(e.SUPERVISOR_TOKEN_FILE, 'SUPERVISOR_TOKEN_FILE'));
    else warnings.push(`web: SUPERVISOR_TOKEN_FILE ${basename(e.SUPERVISOR_TOKEN_FILE)} not found: the supervisor cannot be asked, no technician sign-in by token`);
  } else if (e.EDGEVISOR_TECHNICIAN_TOKEN) {
    supervisorTokens = { technician: e.EDGEVISOR_TECHNICIAN_TOKEN, ...(e.EDGEVISOR_VIEWER_TOKEN ? { viewer: e.EDGEVISOR_VIEWER_TOKEN } : {}) };
  } else if (e.EDGEVISOR_TOKEN) {
    supervisorTokens = { viewer: e.EDGEVISOR_TOKEN };
    warnings.push('web: only EDGEVISOR_TOKEN (read access) is set: technician actions need SUPERVISOR_TOKEN_FILE');
  } else if (e.SUPERVISOR_URL) warnings.push('web: SUPERVISOR_URL without SUPERVISOR_TOKEN_FILE: the supervisor cannot be asked');
  const passwords = e.WEB_PASSWORDS_FILE ? parsePasswordFile(readFileOrFail(e.WEB_PASSWORDS_FILE, 'WEB_PASSWORDS_FILE'), basename(e.WEB_PASSWORDS_FILE)) : [];
  return Object.freeze({
    port: e.PORT, host: e.HOST, dataDir: e.DATA_DIR, version: e.EDGEVISOR_VERSION,
    inferenceUrl: e.INFERENCE_URL, cameraUrl: e.CAMERA_URL, supervisorUrl: e.SUPERVISOR_URL, vacuumUrl: e.VACUUM_URL, diskHoursMin: e.WEB_DISK_HOURS_MIN,
    supervisorTokens, passwords,
    requireSignin: e.WEB_REQUIRE_SIGNIN === 'true' || e.WEB_REQUIRE_SIGNIN === '1',
    sessionTtlMs: e.WEB_SESSION_TTL_MS, sessionSecret: sessionSecret(e.DATA_DIR),
    allowedHosts: Object.freeze([...e.WEB_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean), ...(/^[\w.-]+$/.test(e.HOST) && !/^[\d.]+$/.test(e.HOST) ? [e.HOST] : [])]),
    eventsPollMs: e.WEB_EVENTS_POLL_MS, inferenceBudgetMs: e.WEB_INFERENCE_BUDGET_MS, healthBudgetMs: e.WEB_HEALTH_BUDGET_MS,
    warnings,
  });
}
