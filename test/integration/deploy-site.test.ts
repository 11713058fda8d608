/**
 * Issue 14, item 4 and fault 12, on the real compose stack: the site files (tree, cameras, zones)
 * of an install folder. The release is laid out as a bundle unpacks it (compose.yaml, deploy/site,
 * the scripts, the test's image) without a bundle, so no docker save/load is paid here
 * (deploy.test.ts covers those). `edgevisorctl apply` brings the stack up from the demo files it
 * seeds; a bad cameras, zones and tree file is refused with file, field and line and every
 * container keeps its StartedAt and restart count; a valid change restarts exactly what it needs,
 * through the supervisor. A unique compose project and free ports: other stacks are not touched.
 * The camera credentials (cameras.yaml) are readable in the camera container only: the
 * supervisor and inference mount the same folder and are refused it (deploy/site.sh, "Who reads");
 * a rollback to a release whose compose.yaml has no site group gets 0644 files its camera reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { APP_IMAGE, ensureImages } from '../helpers/images.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { readmeOutputAfter } from '../helpers/readme.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const unavailable = await dockerUnavailable();
const readme = readFileSync(join(root, 'deploy/README.md'), 'utf8');
const id = randomBytes(3).toString('hex');
const project = `evsite${id}`;
const version = `st${id}`;
/** The image of the broken release's bundle (a few bytes; removed after). */
const tinyImage = `evsite-tiny:${id}`;
const viewer = `viewer-${id}-token`;
const technician = `tech-${id}-token`;
let home = '';
const ports = { api: 0, web: 0, camera: 0, onvif: 0, inference: 0, vacuum: 0 };

