/**
 * deploy/ end to end on the real Docker engine, run the way deploy/README.md tells a technician:
 * every command comes out of the README's own code blocks (so the page and the box cannot drift),
 * with only the paths and versions swapped for the test's (see `local`). Two compressed bundles,
 * an install into a non-default home without network, status, a restart of a child with
 * dependents checked against what the README says it restarts, upgrade, rollback, and a taken
 * port reported as the one line that says what to do. A unique compose project and free ports:
 * other stacks on the engine are never touched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { APP_IMAGE, ensureImages } from '../helpers/images.ts';
import { freePort, waitFor } from '../helpers/net.ts';
import { readmeCommand, readmeOutputAfter } from '../helpers/readme.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const unavailable = await dockerUnavailable();
const readme = readFileSync(join(root, 'deploy/README.md'), 'utf8');

const id = randomBytes(3).toString('hex');
const project = `evdeploy${id}`;
const versions = [`dt${id}.1`, `dt${id}.2`] as const;
const viewer = `viewer-${id}-token`;
const technician = `tech-${id}-token`;
let home = '';
let out = '';
let unpack = '';
const bundles: string[] = [];
const ports = { api: 0, web: 0 };

/**
 * A README command as this test runs it: its paths and versions swapped for the test's (one pass,
 * so a substituted path is never substituted again), and no `sudo` (the test runs as root, as the
 * CI box has no sudo). Nothing else changes.
 */
