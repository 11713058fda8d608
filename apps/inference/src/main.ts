/** The inference process: reads env, listens, starts the frame loops; SIGTERM drains. */
import { processLogger, runMain } from '../../common/src/index.ts';
import { loadConfig } from './config.ts';
import { buildInferenceApp } from './app.ts';

runMain(async () => {
  const cfg = loadConfig(process.env);
  const inf = await buildInferenceApp(cfg);
  await inf.app.listen({ port: cfg.port, host: cfg.host });
  processLogger().info({ url: `http://${cfg.host}:${cfg.port}`, ...(cfg.failpoint ? { failpoint: cfg.failpoint } : {}) }, `listening on http://${cfg.host}:${cfg.port}${cfg.failpoint ? ` (failpoint ${cfg.failpoint.kind} after ${cfg.failpoint.afterMs}ms)` : ''}`);
  inf.startLoops();
  return { stop: () => inf.close() };
}, { app: 'inference' });
