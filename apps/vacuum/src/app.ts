// Placeholder vacuum app (issue 3): real /healthz and /metrics until the retention issue lands
// (pruning old frames and events from the data volume replaces it).
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { createAppServer, dataDirCheck } from '../../common/src/index.ts';

/** What `buildApp` needs; `main.ts` fills it from env, tests pass it directly. */
export interface VacuumAppOptions {
  /** Data volume; /healthz fails when it is not writable (a lost volume must be noticed). */
  dataDir?: string;
}

export function buildApp(opts: VacuumAppOptions): FastifyInstance {
  const { app, registry, addHealthCheck } = createAppServer({ name: 'vacuum' });
  new Gauge({ name: 'vacuum_runs_total', help: 'Retention runs completed (always 0 in the placeholder)', registers: [registry] }).set(0);
  if (opts.dataDir) addHealthCheck('data_dir', dataDirCheck(opts.dataDir));
  return app;
}