function local(cmd: string): string {
  const map: Record<string, string> = {
    '/srv/edgevisor': home,
    '/opt/edgevisor': home,
    '/tmp/ev': unpack,
    'edgevisor-1.4.0.tar': bundles[0] ?? '',
    'edgevisor-1.5.0.tar': bundles[1] ?? '',
  };
  return cmd.replace(/^sudo /, '').replace(/\/srv\/edgevisor|\/opt\/edgevisor|\/tmp\/ev\b|edgevisor-1\.4\.0\.tar|edgevisor-1\.5\.0\.tar/g, (m) => map[m]!);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a shell line from the README in the repo, without EDGEVISOR_HOME: scripts find their home. */
function sh(line: string, opts: { offline?: boolean; timeoutMs?: number } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGEVISOR_WAIT: '240' };
  delete env['EDGEVISOR_HOME'];
  // unshare -n: a network namespace with nothing in it; Docker is still reached over its socket.
  const [file, args] = opts.offline ? ['unshare', ['-n', 'sh', '-c', line]] : ['sh', ['-c', line]];
  return new Promise((res) => {
    execFile(file, args, { cwd: root, env, timeout: opts.timeoutMs ?? 6 * 60_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** Runs a README line (see `local`) that must succeed. */
async function ok(line: string, opts?: { offline?: boolean }): Promise<Run> {
  const r = await sh(local(line), opts);
  assert.equal(r.code, 0, `${line}\n${r.stdout}\n${r.stderr}`.slice(-6000));
  return r;
}
const all = (r: Run) => r.stdout + r.stderr;

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.text() };
}

/** The stack answers: supervisor API and web /healthz, and web runs `version`. */
async function assertServing(version: string): Promise<void> {
  await waitFor('supervisor /healthz', async () => (await get(ports.api, '/healthz')).status === 200, 60_000, 500);
  await waitFor('web /healthz', async () => (await get(ports.web, '/healthz')).status === 200, 60_000, 500);
  const page = await get(ports.web, '/');
  assert.match(page.body, new RegExp(`data-version="${version.replace(/\./g, '\\.')}"`));
  assert.equal(await docker(['inspect', '-f', '{{.Config.Image}}', await container('supervisor')]), `edgevisor-app:${version}`);
  assert.equal(basename(readlinkSync(join(home, 'current'))), version);
}

/** What every command prints after it brought the stack up (issue 17, point 4). */
function assertSummary(r: Run, last: RegExp): void {
  const output = all(r);
  assert.match(output, /^ID\s+STATE\s+(?:WORKER\s+)?UPTIME\s+RESTARTS\s+LAST-REASON$/m, output);
  for (const child of ['web', 'onvif', 'pipeline', 'camera', 'inference', 'vacuum']) assert.match(output, new RegExp(`^\\s+${child}\\s+running\\s`, 'm'), output);
  assert.ok(output.includes(`edgevisor: dashboard: http://127.0.0.1:${ports.web}/ `), output);
  assert.ok(output.includes(`EDGEVISOR_TECHNICIAN_TOKEN (restart, stop, start) in ${home}/edgevisor.env`), output);
  assert.ok(!output.includes(technician) && !output.includes(viewer), 'no token is printed');
  assert.match(r.stdout.trimEnd().split('\n').at(-1)!, last, output);
}

async function container(service: string): Promise<string> {
  return docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
}

async function containersOfProject(): Promise<string[]> {
  const ids = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  return ids ? ids.split('\n') : [];
}

interface Node {
  id: string;
  state: string;
  restarts: number;
  notify?: { ready: boolean; watchdogMs: number; lastPingAt: number | null; rejected: number };
}
async function tree(): Promise<Map<string, Node>> {
  const r = await get(ports.api, '/v1/tree', viewer);
  assert.equal(r.status, 200, r.body);
  return new Map((JSON.parse(r.body) as { nodes: Node[] }).nodes.map((n) => [n.id, n]));
}
const apps = ['web', 'onvif', 'camera', 'inference', 'vacuum'];
/** Restart counts (supervisor) and container start times (engine) of every app. */
async function runs(): Promise<Record<string, { restarts: number; startedAt: string }>> {
  const t = await tree();
  const outRuns: Record<string, { restarts: number; startedAt: string }> = {};
  for (const a of apps) outRuns[a] = { restarts: t.get(a)!.restarts, startedAt: await docker(['inspect', '-f', '{{.State.StartedAt}}', await container(a)]) };
  return outRuns;
}

/** Runs the README's restart command and checks that exactly the children its output names restarted. */
async function restartAsDocumented(command: string, restarted: string[]): Promise<void> {
  const before = await runs();
  const printed = (await ok(command)).stdout.trim();
  assert.equal(printed, readmeOutputAfter(readme, command), 'the CLI says what the README says');
  await waitFor(`${restarted.join(', ')} restarted and every child running`, async () => {
    const t = await tree();
    return [...t.values()].every((n) => n.state === 'running') && restarted.every((a) => t.get(a)!.restarts === before[a]!.restarts + 1);
  }, 120_000, 1000);
  const after = await runs();
  for (const a of apps) {
    const again = restarted.includes(a);
    assert.equal(after[a]!.restarts, before[a]!.restarts + (again ? 1 : 0), `${a} restarts`);
    assert.equal(after[a]!.startedAt !== before[a]!.startedAt, again, `${a}'s container ${again ? 'restarted' : 'kept running'}`);
  }
}

/**
 * Issue 14, point 2, on the running stack: every app and the supervisor run as the unprivileged
 * user, on a read-only root with a tmpfs /tmp, with no-new-privileges, every capability dropped and
 * a memory limit; only the supervisor has the Docker socket; the one-shot volume-init (root with
 * CAP_CHOWN and CAP_DAC_READ_SEARCH only, no network) ran and exited 0; each app holds its own
 * sd_notify volume and no other's.
 */
async function assertLockedDown(ids: string[]): Promise<void> {
  interface Inspect {
    Config: { User: string; Labels: Record<string, string> };
    State: { Status: string; ExitCode: number };
    HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] | null; CapAdd: string[] | null; SecurityOpt: string[] | null; Memory: number; MemorySwap: number; Tmpfs: Record<string, string> | null; NetworkMode: string; GroupAdd: string[] | null };
    Mounts: { Source: string; Destination: string; Name?: string }[];
  }
  const all = JSON.parse(await docker(['inspect', ...ids])) as Inspect[];
  const services = new Set<string>();
  for (const c of all) {
    const service = c.Config.Labels['com.docker.compose.service']!;
    services.add(service);
    const h = c.HostConfig;
    assert.equal(h.ReadonlyRootfs, true, `${service}: read-only root filesystem`);
    assert.deepEqual(h.CapDrop, ['ALL'], `${service}: every capability dropped`);
    assert.ok(h.SecurityOpt?.includes('no-new-privileges:true'), `${service}: no-new-privileges (${h.SecurityOpt})`);
    assert.ok(h.Memory > 0 && h.Memory <= 2 ** 30, `${service}: a memory limit (${h.Memory})`);
    if (service === 'volume-init') {
      assert.equal(c.Config.User, '0:0');
      assert.deepEqual((h.CapAdd ?? []).map((x) => x.replace(/^CAP_/, '')).sort(), ['CHOWN', 'DAC_READ_SEARCH'], 'volume-init: CHOWN and DAC_READ_SEARCH only');
      assert.equal(h.NetworkMode, 'none');
      assert.deepEqual([c.State.Status, c.State.ExitCode], ['exited', 0], 'volume-init ran and exited 0');
      continue;
    }
    assert.equal(c.Config.User, '10001:10001', `${service}: runs as the apps' user, not root`);
    assert.equal(h.CapAdd ?? null, null, `${service}: no capability added`);
    assert.equal(h.MemorySwap, h.Memory, `${service}: no swap beyond the limit (an OOM is an OOM)`);
    assert.ok(h.Tmpfs && '/tmp' in h.Tmpfs, `${service}: a tmpfs on /tmp`);
    assert.equal(c.Mounts.some((m) => m.Destination === '/var/run/docker.sock'), service === 'supervisor', `${service}: only the supervisor has the Docker socket`);
    // sd_notify's boundary: an app holds its own notify volume only; the supervisor holds all five.
    const notify = c.Mounts.filter((m) => /_notify-/.test(m.Name ?? '')).map((m) => `${m.Name!.replace(/^.*_notify-/, '')}:${m.Destination}`).sort();
    if (service === 'supervisor') assert.deepEqual(notify, ['camera', 'inference', 'onvif', 'vacuum', 'web'].map((a) => `${a}:/run/edgevisor/notify/${a}`));
    else assert.deepEqual(notify, [`${service}:/run/notify`], `${service}: its own notify volume, no other`);
    const [user] = (await docker(['exec', ids[all.indexOf(c)]!, 'id', '-u'])).split('\n');
    assert.equal(user, '10001', `${service}: its processes run as 10001`);
  }
  assert.deepEqual([...services].sort(), ['camera', 'inference', 'onvif', 'supervisor', 'vacuum', 'volume-init', 'web']);
}

let made: Promise<string>[] = [];
/** Checks what bundle.sh printed (progress, sizes, time) and returns the bundle's path. */
const bundled = (version: string) => (r: Run): string => {
  const output = all(r);
  const path = r.stdout.trim().split('\n').at(-1)!;
  assert.match(output, /^bundle:\s+saving: \d+ MB of \d+ MB \(\d+%\)$/m, 'bytes done of the total while saving');
  assert.match(output, /^bundle: saved .*: \d+ MB compressed from \d+ MB in \d+ s$/m);
  assert.match(output, /^bundle: wrote .* \(\d+ MB\) in \d+ s; \d+ s in all$/m);
  assert.equal(basename(path), `edgevisor-${version}.tar`);
  return path;
};

describe('deploy: the README commands on real Docker (bundle, install, restart, upgrade, roll back)', { skip: unavailable ?? false, timeout: 20 * 60_000 }, () => {
  before(async () => {
    await ensureImages();
    home = mkdtempSync(join(tmpdir(), 'edgevisor-home-'));
    out = mkdtempSync(join(tmpdir(), 'edgevisor-bundles-'));
    unpack = mkdtempSync(join(tmpdir(), 'edgevisor-unpack-'));
    ports.api = await freePort();
    ports.web = await freePort();
    const others = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // A technician's edited site file and project name: ports that cannot clash with a real stack.
    const env = readFileSync(join(root, 'deploy/edgevisor.env.example'), 'utf8')
      .replace(/^EDGEVISOR_VIEWER_TOKEN=.*$/m, `EDGEVISOR_VIEWER_TOKEN=${viewer}`)
      .replace(/^EDGEVISOR_TECHNICIAN_TOKEN=.*$/m, `EDGEVISOR_TECHNICIAN_TOKEN=${technician}`)
      .replace(/^EDGEVISOR_API_PORT=.*$/m, `EDGEVISOR_API_PORT=${ports.api}`)
      .replace(/^EDGEVISOR_WEB_PORT=.*$/m, `EDGEVISOR_WEB_PORT=${ports.web}`)
      .replace(/^EDGEVISOR_CAMERA_PORT=.*$/m, `EDGEVISOR_CAMERA_PORT=${others[0]}`)
      .replace(/^EDGEVISOR_ONVIF_PORT=.*$/m, `EDGEVISOR_ONVIF_PORT=${others[1]}`)
      .replace(/^EDGEVISOR_INFERENCE_PORT=.*$/m, `EDGEVISOR_INFERENCE_PORT=${others[2]}`)
      .replace(/^EDGEVISOR_VACUUM_PORT=.*$/m, `EDGEVISOR_VACUUM_PORT=${others[3]}`);
    writeFileSync(join(home, 'edgevisor.env'), env);
    writeFileSync(join(home, 'project'), `${project}\n`);
    // The README's bundle command, for each version, from the image the tests built (--fast:
    // gzip -1). The second one is made while the first installs: it is needed only to upgrade.
    const bundle = readmeCommand(readme, /^deploy\/bundle\.sh /);
    made = versions.map((v) => ok(`${bundle.replace('1.5.0', v)} --image ${APP_IMAGE} --out ${out} --fast`).then(bundled(v)));
    made[1]!.catch(() => {}); // awaited by the upgrade test
    bundles[0] = await made[0]!;
  });

  after(async () => {
    await Promise.allSettled(made);
    if (!home) return;
    const current = join(home, 'current');
    await new Promise<void>((res) => {
      execFile('sh', ['-c', `. ${resolve(root, 'deploy/lib.sh')} && compose_in "${current}" down -v --remove-orphans -t 5`], { timeout: 120_000, env: { ...process.env, EDGEVISOR_HOME: home } }, () => res());
    });
    // Whatever compose missed (a failed step can leave a half-made project behind).
    const left = await containersOfProject().catch(() => []);
    if (left.length) await docker(['rm', '-f', '-v', ...left]).catch(() => {});
    const vols = await docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).catch(() => '');
    if (vols) await docker(['volume', 'rm', '-f', ...vols.split('\n')]).catch(() => {});
    await docker(['network', 'rm', `${project}_default`]).catch(() => {});
    // Untags only: the image itself is edgevisor-app:local, which other tests use.
    for (const v of versions) await docker(['rmi', `edgevisor-app:${v}`]).catch(() => {});
    for (const d of [home, out, unpack]) rmSync(d, { recursive: true, force: true });
  });

  test('the bundle is compressed and installs offline into a non-default home; status from the home it is in', async (t) => {
    const image = Number(await docker(['image', 'inspect', '-f', '{{.Size}}', APP_IMAGE]));
    assert.ok(statSync(bundles[0]!).size < 0.6 * image, `bundle ${statSync(bundles[0]!).size} B for a ${image} B image`);
    // A plain tar holding gzip (magic 1f 8b): tar and gzip are all a box needs.
    assert.equal((await sh(`tar -xOf ${bundles[0]} images.tar.gz | head -c 2 | od -An -tx1`)).stdout.trim(), '1f 8b');
    // The bundle must bring its image: untag it (the layers stay, shared with edgevisor-app:local).
    await docker(['rmi', `edgevisor-app:${versions[0]}`]);

    await ok(readmeCommand(readme, /^mkdir -p \/tmp\/ev && tar /));
    const output = await ok(readmeCommand(readme, /install\.sh --home /), { offline: true });
    assert.match(all(output), /^edgevisor: loading the images of \S+ \(\d+ MB\)$/m);
    assert.match(all(output), /^edgevisor: loaded the images of \S+ in \d+ s$/m);
    assert.match(all(output), /^edgevisor: the supervisor answers \(after \d+ s\); waiting for its children$/m);
    assert.match(all(output), /^edgevisor: every child is running \(after \d+ s\)$/m);
    for (const line of all(output).trimEnd().split('\n')) t.diagnostic(`install: ${line}`);
    assertSummary(output, new RegExp(`^edgevisor: installed ${versions[0].replace(/\./g, '\\.')} in \\d+ s; check it any time with: ${home}/current/edgevisorctl status$`));
    await assertServing(versions[0]);

    const status = (await ok(readmeCommand(readme, /edgevisorctl status$/))).stdout;
    for (const child of ['web', 'camera', 'inference', 'vacuum']) assert.match(status, new RegExp(`^\\s+${child}\\s+running\\s`, 'm'), status);

    const ids = await containersOfProject();
    assert.equal(ids.length, 7, 'supervisor + five apps + the one-shot volume-init');
    const rows = (await docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Init}} {{range .Mounts}}{{.Source}},{{end}} {{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}},{{end}}{{end}}', ...ids])).split('\n');
    await assertLockedDown(ids);
    // Every app feeds its watchdog from its container, through its own notify volume, to a
    // supervisor that sees it as pid 0 (backends/docker/notify.ts): pings arrive, none refused.
    await waitFor('every app pinged its watchdog', async () => {
      const t = await tree();
      return apps.every((a) => t.get(a)?.notify?.lastPingAt);
    }, 30_000, 500);
    for (const [a, n] of [...(await tree())].filter(([id]) => apps.includes(id))) {
      assert.deepEqual([n.notify?.watchdogMs, n.notify?.rejected], [5000, 0], `${a}: ${JSON.stringify(n.notify)}`);
    }
    for (const row of rows) {
      const [service, restart, init, mounts, hostIps] = row.split(' ');
      if (service === 'volume-init') continue;
      // The engine is the supervisor's watchdog; the apps are restarted by edgevisor only.
      assert.equal(restart, service === 'supervisor' ? 'always' : 'no', `${service} restart policy`);
      assert.equal(init, 'true', `${service} runs under an init`);
      assert.equal(mounts!.includes('docker.sock'), service === 'supervisor', `${service}: only the supervisor gets the Docker socket`);
      assert.deepEqual([...new Set(hostIps!.split(',').filter(Boolean))], ['127.0.0.1'], `${service} publishes on 127.0.0.1 only`);
    }
    assert.match(readFileSync(join(home, 'edgevisor.env'), 'utf8'), new RegExp(`EDGEVISOR_VIEWER_TOKEN=${viewer}`), 'install keeps the site file as written');
  });

  test('restart camera restarts what the README says (camera, then inference), --only the camera alone', async () => {
    const command = readmeCommand(readme, /edgevisorctl restart camera$/);
    const said = /^restarting (.+) \((\w+)\)$/.exec(readmeOutputAfter(readme, command));
    assert.ok(said, 'the README shows what a restart of camera prints');
    await restartAsDocumented(command, said[1]!.split(', then '));
    await restartAsDocumented(readmeCommand(readme, /edgevisorctl restart camera --only$/), ['camera']);
  });

  test('upgrade runs the new version, keeps the old one as previous and the event log', async (t) => {
    bundles[1] = await made[1]!;
    const first = JSON.parse((await get(ports.api, '/v1/events?since=0&limit=1', viewer)).body).events[0];
    // What a box upgraded from a version that ran as root has: root-owned files and folders in
    // its volumes. The upgrade's volume-init gives them to the apps' user, or inference could not
    // write its snapshots.
    const volume = `${project}_inference-data`;
    await docker(['run', '--rm', '--user', '0:0', '--network', 'none', '-v', `${volume}:/v`, APP_IMAGE, 'sh', '-c', 'mkdir -p /v/from-root/deeper && touch /v/from-root/deeper/old.jpg && chmod 700 /v/from-root && chown -R 0:0 /v/from-root && chown 0:0 /v']);
    const output = await ok(readmeCommand(readme, /upgrade\.sh /));
    const owners = await docker(['run', '--rm', '--user', '0:0', '--network', 'none', '-v', `${volume}:/v`, APP_IMAGE, 'sh', '-c', 'find /v -printf "%u:%g %p\\n" | sort | uniq']);
    for (const line of owners.split('\n')) assert.match(line, /^edgevisor:edgevisor /, `after the upgrade, every file of ${volume} is the apps' user's: ${line}`);
    for (const line of all(output).trimEnd().split('\n')) t.diagnostic(`upgrade: ${line}`);
    assertSummary(output, new RegExp(`^edgevisor: upgraded to ${versions[1].replace(/\./g, '\\.')} in \\d+ s; roll back with: ${home}/current/rollback\\.sh$`));
    await assertServing(versions[1]);
    assert.equal(basename(readlinkSync(join(home, 'previous'))), versions[0]);
    // Same volume, same SQLite file: the old events are still there.
    assert.deepEqual(JSON.parse((await get(ports.api, '/v1/events?since=0&limit=1', viewer)).body).events[0], first);
    assert.equal((await containersOfProject()).length, 7);
  });

  test('rollback runs the previous version again', async () => {
    const output = await ok(readmeCommand(readme, /rollback\.sh$/));
    assertSummary(output, new RegExp(`^edgevisor: running ${versions[0].replace(/\./g, '\\.')} again after \\d+ s; go forward again with: ${home}/current/rollback\\.sh$`));
    await assertServing(versions[0]);
    assert.equal(basename(readlinkSync(join(home, 'previous'))), versions[1]);
    assert.equal((await containersOfProject()).length, 7);
  });

  test('a taken web port: apply refuses with the one line the README shows, the stack keeps running; once free, apply moves web there', async () => {
    const squatter = createServer();
    await new Promise<void>((res) => squatter.listen(0, '127.0.0.1', res));
    const taken = (squatter.address() as { port: number }).port;
    const envFile = join(home, 'edgevisor.env');
    const site = readFileSync(envFile, 'utf8');
    try {
      writeFileSync(envFile, site.replace(/^EDGEVISOR_WEB_PORT=.*$/m, `EDGEVISOR_WEB_PORT=${taken}`));
      const r = await sh(local(readmeCommand(readme, /edgevisorctl apply$/)));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      // The README's line with this box's port, program and paths.
      const documented = readmeOutputAfter(readme, 'Before it starts anything');
      const expected = local(documented).replaceAll('8080', String(taken)).replace('(nginx, pid 812)', `(node, pid ${process.pid})`);
      assert.equal(r.stderr.trim(), expected);
      assert.equal(r.stdout, '');
      await assertServing(versions[0]);
    } catch (err) {
      writeFileSync(envFile, site);
      throw err;
    } finally {
      await new Promise((res) => squatter.close(res));
    }
    // The program is gone: the README's apply command now takes the port.
    ports.web = taken;
    const applied = await ok(readmeCommand(readme, /edgevisorctl apply$/));
    assertSummary(applied, new RegExp(`^edgevisor: applied ${home}/edgevisor\\.env to ${versions[0].replace(/\./g, '\\.')} in \\d+ s$`));
    await assertServing(versions[0]);
  });

  test('a bundle that is not one is refused with a clear message, and the stack keeps running', async () => {
    const bogus = join(out, 'not-a-bundle.tar');
    writeFileSync(bogus, 'hello');
    const r = await sh(`${home}/current/upgrade.sh ${bogus}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a readable tar file|not an edgevisor bundle/);
    await assertServing(versions[0]);
  });
});
