// The onvif process: reads env, installs the two-phase SIGTERM/SIGINT handling (runMain), listens.
import { processLogger, runMain } from '../../common/src/index.ts';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

// Config is parsed inside start() so a bad value prints as one clear line, not a stack trace.
// Docker's stop timeout is 10 s: drain within 5 s so a stop never ends in SIGKILL.
runMain(async () => {
  const config = loadConfig(process.env);
  const log = processLogger();
  const svc = buildApp({ config });
  svc.start();
  await svc.app.listen({ port: config.port, host: config.host });
  log.info({ url: `http://${config.host}:${config.port}`, discovery: config.discoveryEnabled }, `listening on http://${config.host}:${config.port}`);
  return { stop: () => svc.stop() };
}, { app: 'onvif', graceMs: 5_000 });
