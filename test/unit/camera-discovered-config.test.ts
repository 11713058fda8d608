// The cameras file's `discovered:` section (apps/camera/src/config.ts) and the pure decisions of
// the discovered-camera poller (apps/camera/src/discovered-plan.ts): what a discovered camera
// gets, which ones are adopted, and when a worker goes (N polls in a row missing, never on a poll
// without a list). Real files in a temp dir for the loader's file:line errors.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgevisorError } from 'edgevisor';
import { DEFAULT_FORGET_AFTER_POLLS, defaultDiscovered, discoveredCamera, loadCamerasFile, parseCamerasFile, type DiscoveredConfig } from '../../apps/camera/src/config.ts';
import { listingIsPartial, parseListing, planPoll, verdict, type ListedCamera } from '../../apps/camera/src/discovered-plan.ts';

const dir = mkdtempSync(join(tmpdir(), `edgevisor-disc-config-${process.pid}-`));
const ONVIF = 'http://127.0.0.1:8082';
const CAMERAS = 'cameras:\n  - id: dock\n    source: { synthetic: {} }\n';

function file(text: string): string {
  const p = join(dir, 'cameras.yaml');
  writeFileSync(p, text);
  return p;
}
/** The loader's problem lines for a file (it must refuse it). */
async function problems(text: string): Promise<string[]> {
  try {
    await loadCamerasFile(file(text), { onvifUrl: ONVIF });
  } catch (err) {
    assert.ok(err instanceof EdgevisorError, String(err));
    return err.details.length ? [...err.details] : [err.message];
  }
  assert.fail('the file was accepted');
}

describe('cameras file: discovered section', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('no camera listed: accepted with a discovered: section (every camera from the onvif service), refused without one', async () => {
    const f = await loadCamerasFile(file('cameras: []\ndiscovered: { fps: 2 }\n'), { onvifUrl: ONVIF });
    assert.deepEqual([f.cameras, f.discovered?.settings.fps], [[], 2]);
    const [p] = await problems('cameras: []\n');
    assert.match(p!, /cameras\.yaml:1 cameras: expected at least one camera, or a discovered: section/);
  });

  test('its settings reach every discovered camera: size, fps, detect, heartbeat, profile, credentials', async () => {
    const f = await loadCamerasFile(file(`${CAMERAS}discovered:
  fps: 2
  width: 320
  height: 240
  detect: { width: 416, height: 416 }
  heartbeat_timeout_ms: 20000
  profile: sub
  username: viewer
  password: Disc-pw-1
  allow: { manufacturers: [Axis, Hanwha] }
  deny: { ids: [cam-9] }
  forget_after_polls: 5
`), { onvifUrl: ONVIF });
    assert.deepEqual(f.cameras.map((c) => c.id), ['dock']);
    const d = f.discovered!;
    assert.equal(d.forgetAfterPolls, 5);
    assert.deepEqual(d.allow, { manufacturers: ['Axis', 'Hanwha'] });
    assert.deepEqual(d.deny, { ids: ['cam-9'] });
    const c = discoveredCamera('addr-10-0-0-7-80', ONVIF, d);
    assert.deepEqual([c.id, c.fps, c.width, c.height, c.heartbeatTimeoutMs, c.detect], ['addr-10-0-0-7-80', 2, 320, 240, 20000, { width: 416, height: 416 }]);
    assert.deepEqual(c.source, { kind: 'onvif', serviceUrl: ONVIF, device: 'addr-10-0-0-7-80', address: undefined, profile: 'sub', streamUri: undefined, username: 'viewer', password: 'Disc-pw-1' });
  });

  test('without the section (or with an empty one) a discovered camera gets the defaults of a configured onvif camera', async () => {
    assert.equal((await loadCamerasFile(file(CAMERAS))).discovered, undefined);
    const empty = parseCamerasFile({ cameras: [{ id: 'a', source: { synthetic: {} } }], discovered: {} }).discovered!;
    assert.deepEqual(empty, defaultDiscovered);
    assert.equal(defaultDiscovered.forgetAfterPolls, DEFAULT_FORGET_AFTER_POLLS);
    const c = discoveredCamera('cam-1', ONVIF);
    assert.deepEqual([c.fps, c.width, c.height, c.heartbeatTimeoutMs, c.detect], [5, 640, 360, 10_000, undefined]);
    assert.throws(() => discoveredCamera('not an id', ONVIF), /discovered camera "not an id": expected an id of letters, digits/);
  });

  test('bad values: one line each with file, line, field and what is accepted', async () => {
    const lines = await problems(`${CAMERAS}discovered:
  fps: fast
  detect: { width: 8, height: 416 }
  forget_after_polls: 0
  allow: {}
  deny: { manufacturers: [] }
`);
    assert.deepEqual(lines.sort(), [
      'cameras.yaml:5 discovered.fps: expected a number, got "fast"',
      'cameras.yaml:6 discovered.detect.width: expected an integer 16..1920 (pixels)',
      'cameras.yaml:7 discovered.forget_after_polls: expected an integer 1..100 (polls)',
      'cameras.yaml:8 discovered.allow: expected ids: [...] and/or manufacturers: [...]',
      'cameras.yaml:9 discovered.deny.manufacturers: expected at least one manufacturer',
    ].sort(), lines.join('\n'));
  });

  test('a camera\'s id and source are not settings of the section; a misspelt key is named', async () => {
    const lines = await problems(`${CAMERAS}discovered:\n  id: x\n  source: { rtsp: { url: rtsp://10.0.0.5/s } }\n  fsp: 2\n`);
    const accepted = 'accepted: fps, width, height, heartbeat_timeout_ms, detect, profile, username, password, allow, deny, forget_after_polls';
    assert.deepEqual(lines, [
      `cameras.yaml:5 discovered.id: unknown field "id"; ${accepted}`,
      `cameras.yaml:6 discovered.source: unknown field "source"; ${accepted}`,
      `cameras.yaml:7 discovered.fsp: unknown field "fsp"; ${accepted}`,
    ]);
    const wrong = await problems(`${CAMERAS}discovered: yes\n`);
    assert.deepEqual(wrong, ['cameras.yaml:4 discovered: expected a mapping, got "yes"']);
  });
});

