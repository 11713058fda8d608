// Placeholder web app (issue 3): real /healthz and /metrics so the compose stack and its probes
// can be exercised end to end before the dashboard issue replaces this file.
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { createAppServer, dataDirCheck } from '../../common/src/index.ts';

/** What `buildApp` needs; `main.ts` fills it from env, tests pass it directly. */
export interface WebAppOptions {
  /** Shown on the page and in `web_info` so a technician can tell which bundle runs. */
  version: string;
  /** Data volume; /healthz fails when it is not writable (a lost volume must be noticed). */
  dataDir?: string;
}

export function buildApp(opts: WebAppOptions): FastifyInstance {
  const { app, registry, addHealthCheck } = createAppServer({ name: 'web' });
  const requests = new Counter({ name: 'web_http_requests_total', help: 'HTTP requests served', labelNames: ['route'], registers: [registry] });
  const info = new Counter({ name: 'web_info', help: 'Always 1; the label says which version runs', labelNames: ['version'], registers: [registry] });
  info.inc({ version: opts.version });
  app.addHook('onResponse', async (req) => {
    requests.inc({ route: req.routeOptions.url ?? 'unknown' });
  });
  if (opts.dataDir) addHealthCheck('data_dir', dataDirCheck(opts.dataDir));

  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return `<!doctype html><title>edgevisor</title><h1>edgevisor</h1><p>web placeholder ${escapeHtml(opts.version)}: the dashboard lands with its own issue.</p>`;
  });
  return app;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
