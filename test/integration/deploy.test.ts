/**
 * deploy/ end to end on the real Docker engine, as a technician would run it: bundle two versions,
 * install the first into a fresh compose project (temp EDGEVISOR_HOME, non-default ports), upgrade,
 * roll back. After each step the supervisor API and web answer, the running version is the expected
 * one, and the event log in the supervisor's volume carries on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { APP_IMAGE, ensureImages } from '../helpers/images.ts';
import { freePort, waitFor } from '../helpers/net.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const unavailable = await dockerUnavailable();

const id = randomBytes(3).toString('hex');
const project = `evdeploy${id}`;
const versions = [`dt${id}.1`, `dt${id}.2`] as const;
const viewer = `viewer-${id}-token`;
const technician = `tech-${id}-token`;
let home = '';
let out = '';
const bundles: string[] = [];
const ports = { api: 0, web: 0 };

/** Runs a deploy/ script with EDGEVISOR_HOME set; rejects with its output when it fails. */
function run(script: string, args: readonly string[], timeoutMs = 6 * 60_000): Promise<string> {
  return new Promise((res, rej) => {
    execFile(resolve(root, script), args, { cwd: root, timeout: timeoutMs, maxBuffer: 32 << 20, env: { ...process.env, EDGEVISOR_HOME: home, EDGEVISOR_WAIT: '240' } }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${script} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`.slice(0, 6000)));
      else res(stdout);
    });
  });
}

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.text() };
}

/** The stack answers: supervisor API and web /healthz, and web runs `version`. */
async function assertServing(version: string): Promise<void> {
  await waitFor('supervisor /healthz', async () => (await get(ports.api, '/healthz')).status === 200, 60_000, 500);
  await waitFor('web /healthz', async () => (await get(ports.web, '/healthz')).status === 200, 60_000, 500);
  const page = await get(ports.web, '/');
  assert.match(page.body, new RegExp(`id="version">${version.replace(/\./g, '\\.')}<`));
  const image = await docker(['inspect', '-f', '{{.Config.Image}}', `${project}_supervisor_1`]).catch(() => docker(['inspect', '-f', '{{.Config.Image}}', `${project}-supervisor-1`]));
  assert.equal(image, `edgevisor-app:${version}`);
  assert.equal(basename(readlinkSync(join(home, 'current'))), version);
}

/** The first event in the log and the last sequence number (viewer token). */
async function eventLog(): Promise<{ first: { seq: number; ts: unknown }; lastSeq: number }> {
  const r = await get(ports.api, '/v1/events?since=0&limit=1', viewer);
  assert.equal(r.status, 200, r.body);
  const body = JSON.parse(r.body) as { events: { seq: number; ts: unknown }[]; lastSeq: number };
  return { first: { seq: body.events[0]!.seq, ts: body.events[0]!.ts }, lastSeq: body.lastSeq };
}

async function containersOfProject(): Promise<string[]> {
  const ids = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  return ids ? ids.split('\n') : [];
}

describe('deploy: bundle, install, upgrade, roll back (real Docker)', { skip: unavailable ?? false, timeout: 30 * 60_000 }, () => {
  before(async () => {
    await ensureImages();
    home = mkdtempSync(join(tmpdir(), 'edgevisor-home-'));
    out = mkdtempSync(join(tmpdir(), 'edgevisor-bundles-'));
    ports.api = await freePort();
    ports.web = await freePort();
    const others = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // A technician's edited site file: our tokens and ports that cannot clash with a real stack.
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
    for (const v of versions) {
      const stdout = await run('deploy/bundle.sh', ['--version', v, '--image', APP_IMAGE, '--out', out]);
      bundles.push(stdout.trim().split('\n').at(-1)!);
    }
  });

  after(async () => {
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
    rmSync(home, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  test('install brings the stack up in a fresh project; the compose contract holds', async () => {
    await run('deploy/install.sh', [bundles[0]!, '-p', project]);
    await assertServing(versions[0]);

    const ids = await containersOfProject();
    assert.equal(ids.length, 6, 'supervisor + five apps');
    const rows = (await docker(['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Init}} {{range .Mounts}}{{.Source}},{{end}} {{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}},{{end}}{{end}}', ...ids])).split('\n');
    for (const row of rows) {
      const [service, restart, init, mounts, hostIps] = row.split(' ');
      // The engine is the supervisor's watchdog; the apps are restarted by edgevisor only.
      assert.equal(restart, service === 'supervisor' ? 'always' : 'no', `${service} restart policy`);
      assert.equal(init, 'true', `${service} runs under an init`);
      assert.equal(mounts!.includes('docker.sock'), service === 'supervisor', `${service}: only the supervisor gets the Docker socket`);
      assert.deepEqual([...new Set(hostIps!.split(',').filter(Boolean))], ['127.0.0.1'], `${service} publishes on 127.0.0.1 only`);
    }
    // The site file is the technician's: install keeps it as written.
    assert.match(readFileSync(join(home, 'edgevisor.env'), 'utf8'), new RegExp(`EDGEVISOR_VIEWER_TOKEN=${viewer}`));
  });

  test('upgrade runs the new version, keeps the old one as previous and the event log', async () => {
    const before = await eventLog();
    await run('deploy/upgrade.sh', [bundles[1]!]);
    await assertServing(versions[1]);
    assert.equal(basename(readlinkSync(join(home, 'previous'))), versions[0]);
    // Same volume, same SQLite file: the old events are still there and numbering continues.
    await waitFor('events after the upgrade', async () => (await eventLog()).lastSeq > before.lastSeq, 60_000, 500);
    assert.deepEqual((await eventLog()).first, before.first);
    assert.equal((await containersOfProject()).length, 6);
  });

  test('rollback runs the previous version again', async () => {
    await run('deploy/rollback.sh', []);
    await assertServing(versions[0]);
    assert.equal(basename(readlinkSync(join(home, 'previous'))), versions[1]);
    assert.equal((await containersOfProject()).length, 6);
  });

  test('a bundle that is not one is refused with a clear message, and the stack keeps running', async () => {
    const bogus = join(out, 'not-a-bundle.tar');
    writeFileSync(bogus, 'hello');
    await assert.rejects(run('deploy/upgrade.sh', [bogus]), /not a readable tar file|not an edgevisor bundle/);
    await assertServing(versions[0]);
  });
});
