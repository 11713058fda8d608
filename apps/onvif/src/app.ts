// Placeholder ONVIF app (issue 3): real /healthz and /metrics until the ONVIF issue lands (discovery,
// PTZ and event subscription replace it).
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { createAppServer, dataDirCheck } from '../../common/src/index.ts';

/** What `buildApp` needs; `main.ts` fills it from env, tests pass it directly. */
export interface OnvifAppOptions {
  /** Data volume; /healthz fails when it is not writable (a lost volume must be noticed). */
  dataDir?: string;
}

export function buildApp(opts: OnvifAppOptions): FastifyInstance {
  const { app, registry, addHealthCheck } = createAppServer({ name: 'onvif' });
  new Gauge({ name: 'onvif_devices_known', help: 'ONVIF devices this service knows about (always 0 in the placeholder)', registers: [registry] }).set(0);
  if (opts.dataDir) addHealthCheck('data_dir', dataDirCheck(opts.dataDir));
  return app;
}
