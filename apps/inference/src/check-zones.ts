/**
 * `node apps/inference/src/check-zones.ts [--cameras dock,press] ZONES.yaml`: checks a zones
 * file with the loader the inference app runs at start (zones/zones-file.ts loadZones), against
 * the cameras given and the classes of MODEL narrowed by CLASSES, read from the environment as
 * the app reads them (config.ts) and from the model file's metadata only (no session is made).
 * `edgevisorctl apply` runs it from the installed image before it lets a site file go live.
 * Valid: `zones.yaml: ok, 2 zones on 2 cameras`, exit 0. Invalid: one line per problem on stderr
 * (`zones.yaml:9 cameras.dock.zones[0].rules[0].class: unknown class "persn": ...`), exit 1.
 */
import { basename } from 'node:path';
import { EdgevisorError, codes } from 'edgevisor';
import { loadConfig } from './config.ts';
import { readModelMetadata } from './model/onnx-proto.ts';
import { parseNames } from './model/yolo.ts';
import { loadZones } from './zones/zones-file.ts';

/** The classes the app's detector would report for this model file (app.ts modelClasses, without a session). */
function classesOf(model: string, wanted: readonly string[]): readonly string[] | undefined {
  let names: readonly string[] | undefined;
  try {
    const meta = readModelMetadata(model);
    if (meta['edgevisor_kind'] === 'motion') names = ['motion'];
    else if (meta['edgevisor_kind'] === 'nanodet' || meta['edgevisor_kind'] === 'centernet') names = JSON.parse(meta['names'] ?? '[]') as string[];
    else names = parseNames(meta['names']) ?? undefined;
  } catch {
    // No model file or no metadata: the classes are not checked (the app checks them at start).
  }
  if (wanted.length) names = names ? names.filter((n) => wanted.includes(n)) : wanted;
  return names;
}

const args = process.argv.slice(2);
let cameras: string[] | undefined;
if (args[0] === '--cameras') {
  cameras = (args[1] ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  args.splice(0, 2);
}
const file = args[0];
if (!file || args.length > 1) {
  process.stderr.write('usage: check-zones.ts [--cameras ID,ID] ZONES.yaml\n');
  process.exit(1);
}
const name = basename(file);
try {
  const cfg = loadConfig(process.env);
  const classes = classesOf(cfg.model, cfg.classes);
  const zones = await loadZones(file, { ...(cameras ? { cameras } : {}), ...(classes ? { classes } : {}) });
  const n = Object.values(zones.cameras).reduce((a, c) => a + c.zones.length, 0);
  const m = Object.keys(zones.cameras).length;
  process.stdout.write(`${name}: ok, ${n} zone${n === 1 ? '' : 's'} on ${m} camera${m === 1 ? '' : 's'}\n`);
} catch (err) {
  if (!(err instanceof EdgevisorError) || err.code !== codes.SPEC_INVALID) throw err;
  const lines = err.details.length ? err.details : [err.message];
  process.stderr.write(lines.map((l) => l.replaceAll(file, name)).join('\n') + '\n');
  process.exit(1);
}
