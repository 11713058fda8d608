/**
 * Vacuum configuration: the only module of apps/vacuum that sees the environment (main.ts passes
 * process.env). Validated once, frozen.
 *
 *   PORT (8084), HOST (127.0.0.1), DATA_DIR (./data: relative paths in the file resolve against
 *   it), VACUUM_CONFIG (YAML, optional: without it, safety events at inference/events.db and
 *   inference/snapshots on one volume, DATA_DIR), VACUUM_FAILPOINT (see failpoint.ts; tests only).
 *
 * The file (deploy/vacuum.yaml, deploy/embedded/vacuum.yaml) is checked with zod through the tree
 * file's loader, so errors read `vacuum.yaml:12 volumes[0].watermark.min_free_percent: ...`.
 */
import { isAbsolute, resolve } from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { envVars, loadYamlConfig, parseEnv, type Env } from '../../common/src/index.ts';
import { parseDuration } from 'edgevisor';
import { parseFailpoint, type Failpoint } from './failpoint.ts';

/** A data volume the vacuum watches (a mount, or a folder on the root filesystem). */
export interface VolumeConfig {
  /** Shown in metrics labels, events and the API instead of the path (no server path leaves the box). */
  name: string;
  path: string;
  /** Absent: the volume is measured and reported, never cleaned for space. */
  watermark?: WatermarkConfig;
}

/** When a volume counts as full. The floor is the largest of the limits given. */
export interface WatermarkConfig {
  minFreeBytes?: number;
  minFreePercent?: number;
  /** Free space must last this many hours at the measured write rate. */
  minFreeHours?: number;
  /** Deleted beyond the floor so the next run does not start at the edge again. */
  marginBytes?: number;
  marginPercent?: number;
}

/** Retention in days: null keeps forever. */
export type RetentionDays = number | null;

export interface SafetyEventsConfig {
  volume: string;
  db: string;
  snapshots: string;
  retentionDays: RetentionDays;
  /** Per class (e.g. person: 90), overriding retentionDays. */
  retentionByClass: Readonly<Record<string, RetentionDays>>;
  /** The newest N events are never deleted, whatever their age or the disk. */
  keepNewest: number;
  /** A snapshot file without a row is deleted only after this long (inference writes the file first). */
  orphanGraceMs: number;
}

export interface SupervisorEventsConfig {
  volume: string;
  db: string;
  retentionDays: RetentionDays;
  keepNewest: number;
}

export interface AppLogsConfig {
  /** Shown in reports: which app's logs. */
  name: string;
  volume: string;
  dir: string;
  /** File name glob (`*` and `?`), e.g. "*.log*". */
  pattern: string;
  retentionDays: number;
}

/** The validated vacuum file, paths resolved. */
export interface VacuumFileConfig {
  /** Cron pattern (croner: 5 or 6 fields, seconds first when 6). */
  schedule: string;
  timezone?: string;
  /** A run shortly after start, so the last-success gauge is set without waiting for the schedule. */
  runAtStart: boolean;
  /** The scheduler's own heartbeat: samples the volumes and sets vacuum_scheduler_alive_timestamp_seconds. */
  tickMs: number;
  batchSize: number;
  /** Pause between batches so writers get the lock (their busy_timeout waits for us). */
  batchPauseMs: number;
  /** The vacuum holds the write lock of a shared database at most this share of the time (percent). */
  maxLockSharePercent: number;
  /** WAL above this is checkpointed with TRUNCATE (else PASSIVE only). */
  walTruncateBytes: number;
  /** The vacuum's own SQLite: its events (what a technician reads) and the volume samples. */
  stateDb: string;
  volumes: readonly VolumeConfig[];
  safetyEvents?: SafetyEventsConfig;
  supervisorEvents?: SupervisorEventsConfig;
  appLogs: readonly AppLogsConfig[];
}

export interface VacuumConfig extends VacuumFileConfig {
  port: number;
  host: string;
  dataDir: string;
  failpoint: Failpoint | null;
}

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
const SIZE_MSG = 'expected a size like 500MB, 2GiB or a number of bytes';