const listed = (id: string, manufacturer: string | null = 'Acme', status = 'ok'): ListedCamera => ({ id, status, manufacturer });
const cfg = (over: Partial<DiscoveredConfig> = {}): DiscoveredConfig => ({ ...defaultDiscovered, forgetAfterPolls: 3, ...over });
const none = () => false;

describe('discovered cameras: the poll plan', () => {
  test('a camera missing from N lists in a row loses its worker; listed again (even offline) resets the count', () => {
    let adopted = new Map([['a', 0], ['b', 0]]);
    const c = cfg();
    // Poll 1, 2: b is missing; a is listed but unreachable (it keeps its worker).
    for (const misses of [1, 2]) {
      const p = planPoll([listed('a', 'Acme', 'unreachable')], adopted, c, none);
      assert.deepEqual(p.remove, []);
      assert.deepEqual([...p.missing], [['a', 0], ['b', misses]]);
      adopted = p.missing;
    }
    // b comes back before the third: its count starts over.
    const back = planPoll([listed('a'), listed('b')], adopted, c, none);
    assert.deepEqual([...back.missing], [['a', 0], ['b', 0]]);
    adopted = back.missing;
    for (let i = 1; i < 3; i++) adopted = planPoll([listed('a')], adopted, c, none).missing;
    const gone = planPoll([listed('a')], adopted, c, none);
    assert.deepEqual(gone.remove, ['b'], 'the third poll in a row without b');
    assert.deepEqual([...gone.missing], [['a', 0]]);
    assert.deepEqual(planPoll([], new Map([['x', 0]]), cfg({ forgetAfterPolls: 1 }), none).remove, ['x'], 'forget_after_polls: 1 removes at the first list without it');
  });

  test('a partial list (the service just started, its first discovery run not finished) adopts what it lists and counts no camera missing', () => {
    const adopted = new Map([['a', 0], ['b', 1]]);
    const p = planPoll([listed('n1')], adopted, cfg({ forgetAfterPolls: 2 }), none, true);
    assert.deepEqual([p.adopt, p.remove, [...p.missing]], [['n1'], [], [['a', 0], ['b', 1]]], 'counts kept as they were, nothing removed');
    const whole = planPoll([listed('n1')], adopted, cfg({ forgetAfterPolls: 2 }), none);
    assert.deepEqual([whole.remove, [...whole.missing]], [['b'], [['a', 1]]], 'the same list, whole: b removed, a counted');
    assert.deepEqual([{ cameras: [], partial: true }, { cameras: [], partial: false }, { cameras: [] }, { cameras: [], partial: 'yes' }, null].map(listingIsPartial), [true, false, false, false, false], 'only partial: true (an older service without the field gives whole lists)');
  });

  test('new cameras are adopted unless taken (a configured camera or device, a child id) or already adopted', () => {
    const p = planPoll([listed('a'), listed('n1'), listed('dock'), listed('n2')], new Map([['a', 0]]), cfg(), (id) => id === 'dock');
    assert.deepEqual(p.adopt, ['n1', 'n2']);
    assert.deepEqual(planPoll([listed('n1'), listed('n1')], new Map(), cfg(), none).adopt, ['n1'], 'listed twice, adopted once');
  });

  test('allow / deny: by id or manufacturer (any case); deny wins; a manufacturer rule waits until the camera answered', () => {
    const axisOnly = { allow: { manufacturers: ['axis'] } };
    assert.deepEqual(verdict(listed('c1', 'AXIS'), axisOnly), { adopt: true });
    assert.deepEqual(verdict(listed('c2', 'Hanwha'), axisOnly), { adopt: false, why: 'neither its id nor its manufacturer (Hanwha) is in discovered.allow' });
    assert.equal(verdict(listed('c3', null), axisOnly).adopt, 'wait');
    assert.deepEqual(verdict(listed('c3', null), { allow: { ids: ['c3'] } }), { adopt: true }, 'an id rule needs no manufacturer');
    assert.deepEqual(verdict(listed('c1', 'Axis'), { ...axisOnly, deny: { ids: ['c1'] } }), { adopt: false, why: 'its id is in discovered.deny' });
    assert.deepEqual(verdict(listed('c4', 'Acme'), { deny: { manufacturers: ['ACME'] } }), { adopt: false, why: 'its manufacturer (Acme) is in discovered.deny' });
    assert.equal(verdict(listed('c5', null), { allow: { ids: ['c5'] }, deny: { manufacturers: ['Acme'] } }).adopt, 'wait', 'a deny by manufacturer must know it first');
    const p = planPoll([listed('c1', 'Axis'), listed('c2', 'Hanwha'), listed('c3', null)], new Map(), cfg(axisOnly), none);
    assert.deepEqual([p.adopt, p.refused.map((r) => r.id), p.waiting], [['c1'], ['c2'], ['c3']]);
  });

  test('a body that is not a camera list is a failed poll (it throws), never an empty list', () => {
    for (const body of [null, {}, { cameras: null }, { cameras: {} }, 'x', { error: { code: 'X' } }]) assert.throws(() => parseListing(body), /expected \{ cameras: \[\.\.\.\] \}/);
    assert.deepEqual(parseListing({ cameras: [] }), []);
    assert.deepEqual(parseListing({ cameras: [{ id: 'a', status: 'pending', device: null }, { id: 5 }, null, { id: 'b', status: 'ok', device: { manufacturer: 'Axis' } }] }), [
      { id: 'a', status: 'pending', manufacturer: null },
      { id: 'b', status: 'ok', manufacturer: 'Axis' },
    ]);
  });
});
