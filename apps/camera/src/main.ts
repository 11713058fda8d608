import { processLogger, runMain } from '../../common/src/index.ts';
import { buildCameraApp } from './app.ts';
import { defaultCameras, loadCameras, loadEnvConfig } from './config.ts';

runMain(async () => {
  const log = processLogger();
  const env = loadEnvConfig(process.env);
  const cameras = env.camerasFile ? await loadCameras(env.camerasFile, { onvifUrl: env.onvifUrl }) : defaultCameras;
  if (env.failpoint) log.warn({ failpoint: env.failpoint }, `FAILPOINT active: hang ${env.failpoint.camera} after ${env.failpoint.afterFrames} frames per run`);
  const cam = buildCameraApp({ cameras, failpoint: env.failpoint, frames: { dir: env.framesDir, perRun: env.framesDirPerRun } });
  await cam.start();
  await cam.app.listen({ port: env.port, host: env.host });
  log.info({ cameras: cameras.map((c) => c.id), url: `http://${env.host}:${env.port}` }, `${cameras.length} camera(s) on http://${env.host}:${env.port}`);
  return cam;
}, { app: 'camera', graceMs: 8000 });
