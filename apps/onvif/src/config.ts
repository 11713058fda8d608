import { join } from 'node:path';
import { z } from 'zod';
import { envVars, failpointsEnv, parseEnv, type Env } from '../../common/src/index.ts';

/**
 * ONVIF service configuration, from the environment only (cameras added at run time and their
 * credentials live in the store file, see credentials.ts). This is the only module of apps/onvif
 * that reads process.env (main.ts passes it in).
 */
export interface OnvifConfig {
  port: number;
  host: string;
  /** Data volume: the camera store (0600) lives here. Undefined: nothing persisted (tests). */
  dataDir?: string;
  /** `<dataDir>/onvif-cameras.json`. */
  storeFile?: string;
  /** Scheduled WS-Discovery (0: only on demand). */
  discoveryIntervalMs: number;
  /** How long a discovery run listens for ProbeMatches. */
  discoveryListenMs: number;
  /** False: no WS-Discovery at all (POST /discovery answers 409). See the README for why a dev box sets it. */
  discoveryEnabled: boolean;
  /** Only these interfaces (names); undefined: every interface that is up with multicast on. */
  discoveryInterfaces?: readonly string[];
  /** Refresh of a camera that answers. */
  refreshIntervalMs: number;
  /** First retry of a camera that failed; doubles per failure up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Every SOAP request's deadline (the `onvif` package's default is 120 s). */
  requestTimeoutMs: number;
  /** Drift (s) above which a camera's clock is reported as a warning. */
  driftWarnS: number;
  /** When set, POST/PUT/DELETE need `Authorization: Bearer <token>` (reads stay open: the camera controller and the dashboard read). */
  apiToken?: string;
  /** EDGEVISOR_FAILPOINTS=1: POST /failpoints/<name> (apps/common/src/failpoints.ts; tests only). */
  failpoints?: boolean;
}

const bool = (def: boolean) => z.enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'expected true or false' }).default(def ? 'true' : 'false').transform((v) => v === 'true' || v === '1' || v === 'on');
const positiveMs = (def: number) => envVars.ms(def).refine((v) => v > 0, 'expected milliseconds > 0');

const envSchema = z.object({
  PORT: envVars.port(8082),
  HOST: envVars.host('127.0.0.1'),
  DATA_DIR: envVars.optionalString(),
  // Off unless asked for: WS-Discovery multicasts on every interface, which a development or CI
  // machine must never do (see README); a plant box sets ONVIF_DISCOVERY=true.
  ONVIF_DISCOVERY: bool(false),
  ONVIF_DISCOVERY_INTERVAL_MS: envVars.ms(300_000),
  ONVIF_DISCOVERY_LISTEN_MS: positiveMs(3000),
  ONVIF_DISCOVERY_INTERFACES: z.string().regex(/^[\w.@-]+(,[\w.@-]+)*$/, 'expected interface names separated by commas').optional(),
  ONVIF_REFRESH_INTERVAL_MS: positiveMs(60_000),
  ONVIF_BACKOFF_MS: positiveMs(5000),
  ONVIF_MAX_BACKOFF_MS: positiveMs(300_000),
  ONVIF_REQUEST_TIMEOUT_MS: positiveMs(5000),
  ONVIF_API_TOKEN: z.string().regex(/^\S{8,200}$/, 'expected at least 8 characters, no spaces').optional(),
  ONVIF_DRIFT_WARN_S: z.coerce.number({ message: 'expected seconds' }).positive('expected seconds > 0').max(86_400, 'expected seconds <= 86400').default(5),
  ...failpointsEnv,
});

/** Defaults for tests and library use (no env). */
export const defaultConfig: Readonly<OnvifConfig> = Object.freeze(fromEnv({}));

/** Validates the environment once; errors name the variable and what is accepted. */
export function loadConfig(env: Env): Readonly<OnvifConfig> {
  return Object.freeze(fromEnv(env));
}

function fromEnv(env: Env): OnvifConfig {
  const e = parseEnv(envSchema, env);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    storeFile: e.DATA_DIR ? join(e.DATA_DIR, 'onvif-cameras.json') : undefined,
    discoveryEnabled: e.ONVIF_DISCOVERY,
    discoveryIntervalMs: e.ONVIF_DISCOVERY_INTERVAL_MS,
    discoveryListenMs: e.ONVIF_DISCOVERY_LISTEN_MS,
    discoveryInterfaces: e.ONVIF_DISCOVERY_INTERFACES?.split(','),
    refreshIntervalMs: e.ONVIF_REFRESH_INTERVAL_MS,
    backoffMs: e.ONVIF_BACKOFF_MS,
    maxBackoffMs: e.ONVIF_MAX_BACKOFF_MS,
    requestTimeoutMs: e.ONVIF_REQUEST_TIMEOUT_MS,
    driftWarnS: e.ONVIF_DRIFT_WARN_S,
    apiToken: e.ONVIF_API_TOKEN,
    failpoints: e.EDGEVISOR_FAILPOINTS === '1',
  };
}
