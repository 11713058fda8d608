/**
 * The check entries `edgevisorctl apply` runs in the image (apps/camera/src/check-cameras.ts,
 * apps/inference/src/check-zones.ts) as real processes on real files: the demo files pass with a
 * one-line summary; a bad file exits 1 with the app loader's messages (file, line, field, what is
 * accepted), and zones are checked against the cameras given and the model's classes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-site-checks-'));
const nanodet = { MODEL: join(root, 'models/nanodet.onnx'), CLASSES: 'person' };

function check(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, script), ...args], { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
function variant(name: string, from: string, edit: (s: string) => string): string {
  const p = join(dir, name);
  writeFileSync(p, edit(readFileSync(join(root, 'deploy/site', from), 'utf8')));
  return p;
}

describe('site file checks', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('cameras: the demo file passes; a bad one is refused with file, line and field', async () => {
    const ok = await check('apps/camera/src/check-cameras.ts', [join(root, 'deploy/site/cameras.yaml')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'cameras.yaml: ok, 2 cameras: dock, press\n');
    const bad = await check('apps/camera/src/check-cameras.ts', [variant('cameras.yaml', 'cameras.yaml', (s) => s.replace('fps: 5', 'fps: fast').replace('id: press', 'id: "press guard"'))]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^cameras\.yaml:14 cameras\[0\]\.fps: expected a number, got "fast"$/m);
    assert.match(bad.stderr, /^cameras\.yaml:\d+ cameras\[1\]\.id: /m);
    assert.ok(!bad.stderr.includes(dir), 'the file by its name, not its path');
    // The commented discovered: section of the demo file (what ONVIF_ADOPT cameras get) is checked too.
    const uncomment = (s: string) => s.replace(/^# (discovered:|  \w+:.*)$/gm, '$1');
    const disc = await check('apps/camera/src/check-cameras.ts', [variant('cameras.yaml', 'cameras.yaml', uncomment)]);
    assert.equal(disc.code, 0, disc.stderr);
    assert.equal(disc.stdout, 'cameras.yaml: ok, 2 cameras: dock, press\n', 'the same summary: edgevisorctl takes the ids from it');
    const badDisc = await check('apps/camera/src/check-cameras.ts', [variant('cameras.yaml', 'cameras.yaml', (s) => uncomment(s).replace('forget_after_polls: 3', 'forget_after_polls: never'))]);
    assert.equal(badDisc.code, 1);
    assert.match(badDisc.stderr, /^cameras\.yaml:\d+ discovered\.forget_after_polls: expected an integer 1\.\.100 \(polls\)$/m);
    // No camera listed: only for a controller that adopts (compose's EDGEVISOR_ONVIF_ADOPT), as the app itself decides at start.
    const none = join(dir, 'cameras.yaml');
    writeFileSync(none, 'cameras: []\ndiscovered: { fps: 2 }\n');
    const refused = await check('apps/camera/src/check-cameras.ts', [none], { ONVIF_URL: 'http://onvif:8082' });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^cameras\.yaml: cameras: is empty and ONVIF_ADOPT is not true, so this controller would have no camera/m);
    const adopting = await check('apps/camera/src/check-cameras.ts', [none], { ONVIF_URL: 'http://onvif:8082', ONVIF_ADOPT: 'true' });
    assert.deepEqual([adopting.code, adopting.stdout], [0, 'cameras.yaml: ok, 0 cameras: \n'], adopting.stderr);
  });

  test('zones: the demo file passes against the demo cameras and NanoDet; unknown cameras and classes are refused', async () => {
    const ok = await check('apps/inference/src/check-zones.ts', ['--cameras', 'dock, press', join(root, 'deploy/site/zones.yaml')], nanodet);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'zones.yaml: ok, 2 zones on 2 cameras\n');
    const bad = await check('apps/inference/src/check-zones.ts', ['--cameras', 'dock', variant('zones.yaml', 'zones.yaml', (s) => s.replace('class: person', 'class: persn'))], nanodet);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^zones\.yaml:11 cameras\.dock\.zones\[0\]\.rules\[0\]\.class: unknown class "persn": .*did you mean "person"\?/m);
    assert.match(bad.stderr, /^zones\.yaml:\d+ cameras\.press: unknown camera "press": .*known: dock$/m);
    // The motion model reports "motion" only: a person rule would never fire with it.
    const motion = await check('apps/inference/src/check-zones.ts', [join(root, 'deploy/site/zones.yaml')], { MODEL: join(root, 'models/motion.onnx') });
    assert.equal(motion.code, 1);
    assert.match(motion.stderr, /unknown class "person".*known: motion/);
  });
});