/** "200MB", "1.5GiB", 1048576 -> bytes. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    throw new Error(SIZE_MSG);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(v.trim());
  const unit = m ? UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(SIZE_MSG);
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n)) throw new Error(SIZE_MSG);
  return n;
}

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try { return parseSize(v); } catch (e) { ctx.addIssue({ code: 'custom', message: `${(e as Error).message}, got ${JSON.stringify(v)}` }); return z.NEVER; }
});
const duration = (max: number) => z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const ms = parseDuration(v);
    if (ms > max) throw new Error(`expected at most ${max / 1000}s`);
    return ms;
  } catch (e) { ctx.addIssue({ code: 'custom', message: `${(e as Error).message}, got ${JSON.stringify(v)}` }); return z.NEVER; }
});
const percent = z.number().gt(0).max(99);
// 100 years: far past any box, well inside what Date arithmetic holds.
const days = z.number().positive().max(36_500);
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a short name: lowercase letters, digits, - and _');
const path = z.string().min(1);

const watermarkSchema = z.strictObject({
  min_free_bytes: size.optional(),
  min_free_percent: percent.optional(),
  min_free_hours: z.number().positive().max(8760).optional(),
  margin_bytes: size.optional(),
  margin_percent: percent.optional(),
}).refine((w) => w.min_free_bytes !== undefined || w.min_free_percent !== undefined || w.min_free_hours !== undefined, {
  message: 'expected at least one of min_free_bytes, min_free_percent, min_free_hours',
});

const fileSchema = z.strictObject({
  schedule: z.string().default('*/15 * * * *').superRefine((p, ctx) => {
    try { new Cron(p, { paused: true }).stop(); } catch (e) { ctx.addIssue({ code: 'custom', message: `expected a cron pattern like "*/15 * * * *" (${(e as Error).message}), got ${JSON.stringify(p)}` }); }
  }),
  timezone: z.string().min(1).optional(),
  run_at_start: z.boolean().default(true),
  tick: duration(3_600_000).default(60_000).refine((ms) => (ms >= 1000 && ms < 60_000 && 60_000 % ms === 0) || (ms >= 60_000 && ms % 60_000 === 0 && 3_600_000 % ms === 0), {
    message: 'expected a tick that divides a minute (1s, 2s, 5s, 10s, 15s, 30s) or an hour (1m, 5m, 10m, ...)',
  }),
  batch_size: z.number().int().min(1).max(10_000).default(200),
  batch_pause: duration(1000).default(2),
  max_lock_share: z.number().min(1).max(100).default(10),
  wal_truncate_bytes: size.default(10_000_000),
  state_db: path.default('vacuum/vacuum.db'),
  volumes: z.array(z.strictObject({ name, path, watermark: watermarkSchema.optional() })).min(1),
  safety_events: z.strictObject({
    volume: name,
    db: path,
    snapshots: path,
    retention_days: days.nullable().default(30),
    retention_by_class: z.record(z.string().min(1), days.nullable()).default({}),
    keep_newest: z.number().int().min(0).max(10_000_000).default(500),
    orphan_grace: duration(7 * 86_400_000).default(600_000),
  }).optional(),
  supervisor_events: z.strictObject({
    volume: name,
    db: path,
    retention_days: days.nullable().default(90),
    keep_newest: z.number().int().min(0).max(10_000_000).default(1000),
  }).optional(),
  app_logs: z.array(z.strictObject({ name, volume: name, dir: path, pattern: z.string().min(1).default('*.log*'), retention_days: days })).default([]),
}).superRefine((f, ctx) => {
  const names = new Set<string>();
  f.volumes.forEach((v, i) => {
    if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['volumes', i, 'name'], message: `duplicate volume name ${JSON.stringify(v.name)}` });
    names.add(v.name);
  });
  const known = `one of the volumes: ${[...names].join(', ')}`;
  const check = (v: string, p: PropertyKey[]) => {
    if (!names.has(v)) ctx.addIssue({ code: 'custom', path: p, message: `expected ${known}, got ${JSON.stringify(v)}` });
  };
  if (f.safety_events) check(f.safety_events.volume, ['safety_events', 'volume']);
  if (f.supervisor_events) check(f.supervisor_events.volume, ['supervisor_events', 'volume']);
  f.app_logs.forEach((l, i) => check(l.volume, ['app_logs', i, 'volume']));
});

