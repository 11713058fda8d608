// Who holds a port, as deploy/lib.sh's port_owner tells it before the stack comes up (real Docker,
// a real listener): a container of another project by the host port it publishes (not by its
// container port), a program with its name and pid, nobody. The stack's own containers do not
// count: compose replaces them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { docker, dockerUnavailable, ensureTestImage } from '../helpers/docker.ts';
import { freePort } from '../helpers/net.ts';

const lib = resolve('deploy/lib.sh');
const unavailable = await dockerUnavailable();

describe('deploy/lib.sh port_owner (real Docker)', { skip: unavailable ?? false }, () => {
  const name = `evports-${randomBytes(4).toString('hex')}`;
  const home = mkdtempSync(join(tmpdir(), 'edgevisor-ports-'));
  let hostPort = 0;
  let containerPort = 0;
  before(async () => {
    hostPort = await freePort();
    containerPort = await freePort(); // a number no host listener uses: it must not count as taken
    const image = await ensureTestImage();
    await docker(['run', '-d', '--rm', '--name', name, '--label', 'com.docker.compose.project=someoneelse', '-p', `127.0.0.1:${hostPort}:${containerPort}`, image, 'sleep', '120']);
    writeFileSync(join(home, 'project'), 'ourstack\n');
  });
  after(async () => {
    await docker(['rm', '-f', name]).catch(() => {});
    rmSync(home, { recursive: true, force: true });
  });

  const owner = (port: number, project?: string) =>
    new Promise<string>((res, rej) => {
      if (project) writeFileSync(join(home, 'project'), `${project}\n`);
      execFile('sh', ['-c', `. ${lib}; port_owner ${port}`], { env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_HOME: home }, timeout: 30_000 }, (err, stdout) => (err ? rej(err) : res(stdout.trim())));
    });

  test('a container of another project, by host port; the same container is ours under its own project', async () => {
    assert.equal(await owner(hostPort, 'ourstack'), `container ${name}, not of this stack`);
    assert.equal(await owner(containerPort), '', 'the container port is not a host port');
    assert.equal(await owner(hostPort, 'someoneelse'), '', "the stack's own container: compose replaces it");
  });

  test('a program listening, named with its pid; a free port belongs to nobody', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      assert.equal(await owner(port), `another program (node, pid ${process.pid})`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    assert.equal(await owner(port), '');
  });
});
