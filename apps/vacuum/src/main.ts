// The vacuum process: reads env and the vacuum file (config.ts), installs the two-phase
// SIGTERM/SIGINT handling (runMain), listens.
import { processLogger, runMain } from '../../common/src/index.ts';
import { loadConfig } from './config.ts';
import { buildApp } from './app.ts';

// Docker's stop timeout is 10 s: drain within 5 s so a stop never ends in SIGKILL (a run cut
// short is finished by the next one: see sources/safety-events.ts).
runMain(async () => {
  const config = await loadConfig(process.env);
  const v = buildApp({ config });
  await v.app.listen({ port: config.port, host: config.host });
  processLogger().info({ url: `http://${config.host}:${config.port}` }, `listening on http://${config.host}:${config.port}`);
  return { stop: () => v.close() };
}, { app: 'vacuum', graceMs: 5_000 });