type FileShape = z.infer<typeof fileSchema>;

/** Without VACUUM_CONFIG: the inference app's events on DATA_DIR, the shipped defaults. */
const DEFAULT_FILE: unknown = {
  volumes: [{ name: 'data', path: '.', watermark: { min_free_percent: 5, min_free_hours: 24 } }],
  safety_events: { volume: 'data', db: 'inference/events.db', snapshots: 'inference/snapshots' },
};

function toFileConfig(f: FileShape, dataDir: string): VacuumFileConfig {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(dataDir, p));
  const se = f.safety_events;
  const sv = f.supervisor_events;
  return {
    schedule: f.schedule,
    timezone: f.timezone,
    runAtStart: f.run_at_start,
    tickMs: f.tick,
    batchSize: f.batch_size,
    batchPauseMs: f.batch_pause,
    maxLockSharePercent: f.max_lock_share,
    walTruncateBytes: f.wal_truncate_bytes,
    stateDb: at(f.state_db),
    volumes: f.volumes.map((v) => ({
      name: v.name,
      path: at(v.path),
      watermark: v.watermark && {
        minFreeBytes: v.watermark.min_free_bytes, minFreePercent: v.watermark.min_free_percent, minFreeHours: v.watermark.min_free_hours,
        marginBytes: v.watermark.margin_bytes, marginPercent: v.watermark.margin_percent,
      },
    })),
    safetyEvents: se && {
      volume: se.volume, db: at(se.db), snapshots: at(se.snapshots), retentionDays: se.retention_days,
      retentionByClass: se.retention_by_class, keepNewest: se.keep_newest, orphanGraceMs: se.orphan_grace,
    },
    supervisorEvents: sv && { volume: sv.volume, db: at(sv.db), retentionDays: sv.retention_days, keepNewest: sv.keep_newest },
    appLogs: f.app_logs.map((l) => ({ name: l.name, volume: l.volume, dir: at(l.dir), pattern: l.pattern, retentionDays: l.retention_days })),
  };
}

/** Validates a vacuum file (throws SPEC_INVALID with `file:line field: message` details). */
export async function loadVacuumFile(file: string, dataDir: string): Promise<VacuumFileConfig> {
  return deepFreeze(toFileConfig(await loadYamlConfig(file, fileSchema), dataDir));
}

/** For tests and the bench: a config from a plain object, as the file would give it. */
export function vacuumFileFromObject(obj: unknown, dataDir: string): VacuumFileConfig {
  return deepFreeze(toFileConfig(fileSchema.parse(obj), dataDir));
}

const envSchema = z.object({
  PORT: envVars.port(8084),
  HOST: envVars.host('127.0.0.1'),
  DATA_DIR: z.string().min(1, 'expected a directory path').default('./data'),
  VACUUM_CONFIG: envVars.optionalString(),
  VACUUM_FAILPOINT: z.string().optional().superRefine((v, ctx) => {
    if (v === undefined || v === '') return;
    try { parseFailpoint(v); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
  }),
});

/** The built-in config on `dataDir` (no VACUUM_CONFIG), no failpoint, default port. */
export function defaultVacuumConfig(dataDir: string): Readonly<VacuumConfig> {
  return Object.freeze({ ...vacuumFileFromObject(DEFAULT_FILE, resolve(dataDir)), port: 8084, host: '127.0.0.1', dataDir: resolve(dataDir), failpoint: null });
}

export async function loadConfig(env: Env): Promise<Readonly<VacuumConfig>> {
  const e = parseEnv(envSchema, env);
  const dataDir = resolve(e.DATA_DIR);
  const file = e.VACUUM_CONFIG ? await loadVacuumFile(resolve(e.VACUUM_CONFIG), dataDir) : vacuumFileFromObject(DEFAULT_FILE, dataDir);
  return Object.freeze({ ...file, port: e.PORT, host: e.HOST, dataDir, failpoint: e.VACUUM_FAILPOINT ? parseFailpoint(e.VACUUM_FAILPOINT) : null });
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
