/**
 * The vacuum's HTTP API (fastify, buildable in a test; main.ts listens):
 *   GET  /healthz            the volumes can be measured (statfs) and the data dir is writable
 *   GET  /metrics            see metrics.ts
 *   POST /runs?dry_run=1&wait=0   run now (dry: report only); 200 with the report, 202 when wait=0,
 *                            409 VACUUM_ERR_RUN_IN_PROGRESS while a run is going
 *   GET  /runs, /runs/:id    reports of the last 50 runs of this process (newest first)
 *   GET  /events?since=&limit=   what a technician reads: every run, watermark deletion, alarm
 *   GET  /status             running, last success, next scheduled run, skipped runs, volumes
 * No answer carries a server path: volumes go by name, errors through publicError.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createAppServer, dataDirCheck, processLogger, sendError, AppError } from '../../common/src/index.ts';
import type { VacuumConfig } from './config.ts';
import { createVacuumMetrics } from './metrics.ts';
import { startScheduler, type Scheduler } from './scheduler.ts';
import { openStateDb, type StateDb, type VacuumEvent } from './state-db.ts';
import { createVacuum, RUN_IN_PROGRESS, type Vacuum } from './vacuum.ts';
import { statVolume } from './volumes.ts';

/** What `buildApp` needs; main.ts fills it from config.ts, tests pass it directly. */
export interface VacuumAppOptions {
  config: VacuumConfig;
  /** Start the schedule (default true; tests of the API alone pass false). */
  schedule?: boolean;
  /** Where event lines go (default: one JSON line per event on stdout). */
  log?: (e: VacuumEvent) => void;
}

export interface VacuumApp {
  app: FastifyInstance;
  vacuum: Vacuum;
  state: StateDb;
  scheduler?: Scheduler;
  /** Stops the schedule and the server, stops a run in progress at its next batch, closes the state db. */
  close(): Promise<void>;
}

const bool = z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true');
const runQuery = z.strictObject({ dry_run: bool.optional(), wait: bool.optional() });
const eventsQuery = z.strictObject({
  since: z.string().regex(/^\d{1,15}$/, 'expected an event id (integer >= 0)').transform(Number).optional(),
  limit: z.string().regex(/^\d{1,4}$/, 'expected 1..1000').transform(Number).refine((n) => n >= 1 && n <= 1000, 'expected 1..1000').optional(),
});

// One JSON line per vacuum event on the process's logger (warning -> warn, alarm -> error).
const jsonLine = ({ level, message, ...rest }: VacuumEvent) => processLogger()[level === 'alarm' ? 'error' : level === 'warning' ? 'warn' : 'info']({ event: rest.type, ...rest }, message);

export function buildApp(opts: VacuumAppOptions): VacuumApp {
  const cfg = opts.config;
  const { app, registry, addHealthCheck } = createAppServer({ name: 'vacuum' });
  const metrics = createVacuumMetrics(registry);
  const state = openStateDb(cfg.stateDb, opts.log ?? jsonLine);
  const vacuum = createVacuum(cfg, { state, metrics, failpoint: cfg.failpoint });
  const scheduler = opts.schedule === false ? undefined : startScheduler(cfg, vacuum, state, metrics);

  addHealthCheck('data_dir', dataDirCheck(cfg.dataDir));
  addHealthCheck('volumes', async () => {
    for (const v of cfg.volumes) {
      await statVolume(v.path).catch(() => { throw new Error(`volume ${v.name} cannot be measured (missing or not mounted)`); });
    }
  });

  const bad = (reply: Parameters<typeof sendError>[0], err: z.ZodError) =>
    sendError(reply, 400, 'VACUUM_ERR_BAD_REQUEST', 'bad query', err.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`));

  app.post('/runs', async (req, reply) => {
    const q = runQuery.safeParse(req.query);
    if (!q.success) return bad(reply, q.error);
    if (vacuum.isRunning()) return sendError(reply, 409, RUN_IN_PROGRESS, 'a vacuum run is already going; try again when it has finished');
    const p = vacuum.run({ dryRun: q.data.dry_run ?? false, trigger: 'api' });
    if (q.data.wait === false) {
      void p.catch(() => {});
      return reply.code(202).send({ accepted: true });
    }
    try {
      return await p;
    } catch (err) {
      if (err instanceof AppError && err.code === RUN_IN_PROGRESS) return sendError(reply, 409, err.code, err.message);
      throw err;
    }
  });
  app.get('/runs', async () => ({ runs: [...vacuum.reports()].reverse() }));
  app.get<{ Params: { id: string } }>('/runs/:id', async (req, reply) => {
    const r = /^\d{1,9}$/.test(req.params.id) ? vacuum.reports().find((x) => x.id === Number(req.params.id)) : undefined;
    return r ?? sendError(reply, 404, 'VACUUM_ERR_UNKNOWN_RUN', `no run ${JSON.stringify(req.params.id)} among the last ${vacuum.reports().length}`);
  });
  app.get('/events', async (req, reply) => {
    const q = eventsQuery.safeParse(req.query);
    if (!q.success) return bad(reply, q.error);
    return { events: state.events(q.data.since ?? 0, q.data.limit ?? 100) };
  });
  app.get('/status', async () => ({
    running: vacuum.isRunning(),
    lastSuccessTs: vacuum.lastSuccess() || null,
    nextRunTs: scheduler?.nextRun() ?? null,
    lastTickTs: scheduler?.lastTick() || null,
    skippedRuns: scheduler?.skipped() ?? 0,
    volumes: vacuum.volumes(),
  }));
  app.get('/volumes', async () => ({ volumes: vacuum.volumes() }));

  return {
    app, vacuum, state, scheduler,
    async close() {
      scheduler?.stop();
      await app.close();
      // A run stops at its next batch boundary (rows, files and journal agree there); it is
      // crash-safe either way, this only makes a clean stop clean. Within runMain's 5 s grace.
      await vacuum.stop(3000);
      state.close();
    },
  };
}
