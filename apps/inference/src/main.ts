/** The inference process: reads env, listens, starts the frame loops; SIGTERM drains. */
import { redactingLog, runMain } from '../../common/src/index.ts';
import { loadConfig } from './config.ts';
import { buildInferenceApp } from './app.ts';

runMain(async () => {
  const cfg = loadConfig(process.env);
  const inf = await buildInferenceApp(cfg);
  await inf.app.listen({ port: cfg.port, host: cfg.host });
  redactingLog()(`inference listening on http://${cfg.host}:${cfg.port}${cfg.failpoint ? ` (failpoint ${cfg.failpoint.kind} after ${cfg.failpoint.afterMs}ms)` : ''}`);
  inf.startLoops();
  return { stop: () => inf.close() };
});
