// The web process: reads env (config.ts), installs the two-phase SIGTERM/SIGINT handling (runMain), listens.
import { processLogger, runMain } from '../../common/src/index.ts';
import { buildApp } from './app.ts';
import { loadWebConfig } from './config.ts';

// Env is parsed inside start() so a bad value prints as one clear line, not a stack trace.
// Docker's stop timeout is 10 s: drain within 5 s so a stop never ends in SIGKILL.
runMain(async () => {
  const cfg = loadWebConfig(process.env);
  const log = processLogger();
  for (const w of cfg.warnings) log.warn(w);
  const app = buildApp(cfg);
  await app.listen({ port: cfg.port, host: cfg.host });
  log.info({ url: `http://${cfg.host}:${cfg.port}/` }, `dashboard on http://${cfg.host}:${cfg.port}/`);
  return { stop: () => app.close() };
}, { app: 'web', graceMs: 5_000 });
