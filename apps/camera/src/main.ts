import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { codes, EdgevisorError } from 'edgevisor';
import { processLogger, runMain } from '../../common/src/index.ts';
import { buildCameraApp } from './app.ts';
import { camerasFileModeWarning } from './cameras-file-mode.ts';
import { defaultCameras, loadCamerasFile, loadEnvConfig, noCameraProblem } from './config.ts';

runMain(async () => {
  const log = processLogger();
  const env = loadEnvConfig(process.env);
  const file = env.camerasFile ? await loadCamerasFile(env.camerasFile, { onvifUrl: env.onvifUrl }) : { cameras: defaultCameras };
  const cameras = file.cameras;
  // Credentials readable by every user (a box upgraded by an older release's script): said now and in /healthz.
  const modeWarning = env.camerasFile ? camerasFileModeWarning(basename(env.camerasFile), statSync(env.camerasFile).mode, file) : undefined;
  if (modeWarning) log.warn({}, modeWarning);
  if (file.discovered && !env.onvifAdopt) log.warn({}, 'the cameras file has a discovered: section, but ONVIF_ADOPT is not true: no discovered camera is adopted');
  if (env.failpoint) log.warn({ failpoint: env.failpoint }, `FAILPOINT active: hang ${env.failpoint.camera} after ${env.failpoint.afterFrames} frames per run`);
  const discovery = env.onvifAdopt && env.onvifUrl ? { onvifUrl: env.onvifUrl, ...(file.discovered ? { config: file.discovered } : {}) } : undefined;
  const none = noCameraProblem(cameras, env);
  if (none) throw new EdgevisorError(codes.SPEC_INVALID, none);
  const cam = buildCameraApp({ cameras, failpoint: env.failpoint, frames: { dir: env.framesDir, perRun: env.framesDirPerRun }, failpoints: { enabled: env.failpoints, ...(env.dataDir ? { dataDir: env.dataDir } : {}) }, ...(discovery ? { discovery } : {}), ...(modeWarning ? { camerasFileWarning: modeWarning } : {}) });
  await cam.start();
  await cam.app.listen({ port: env.port, host: env.host });
  log.info({ cameras: cameras.map((c) => c.id), url: `http://${env.host}:${env.port}` }, `${cameras.length} camera(s) on http://${env.host}:${env.port}`);
  return cam;
}, { app: 'camera', graceMs: 8000 });
