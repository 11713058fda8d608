/**
 * `edgevisor run`'s stdout under a real pseudo-terminal (util-linux `script`, as `npm start` in a
 * terminal) and without one (a pipe, as docker, CI and files): readable lines on the terminal,
 * JSON lines elsewhere, EDGEVISOR_LOG_FORMAT over the guess. The child's own log, read through
 * the API, stays JSON either way. Ctrl-C is typed into the terminal (the pty delivers SIGINT).
 * supervisor/src/cli/terminal-log.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';

const bin = resolve(import.meta.dirname, '../../bin/edgevisor.mjs');
const TECH = 'technician-token-terminal-log';
const dir = mkdtempSync(join(tmpdir(), 'terminal-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A child that logs one JSON line, as the apps do, then idles.
const KID = `console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), app: 'kid', msg: 'hello from kid' })); setInterval(() => {}, 1000);`;
const READABLE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}(INFO|WARN|ERROR) +\S/;
const TIMEOUT_MS = 30_000;

/** Runs `edgevisor run` on a one-child tree, with stdout a pty or a pipe; stops it with Ctrl-C / SIGINT. */
async function runSupervisor(o: { tty: boolean; format?: string }): Promise<{ lines: string[]; kidLogs: string[]; code: number | null }> {
  const port = await freePort();
  const tree = join(dir, `tree-${port}.yaml`);
  writeFileSync(tree, `version: 1\nname: box\napi: { listen: "127.0.0.1:${port}" }\nstore: { path: ./events-${port}.db }\nchildren:\n  - id: kid\n    process: { command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(KID)}] }\n`);
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', HOME: dir, SHELL: '/bin/sh', EDGEVISOR_TECHNICIAN_TOKEN: TECH, ...(o.format ? { EDGEVISOR_LOG_FORMAT: o.format } : {}) };
  const command = [process.execPath, bin, 'run', tree];
  // script -qfec CMD /dev/null: CMD on a new pty; what it writes comes out on script's stdout.
  const child = o.tty
    ? spawn('script', ['-qfec', `exec ${command.map((a) => `'${a}'`).join(' ')}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(command[0]!, command.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor('the child started', () => out.includes('all children started'), TIMEOUT_MS, 50)
      .catch((e: Error) => { throw new Error(`${e.message}; stdout: ${out} stderr: ${err}`); });
    const kidLogs = await waitFor('the child\'s line in its log', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/children/kid`, { headers: { authorization: `Bearer ${TECH}` }, signal: AbortSignal.timeout(5000) });
      const logs = ((await res.json()) as { logs: string[] }).logs;
      return logs.some((l) => l.startsWith('stdout| ')) ? logs : undefined;
    }, TIMEOUT_MS, 100);
    if (o.tty) child.stdin!.write('\x03');
    else child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`no exit; stdout: ${out}`)), TIMEOUT_MS)))])
      .finally(() => clearTimeout(timer));
    // A pty ends lines with \r\n; Ctrl-C is echoed as ^C.
    const lines = out.replace(/\r/g, '').replace(/\^C/g, '').split('\n').filter((l) => l.trim() !== '');
    return { lines, kidLogs, code };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

function assertReadable(lines: string[]): void {
  assert.ok(lines.length >= 5, lines.join('\n'));
  for (const l of lines) {
    assert.match(l, READABLE, `a readable line: ${l}`);
    assert.ok(!l.includes('{"level"'), `no JSON: ${l}`);
  }
  // time, level, msg, then app and the child the line is about.
  assert.ok(lines.some((l) => / {2}INFO {3}box: API listening on http:\/\/127\.0\.0\.1:\d+ .* {2}app=supervisor /.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => / {2}INFO {3}transition: starting -> running: started {2}app=supervisor child=kid event=transition /.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => / {2}INFO {3}stopped {2}app=supervisor$/.test(l)), lines.join('\n'));
}

function assertJson(lines: string[]): void {
  assert.ok(lines.length >= 5, lines.join('\n'));
  const objs = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line: ${l}`);
    }
  });
  assert.ok(objs.every((o) => typeof o['time'] === 'string' && typeof o['level'] === 'string' && o['app'] === 'supervisor' && typeof o['msg'] === 'string'));
  assert.ok(objs.some((o) => o['child'] === 'kid' && o['msg'] === 'transition: starting -> running: started'));
  assert.ok(objs.some((o) => o['msg'] === 'stopped'));
}

/** The child's own line, as the API answers it: the JSON it logged, untouched. */
function assertKidLogJson(kidLogs: string[]): void {
  const line = kidLogs.find((l) => l.startsWith('stdout| '));
  assert.ok(line, kidLogs.join('\n'));
  assert.match(line, /^stdout\| \{"level":"info","time":"[^"]+","app":"kid","msg":"hello from kid"\}$/);
}

describe('edgevisor run: readable lines on a terminal, JSON elsewhere', () => {
  test('on a pseudo-terminal: readable lines (time, level, msg, app, child); the child\'s log through the API stays JSON; Ctrl-C stops it', async () => {
    const r = await runSupervisor({ tty: true });
    assertReadable(r.lines);
    assertKidLogJson(r.kidLogs);
    assert.equal(r.code, 0);
  });

  test('on a pseudo-terminal with EDGEVISOR_LOG_FORMAT=json: JSON lines', async () => {
    const r = await runSupervisor({ tty: true, format: 'json' });
    assertJson(r.lines);
    assert.equal(r.code, 0);
  });

  test('on a pipe: JSON lines; with EDGEVISOR_LOG_FORMAT=pretty: readable lines', async () => {
    const plain = await runSupervisor({ tty: false });
    assertJson(plain.lines);
    assertKidLogJson(plain.kidLogs);
    assert.equal(plain.code, 0);
    const forced = await runSupervisor({ tty: false, format: 'pretty' });
    assertReadable(forced.lines);
    assert.equal(forced.code, 0);
  });
});
