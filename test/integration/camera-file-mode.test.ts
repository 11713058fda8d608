/**
 * The real camera app (its main.ts, as deployed) started on a cameras file with a password and
 * mode 0644, as an upgrade run by an older release's upgrade.sh leaves applied/cameras.yaml: it
 * warns once at start (a warn log line naming the fix) and /healthz reports the `cameras_file`
 * warning (degraded, still 200: a restart would not help) without the password or the file's path.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'camera-file-mode-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a 0644 cameras file holding a password: a warn line at start and the cameras_file warning in /healthz', async () => {
  const [port, closed] = await Promise.all([freePort(), freePort()]);
  const file = join(dir, 'cameras.yaml');
  writeFileSync(file, `cameras:
  - id: yard
    source: { mjpeg: { url: "http://127.0.0.1:${closed}/v.mjpg", username: op, password: "Yard-Pass-77" } }
`);
  chmodSync(file, 0o644);
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/camera/src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', CAMERAS_FILE: file, FRAMES_DIR: join(dir, 'frames') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    const body = await waitFor('camera /healthz answers', async () => {
      if (child.exitCode !== null) throw new Error(`the camera app exited ${child.exitCode}:\n${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return r?.status === 200 ? (await r.json()) as { status: string; checks: Record<string, { warning?: string }> } : undefined;
    }, 30_000, 100);
    assert.equal(body.status, 'degraded');
    const warning = body.checks['cameras_file']?.warning ?? '';
    assert.match(warning, /^cameras\.yaml holds camera credentials and every user of this machine can read it \(mode 0644\): on an installed box run edgevisorctl apply/);
    const line = out.split('\n').filter((l) => l.includes('holds camera credentials')).map((l) => JSON.parse(l) as { level: number | string; msg: string });
    assert.equal(line.length, 1, out);
    assert.ok(line[0]!.level === 40 || line[0]!.level === 'warn', `logged as a warning: ${JSON.stringify(line[0])}`);
    assert.equal(line[0]!.msg, warning);
    for (const text of [JSON.stringify(body), out]) {
      assert.ok(!text.includes('Yard-Pass-77'), 'no password');
      assert.ok(!text.includes(dir), 'no server path');
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
});
