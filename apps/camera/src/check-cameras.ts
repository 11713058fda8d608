/**
 * `node apps/camera/src/check-cameras.ts CAMERAS.yaml`: checks a cameras file with the loader
 * the camera app runs at start (config.ts loadCameras), and nothing else: no camera is opened.
 * `edgevisorctl apply` runs it from the installed image before it lets a site file go live.
 * Valid: one line on stdout, `cameras.yaml: ok, 2 cameras: dock, press`, exit 0. Invalid: one
 * line per problem on stderr (`cameras.yaml:7 cameras[0].fps: expected ...`), exit 1.
 * ONVIF_URL and ONVIF_ADOPT are read as the app reads them (a device source needs the onvif
 * service; `cameras: []` needs ONVIF_ADOPT=true). The optional
 * `discovered:` section (what ONVIF_ADOPT cameras get) is checked too; the summary names the
 * configured cameras only (edgevisorctl takes the zones' camera ids from it).
 */
import { basename } from 'node:path';
import { EdgevisorError, codes } from 'edgevisor';
import { loadCameras, loadEnvConfig, noCameraProblem } from './config.ts';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  process.stderr.write('usage: check-cameras.ts CAMERAS.yaml\n');
  process.exit(1);
}
const name = basename(file);
try {
  const env = loadEnvConfig(process.env);
  const cameras = await loadCameras(file, { onvifUrl: env.onvifUrl });
  const none = noCameraProblem(cameras, env);
  if (none) throw new EdgevisorError(codes.SPEC_INVALID, `${name}: ${none.replace(/^CAMERAS_FILE: /, '')}`);
  process.stdout.write(`${name}: ok, ${cameras.length} camera${cameras.length === 1 ? '' : 's'}: ${cameras.map((c) => c.id).join(', ')}\n`);
} catch (err) {
  if (!(err instanceof EdgevisorError) || err.code !== codes.SPEC_INVALID) throw err;
  const lines = err.details.length ? err.details : [err.message];
  // The loader names the file by its path in a few messages: the file's name is enough here.
  process.stderr.write(lines.map((l) => (l.startsWith(name) ? l : `${name} ${l}`).replaceAll(file, name)).join('\n') + '\n');
  process.exit(1);
}
