// The web process: reads env, installs the two-phase SIGTERM/SIGINT handling (runMain), listens.
import { z } from 'zod';
import { envVars, parseEnv, runMain } from '../../common/src/index.ts';
import { buildApp } from './app.ts';

// Env is parsed inside start() so a bad value prints as one clear line, not a stack trace.
// Docker's stop timeout is 10 s: drain within 5 s so a stop never ends in SIGKILL.
runMain(async () => {
  const env = parseEnv(
    z.object({
      PORT: envVars.port(8080),
      HOST: envVars.host('127.0.0.1'),
      DATA_DIR: envVars.optionalString(),
      EDGEVISOR_VERSION: z.string().default('dev'),
      INFERENCE_URL: z.string().regex(/^https?:\/\/[^/]+/, 'expected an http:// URL of the inference app').default('http://127.0.0.1:8083'),
      WEB_EVENTS_POLL_MS: envVars.ms(1000),
    }),
    process.env,
  );
  const app = buildApp({ version: env.EDGEVISOR_VERSION, dataDir: env.DATA_DIR, inferenceUrl: env.INFERENCE_URL, eventsPollMs: Math.max(100, env.WEB_EVENTS_POLL_MS) });
  await app.listen({ port: env.PORT, host: env.HOST });
  return { stop: () => app.close() };
}, { graceMs: 5_000 });