interface Run { code: number | null; stdout: string; stderr: string }
function sh(line: string, timeoutMs = 6 * 60_000): Promise<Run> {
  return new Promise((res) => {
    execFile('sh', ['-c', line], { cwd: root, env: { ...process.env, EDGEVISOR_HOME: home, EDGEVISOR_WAIT: '240' }, timeout: timeoutMs, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
const apply = () => sh(`${home}/current/edgevisorctl apply`);

async function getJson(port: number, path: string, token?: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

/** The same once the app answers: under load a probe may be restarting it at that moment. */
async function served(port: number, path: string): Promise<any> {
  return waitFor(`${path} on :${port}`, async () => {
    try { return await getJson(port, path); } catch { return undefined; }
  }, 90_000, 1000);
}

const services = ['supervisor', 'web', 'onvif', 'camera', 'inference', 'vacuum'];
const apps = services.slice(1);
async function container(service: string): Promise<string> {
  return docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
}
/** Per service: the engine's StartedAt and RestartCount. */
async function runs(): Promise<Record<string, { startedAt: string; restartCount: string }>> {
  const out: Record<string, { startedAt: string; restartCount: string }> = {};
  for (const s of services) {
    const [startedAt, restartCount] = (await docker(['inspect', '-f', '{{.State.StartedAt}} {{.RestartCount}}', await container(s)])).split(' ');
    out[s] = { startedAt: startedAt!, restartCount: restartCount! };
  }
  return out;
}
async function allRunning(): Promise<boolean> {
  const nodes = (await getJson(ports.api, '/v1/tree', viewer)).nodes as { id: string; state: string; inner?: boolean }[];
  return nodes.filter((n) => !n.inner).every((n) => n.state === 'running');
}

interface Ev { seq: number; type: string; child: string; reason: string; data?: { action?: string; cause?: string } }
async function eventsAfter(seq: number): Promise<Ev[]> {
  return (await getJson(ports.api, `/v1/events?since=${seq}&limit=1000`, viewer)).events as Ev[];
}

/**
 * Applies a valid edit and checks that exactly `restarted` restarted because of it: their
 * containers started again and (apps) the supervisor recorded a manual restart of them; no other
 * app had one. On this shared 2-core box a probe may restart an app under load meanwhile: such a
 * restart is recorded with its own cause (probe, exit) and is not apply's; a container that
 * started again without any restart event would be (compose recreating it) and fails the test.
 */
async function restartedExactly(before: Record<string, { startedAt: string; restartCount: string }>, seq: number, restarted: string[], output: string): Promise<void> {
  await waitFor('every child running again', allRunning, 120_000, 1000);
  const after = await runs();
  const events = await eventsAfter(seq);
  const byApply = (e: Ev) => (e.type === 'manual' && e.data?.action === 'restart') || (e.type === 'restart' && e.data?.cause === 'manual');
  const manual = new Set(events.filter(byApply).map((e) => e.child));
  assert.deepEqual([...manual].sort(), restarted.filter((s) => s !== 'supervisor').sort(), `restarted by apply\n${output}`);
  for (const s of services) {
    assert.equal(after[s]!.restartCount, before[s]!.restartCount, `${s}: no engine restart`);
    const moved = after[s]!.startedAt !== before[s]!.startedAt;
    if (restarted.includes(s)) assert.ok(moved, `${s}'s container restarted\n${output}`);
    else if (moved) {
      const other = events.filter((e) => e.child === s && e.type === 'restart' && !byApply(e));
      assert.ok(s !== 'supervisor' && other.length > 0, `${s}'s container started again without a restart of its own\n${output}`);
    }
  }
}

async function applyRestarting(edit: () => void, restarted: string[], said: RegExp): Promise<Run> {
  const before = await runs();
  const seq = (await getJson(ports.api, '/v1/events?limit=1', viewer)).lastSeq as number;
  edit();
  const r = await apply();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, said);
  await restartedExactly(before, seq, restarted, r.stdout);
  return r;
}

const site = (f: string) => join(home, 'site', f);

/** The group of applied/cameras.yaml (deploy/site.sh). */
const secretsGid = Number(/^SITE_SECRETS_GID=(\d+)$/m.exec(readFileSync(join(root, 'deploy/site.sh'), 'utf8'))![1]);
/** Mode and owner of an applied file, as `stat -c '%a %u:%g'` prints them. */
const appliedMode = (f: string) => { const st = statSync(join(home, 'applied', f)); return `${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid}`; };
function assertAppliedModes(): void {
  assert.equal(appliedMode('cameras.yaml'), `640 0:${secretsGid}`, 'the credentials: root and the site-secrets group only');
  assert.equal(appliedMode('tree.yaml'), '644 0:0');
  assert.equal(appliedMode('zones.yaml'), '644 0:0');
}
/**
 * What `cat /etc/edgevisor/FILE` gives in SERVICE's running container: 'reads' or 'denied'
 * (retried while the container is between two runs: a probe may restart it under load).
 */
function reads(service: string, file: string): Promise<string> {
  return waitFor(`${service} reading ${file}`, async () => {
    const c = await container(service);
    if (!c) return undefined;
    return docker(['exec', c, 'cat', `/etc/edgevisor/${file}`], 20_000).then(() => 'reads', (e: Error) => (/Permission denied/.test(e.message) ? 'denied' : undefined));
  }, 90_000, 1000);
}
/** The camera container's groups (`id -G`), once it runs. */
const cameraGroups = () => waitFor('the camera container', async () => {
  const c = await container('camera');
  return c ? docker(['exec', c, 'id', '-G'], 20_000).catch(() => undefined) : undefined;
}, 90_000, 1000);
/** Only the camera reads the credentials; every service reads the file it needs. */
async function assertWhoReads(): Promise<void> {
  assert.equal(await reads('camera', 'cameras.yaml'), 'reads');
  assert.equal(await reads('inference', 'cameras.yaml'), 'denied', 'inference needs zones.yaml only');
  assert.equal(await reads('inference', 'zones.yaml'), 'reads');
  assert.equal(await reads('supervisor', 'cameras.yaml'), 'denied', 'the supervisor needs tree.yaml only');
  assert.equal(await reads('supervisor', 'tree.yaml'), 'reads');
}
const edit = (f: string, from: string | RegExp, to: string) => () => {
  const text = readFileSync(site(f), 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `${f}: the edit applies`);
  writeFileSync(site(f), next);
};

/** A release as unpack_bundle leaves it, pinned to the test's image, with this compose.yaml. */
function makeRelease(name: string, compose: string): string {
  const rel = join(home, 'releases', name);
  mkdirSync(join(rel, 'deploy', 'site'), { recursive: true });
  writeFileSync(join(rel, 'compose.yaml'), compose);
  for (const f of ['tree.yaml', 'cameras.yaml', 'zones.yaml']) copyFileSync(join(root, 'deploy/site', f), join(rel, 'deploy/site', f));
  for (const f of ['lib.sh', 'site.sh', 'edgevisorctl', 'install.sh', 'upgrade.sh', 'rollback.sh', 'edgevisor.env.example']) copyFileSync(join(root, 'deploy', f), join(rel, f));
  for (const f of ['edgevisorctl', 'rollback.sh']) chmodSync(join(rel, f), 0o755);
  writeFileSync(join(rel, 'VERSION'), `${name}\n`);
  writeFileSync(join(rel, 'IMAGE'), `${APP_IMAGE}\n`);
  return rel;
}

describe('site files of an install: edgevisorctl apply on the real compose stack', { skip: unavailable ?? false, timeout: 15 * 60_000 }, () => {
  before(async () => {
    await ensureImages();
    home = mkdtempSync(join(tmpdir(), 'edgevisor-site-'));
    chmodSync(home, 0o755);
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    symlinkSync(makeRelease(version, readFileSync(join(root, 'compose.yaml'), 'utf8')), join(home, 'current'));
    writeFileSync(join(home, 'project'), `${project}\n`);
    const env = readFileSync(join(root, 'deploy/edgevisor.env.example'), 'utf8')
      .replace(/^EDGEVISOR_VIEWER_TOKEN=.*$/m, `EDGEVISOR_VIEWER_TOKEN=${viewer}`)
      .replace(/^EDGEVISOR_TECHNICIAN_TOKEN=.*$/m, `EDGEVISOR_TECHNICIAN_TOKEN=${technician}`)
      .replace(/^EDGEVISOR_(\w+)_PORT=.*$/gm, (_m, name: string) => `EDGEVISOR_${name}_PORT=${ports[name.toLowerCase() as keyof typeof ports]}`);
    writeFileSync(join(home, 'edgevisor.env'), env);
  });

  after(async () => {
    if (!home) return;
    await sh(`. ${root}/deploy/lib.sh && compose_within 120 "${home}/current" down -v --remove-orphans -t 5`, 180_000);
    const left = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).catch(() => '');
    if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => {});
    await docker(['network', 'rm', `${project}_default`]).catch(() => {});
    await docker(['rmi', tinyImage]).catch(() => {});
    rmSync(home, { recursive: true, force: true });
  });

  test('apply on a new home seeds the site files and brings the stack up with the demo cameras and zones', async () => {
    const r = await apply();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.stdout.includes(`edgevisor: created ${home}/site with the demo tree, cameras and zones`), r.stdout);
    assert.match(r.stdout, /^edgevisor: every child is running/m);
    for (const f of ['tree.yaml', 'cameras.yaml', 'zones.yaml']) {
      assert.equal(readFileSync(site(f), 'utf8'), readFileSync(join(root, 'deploy/site', f), 'utf8'), `${f} seeded from the release`);
      assert.equal(readFileSync(join(home, 'applied', f), 'utf8'), readFileSync(site(f), 'utf8'), `${f} applied`);
    }
    // What `npm start` shows: the same two cameras and zones, mounted from the install folder.
    const cams = (await served(ports.camera, '/cameras')).cameras as { id: string }[];
    assert.deepEqual(cams.map((c) => c.id).sort(), ['dock', 'press']);
    const zones = (await served(ports.inference, '/zones')).cameras as Record<string, { zones: { id: string }[] }>;
    assert.deepEqual(Object.fromEntries(Object.entries(zones).map(([c, z]) => [c, z.zones.map((x) => x.id)])), { dock: ['forklift-lane'], press: ['press-guard'] });
    const mounts = await docker(['inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/etc/edgevisor"}}{{.Source}} {{.RW}}{{end}}{{end}}', await container('camera')]);
    assert.equal(mounts, `${home}/applied false`, 'the applied copy, read-only');
    assertAppliedModes();
    assert.equal((statSync(site('cameras.yaml')).mode & 0o777).toString(8), '600', "the technician's copy: root only");
    await assertWhoReads();
  });

  test('fault 12: bad cameras, zones and tree files are refused with file, field and line; the stack is untouched', async () => {
    await waitFor('every child running', allRunning, 120_000, 1000);
    const before = await runs();
    const seq = (await getJson(ports.api, '/v1/events?limit=1', viewer)).lastSeq as number;
    const good = Object.fromEntries(['tree.yaml', 'cameras.yaml', 'zones.yaml'].map((f) => [f, readFileSync(site(f), 'utf8')]));
    try {
      // Exactly what deploy/README.md shows, with this home.
      edit('cameras.yaml', 'fps: 5', 'fps: fast')();
      const one = await apply();
      assert.equal(one.code, 1, one.stdout + one.stderr);
      assert.equal(one.stdout, '');
      assert.equal(one.stderr.trim(), readmeOutputAfter(readme, '## Site files').replaceAll('/opt/edgevisor', home));
      edit('zones.yaml', 'class: person', 'class: persn')();
      edit('tree.yaml', 'every: 10s', 'every: often')();
      const r = await apply();
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(r.stdout, '', 'nothing started, nothing restarted');
      const line = (f: string, text: string) => good[f]!.split('\n').findIndex((l) => l.includes(text)) + 1;
      const stderr = r.stderr.trimEnd().split('\n');
      assert.ok(stderr.includes(`edgevisor: ${home}/site/cameras.yaml:${line('cameras.yaml', 'fps: 5')} cameras[0].fps: expected a number, got "fast"`), r.stderr);
      assert.ok(stderr.some((l) => l.startsWith(`edgevisor: ${home}/site/zones.yaml:${line('zones.yaml', 'class: person')} cameras.dock.zones[0].rules[0].class: unknown class "persn"`)), r.stderr);
      assert.ok(stderr.some((l) => l.startsWith(`edgevisor: ${home}/site/tree.yaml:${line('tree.yaml', 'every: 10s')} children[3].probes[0].every: expected a duration`)), r.stderr);
      assert.equal(stderr.at(-1), `edgevisor: nothing applied: the stack runs as before; fix the lines above in ${home}/site, then run ${home}/current/edgevisorctl apply`);
      // Every container keeps its StartedAt and restart count (see restartedExactly for the load's own restarts).
      await restartedExactly(before, seq, [], r.stdout + r.stderr);
      for (const f of Object.keys(good)) assert.equal(readFileSync(join(home, 'applied', f), 'utf8'), good[f], `applied ${f} unchanged`);
    } finally {
      for (const [f, text] of Object.entries(good)) writeFileSync(site(f), text);
    }
    const r = await apply();
    assert.equal(r.stdout.trim(), `edgevisor: nothing changed in ${home}/site or ${home}/edgevisor.env: nothing restarted`);
    await restartedExactly(before, seq, [], r.stdout);
  });

  test('a zones change restarts inference alone; the new zone is served', async () => {
    await applyRestarting(edit('zones.yaml', 'id: press-guard', 'id: press-guard-2'), ['inference'], /^edgevisor: zones\.yaml changed: restarting inference\b/m);
    const zones = (await served(ports.inference, '/zones')).cameras as Record<string, { zones: { id: string }[] }>;
    assert.deepEqual(zones['press']!.zones.map((z) => z.id), ['press-guard-2']);
  });

  test('a cameras change restarts camera, then inference (rest_for_one), nothing else', async () => {
    await applyRestarting(edit('cameras.yaml', /fps: 5\n/, 'fps: 4\n'), ['camera', 'inference'], /^edgevisor: cameras\.yaml changed: restarting camera, then inference \(rest_for_one\)$/m);
    const cams = (await served(ports.camera, '/cameras')).cameras as { id: string; targetFps: number }[];
    assert.equal(cams.find((c) => c.id === 'dock')!.targetFps, 4);
    // The new file, by a rename: the same mode and group; the restarted camera read it, inference still cannot.
    assertAppliedModes();
    assert.equal(await reads('inference', 'cameras.yaml'), 'denied');
  });

  test('modes an older release left (its rollback.sh going forward writes 0644): apply sets them, restarting nothing', async () => {
    const before = await runs();
    const seq = (await getJson(ports.api, '/v1/events?limit=1', viewer)).lastSeq as number;
    const cams = join(home, 'applied', 'cameras.yaml');
    chownSync(cams, 0, 0);
    chmodSync(cams, 0o644);
    assert.equal(await reads('inference', 'cameras.yaml'), 'reads', 'what 0644 meant');
    const r = await apply();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `edgevisor: nothing changed in ${home}/site or ${home}/edgevisor.env: nothing restarted; set the modes of ${home}/applied (cameras.yaml readable by the camera only)`);
    assertAppliedModes();
    await assertWhoReads();
    await restartedExactly(before, seq, [], r.stdout);
  });

  test('a tree change restarts the supervisor only; it adopts the apps and keeps the new tree as the last good one', async () => {
    await applyRestarting(edit('tree.yaml', 'every: 10s', 'every: 9s'), ['supervisor'], /^edgevisor: tree\.yaml changed: restarting the supervisor/m);
    const kept = await docker(['exec', await container('supervisor'), 'cat', '/data/last-good-tree.yaml']);
    assert.equal(`${kept}\n`, readFileSync(site('tree.yaml'), 'utf8'));
    assert.equal((await getJson(ports.api, '/healthz')).treeFile.status, 'ok');
  });

  test('item 5: a bad tree file reaching the supervisor anyway (edited in applied/ by hand) is refused; the stack runs on the last good tree', async () => {
    const before = await runs();
    const applied = join(home, 'applied', 'tree.yaml');
    writeFileSync(applied, readFileSync(applied, 'utf8').replace('every: 9s', 'every: often'));
    await docker(['restart', '-t', '30', await container('supervisor')]);
    const health = await waitFor('the supervisor answers', async () => {
      try { return await getJson(ports.api, '/healthz'); } catch { return undefined; }
    }, 120_000, 1000);
    assert.equal(health.status, 'degraded');
    assert.equal(health.treeFile.status, 'refused');
    assert.equal(health.treeFile.file, 'tree.yaml');
    assert.match(health.treeFile.problems[0], /^tree\.yaml:\d+ children\[3\]\.probes\[0\]\.every: expected a duration/);
    assert.equal(health.treeFile.line, Number(/^tree\.yaml:(\d+)/.exec(health.treeFile.problems[0])![1]));
    assert.ok(!JSON.stringify(health).includes(home), 'no server path');
    await waitFor('every child running', allRunning, 120_000, 1000);
    const after = await runs();
    for (const a of apps) assert.equal(after[a]!.startedAt, before[a]!.startedAt, `${a} kept running`);
    const logs = await docker(['logs', '--tail', '50', await container('supervisor')]).catch((e: Error) => e.message);
    const events = (await getJson(ports.api, '/v1/events?since=0&limit=1000', viewer)).events as { type: string; data?: { treeFile?: string } }[];
    assert.ok(events.some((e) => e.type === 'alarm' && e.data?.treeFile === 'tree.yaml'), logs);
  });

  test('a rollback to a release from before the site group starts it (cameras.yaml 0644, its camera reads it); forward again: 0640', async () => {
    // The previous release: the same, but its compose.yaml gives the camera no group (as before).
    const compose = readFileSync(join(root, 'compose.yaml'), 'utf8');
    const oldCompose = compose.replace(/^ {4}group_add:\n {6}- "\d+"\n/m, '');
    assert.notEqual(oldCompose, compose);
    const old = makeRelease(`${version}old`, oldCompose);
    symlinkSync(old, join(home, 'previous'));
    const back = await sh(`${home}/current/rollback.sh`);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.match(back.stdout, new RegExp(`^edgevisor: running ${version}old again after \\d+ s`, 'm'));
    for (const f of ['tree.yaml', 'cameras.yaml', 'zones.yaml']) assert.equal(appliedMode(f), '644 0:0', `${f}: what the old camera container can read`);
    assert.equal(await cameraGroups(), '10001', 'the old camera container has no site group');
    assert.equal(await reads('camera', 'cameras.yaml'), 'reads');
    const cams = (await served(ports.camera, '/cameras')).cameras as { id: string }[];
    assert.deepEqual(cams.map((c) => c.id).sort(), ['dock', 'press']);
    await waitFor('every child running', allRunning, 120_000, 1000);
    // Forward again with the previous release's rollback.sh (now current's).
    const forward = await sh(`${home}/current/rollback.sh`);
    assert.equal(forward.code, 0, forward.stdout + forward.stderr);
    assert.match(forward.stdout, new RegExp(`^edgevisor: running ${version} again after \\d+ s`, 'm'));
    assertAppliedModes();
    assert.equal(await cameraGroups(), `10001 ${secretsGid}`);
    await assertWhoReads();
  });

  test('an upgrade whose camera cannot start: the new supervisor is started anyway (never unsupervised), then upgrade.sh goes back; the old release runs with files it reads', async () => {
    // The new release: the same, but its camera asks for a device this box lacks, so compose's
    // apps step fails after the supervisor was stopped. Its bundle carries a tiny image only: the
    // release is unpacked already (unpack_bundle keeps it and loads the images).
    const compose = readFileSync(join(root, 'compose.yaml'), 'utf8');
    const broken = compose.replace(/^( {2}camera:\n)/m, '$1    devices:\n      - /dev/edgevisor-absent-device:/dev/absent\n');
    assert.notEqual(broken, compose);
    const name = `${version}bad`;
    const bad = makeRelease(name, broken);
    const bundle = join(home, `edgevisor-${name}.tar`);
    const made = await sh(`set -e; d=$(mktemp -d); touch "$d/x"; tar -C "$d" -c . | timeout 60 docker import - ${tinyImage} >/dev/null; rm -rf "$d"
      cd "${bad}"; timeout 60 docker save ${tinyImage} | gzip -1 > images.tar.gz; tar -cf "${bundle}" VERSION compose.yaml IMAGE images.tar.gz; rm images.tar.gz`);
    assert.equal(made.code, 0, made.stderr);
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const r = await sh(`sh ${home}/current/upgrade.sh ${bundle}`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^edgevisor: the apps of ${name} did not all start; starting its supervisor anyway \\(it restarts what it can\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /did not start: nothing supervises/);
    assert.match(r.stderr, new RegExp(`^edgevisor: upgrade to ${name} failed \\(see the lines above\\); ${version} runs again$`, 'm'));
    // The engine's own record: a supervisor was started between the failed apps step and the way back.
    const starts = await docker(['events', '--since', since, '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=supervisor', '--filter', 'event=start', '--format', '{{.ID}}']);
    assert.ok(starts.split('\n').filter(Boolean).length >= 2, `supervisor starts: the new one, then the old one again\n${starts}`);
    assert.ok(await container('supervisor'), 'a supervisor runs');
    assert.equal(basename(readlinkSync(join(home, 'current'))), version, 'current is the old release again');
    assertAppliedModes();
    await assertWhoReads();
    await waitFor('every child running', allRunning, 120_000, 1000);
  });
});
