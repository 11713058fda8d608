/**
 * Structured logs (issue 14.3) through real processes: a real `edgevisor run` supervising the web
 * app (its main.ts, as deployed) and a child that prints text. The web app's "inference app" is a
 * peer that answers 200 with HTML (a broken upstream), which makes a real 5xx.
 * Checked: the app's stdout lines are JSON with app and reqId; a safe x-request-id is kept and
 * sent back, an unsafe one replaced; the 5xx is logged with err, its code and cause, and the
 * answer carries no stack or path; `edgevisor logs` prints the readable form, `--json` the lines
 * as logged, and a text child's lines unchanged.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '../helpers/net.ts';
import { edgevisorBin, startSupervisor, TEST_VIEWER, type SupervisorProcess } from '../helpers/supervisor-process.ts';

const root = resolve(import.meta.dirname, '../..');
const fixture = join(root, 'test/fixtures/http-child.js');

/** The real CLI, bounded in time. */
function edgevisor(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [edgevisorBin, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`edgevisor ${args.join(' ')} hung; ${stdout} ${stderr}`)); }, 20_000);
    child.on('exit', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
  });
}

type Line = Record<string, any>;

describe('structured logs: a real supervisor, the web app as its child', () => {
  const dir = mkdtempSync(join(tmpdir(), 'h14-logs-'));
  let sup: SupervisorProcess | undefined;
  let broken: Server | undefined;
  let web = '';
  const cli = () => ({ EDGEVISOR_API: sup!.url, EDGEVISOR_TOKEN: TEST_VIEWER });
  /** The web child's output lines as the supervisor keeps them. */
  const webLines = async (): Promise<string[]> => (await sup!.api('/v1/children/web')).body.logs;
  const webJson = async (): Promise<Line[]> => (await webLines()).filter((l) => l.startsWith('stdout| ')).map((l) => JSON.parse(l.slice(8)) as Line);

  before(async () => {
    // A broken upstream: 200 with an HTML page that names a server path, for every request.
    broken = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>/srv/internal/path oops</html>'); });
    await new Promise<void>((r) => broken!.listen(0, '127.0.0.1', r));
    const brokenPort = (broken.address() as { port: number }).port;
    const [apiPort, webPort, textPort] = [await freePort(), await freePort(), await freePort()];
    web = `http://127.0.0.1:${webPort}`;
    const file = join(dir, 'tree.yaml');
    writeFileSync(file, [
      'version: 1',
      'name: logbox',
      `api: { listen: "127.0.0.1:${apiPort}" }`,
      'store: { path: ./events.db }',
      'children:',
      '  - id: web',
      `    process: { command: [${JSON.stringify(process.execPath)}, --import, tsx, apps/web/src/main.ts], cwd: ${JSON.stringify(root)}, env: { PORT: "${webPort}", HOST: 127.0.0.1, INFERENCE_URL: "http://127.0.0.1:${brokenPort}", DATA_DIR: ${JSON.stringify(dir)} } }`,
      '    probes:',
      `      - { name: live, http: { url: "${web}/healthz" }, every: 500ms, startup_grace: 20s }`,
      '  - id: text',
      `    process: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture)}], env: { PORT: "${textPort}" } }`,
      '',
    ].join('\n'));
    sup = await startSupervisor(file);
    await waitFor('web and text running', async () => (await sup!.state('web')) === 'running' && (await sup!.state('text')) === 'running', 40_000, 200);
    await waitFor('the web app listening', async () => (await fetch(`${web}/healthz`, { signal: AbortSignal.timeout(2000) })).status > 0, 20_000, 200);
  });
  after(async () => {
    await sup?.kill();
    await new Promise((r) => broken?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('every stdout line of the app is JSON with app, level, time, msg; a request line carries reqId, kept from a safe x-request-id and sent back', async () => {
    const kept = await fetch(`${web}/no-such-page`, { headers: { 'x-request-id': 'it-404-a' }, signal: AbortSignal.timeout(5000) });
    assert.equal(kept.status, 404);
    assert.equal(kept.headers.get('x-request-id'), 'it-404-a');
    const replaced = await fetch(`${web}/no-such-page`, { headers: { 'x-request-id': 'no spaces "or" quotes' }, signal: AbortSignal.timeout(5000) });
    const fresh = replaced.headers.get('x-request-id') ?? '';
    assert.match(fresh, /^r[0-9a-f]{12}$/);

    const lines = await waitFor('the request lines', async () => {
      const l = await webJson();
      return l.some((x) => x.reqId === 'it-404-a') && l.some((x) => x.reqId === fresh) ? l : undefined;
    }, 10_000, 100);
    for (const l of lines) {
      assert.equal(l.app, 'web', JSON.stringify(l));
      assert.ok(typeof l.level === 'string' && typeof l.msg === 'string' && !Number.isNaN(Date.parse(l.time)), JSON.stringify(l));
    }
    const line = lines.find((x) => x.reqId === 'it-404-a')!;
    assert.deepEqual([line.level, line.method, line.path, line.status], ['info', 'GET', '/no-such-page', 404]);
    assert.ok(lines.some((x) => /^dashboard on http:\/\/127\.0\.0\.1:\d+\/$/.test(x.msg)), 'the start line');
  });

  test('a 5xx: the answer says only its code (no stack, no path); the line has err with code, cause and a stack of file names', async () => {
    const res = await fetch(`${web}/api/events`, { headers: { 'x-request-id': 'it-500-b' }, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-request-id'), 'it-500-b');
    const body = await res.text();
    assert.deepEqual(JSON.parse(body), { error: { code: 'WEB_ERR_INTERNAL', message: 'internal error (see the web app log)' } });
    assert.doesNotMatch(body, /\bat |\/srv|\.ts|SyntaxError/);

    const line = await waitFor('the error line', async () => (await webJson()).find((x) => x.reqId === 'it-500-b' && x.level === 'error'), 10_000, 100);
    assert.equal(line.status, 500);
    assert.equal(line.err.code, 'WEB_ERR_UPSTREAM_BAD_ANSWER');
    assert.match(line.err.message, /the inference app answered \/events with something that is not JSON/);
    assert.equal(line.err.cause.type, 'SyntaxError', JSON.stringify(line.err));
    assert.match(line.err.stack, /upstream\.ts:\d+:\d+/);
    assert.ok(!line.err.stack.includes(root), 'no server path in the logged stack');
  });

  test('edgevisor logs: JSON lines readable (time, level, message, fields), --json as logged; a text child passes through unchanged', async () => {
    const readable = await edgevisor(['logs', 'web'], cli());
    assert.equal(readable.code, 0, readable.stderr);
    const out = readable.stdout.trimEnd().split('\n');
    const errLine = out.find((l) => l.includes('reqId=it-500-b'));
    assert.ok(errLine, readable.stdout);
    assert.match(errLine, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {2}ERROR {2}GET \/api\/events -> 500: the inference app answered \/events with something that is not JSON {2}app=web reqId=it-500-b .*err="AppError: .* \[WEB_ERR_UPSTREAM_BAD_ANSWER\] <- cause: SyntaxError: /);
    assert.ok(out.every((l) => !l.startsWith('stdout| {')), 'no raw JSON left in the readable form');

    const raw = await edgevisor(['logs', 'web', '--json'], cli());
    assert.equal(raw.code, 0, raw.stderr);
    const parsed = raw.stdout.trimEnd().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    assert.ok(parsed.some((l) => l.reqId === 'it-500-b' && l.err?.cause), raw.stdout);

    const text = await edgevisor(['logs', 'text'], cli());
    assert.equal(text.code, 0, text.stderr);
    const direct = (await sup!.api('/v1/children/text')).body.logs as string[];
    assert.ok(direct.some((l) => /^stdout\| .*listening/.test(l)), JSON.stringify(direct));
    for (const l of direct.filter((x) => x.startsWith('stdout| '))) assert.ok(text.stdout.includes(`${l}\n`), `${l} unchanged in:\n${text.stdout}`);
  });
});
