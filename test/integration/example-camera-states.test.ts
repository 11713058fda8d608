// examples/camera-states runs with its one command (README) and shows what it says: each broken
// deadline restarts its camera alone with the constraint as the reason, then every camera streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

test('examples/camera-states: three deadline breaks, three restarts with their constraint, all cameras streaming', async () => {
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/camera-states/main.ts'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example did not finish in 60 s: ${stdout} ${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const restarts = r.stdout.split('\n').filter((l) => /\s#\d+\s+restart\s/.test(l));
  assert.equal(restarts.length, 3, r.stdout);
  assert.match(restarts.find((l) => /\syard\s+stayed/.test(l)) ?? '', /stayed in connecting 2\.\d s, limit 2 s; restarting yard/);
  assert.match(restarts.find((l) => /\sgate\s/.test(l)) ?? '', /no heartbeat in streaming for 1\.\d s, limit 1 s; restarting gate/);
  assert.match(restarts.find((l) => /\syard\s+reconnecting/.test(l)) ?? '', /reconnecting -> streaming not reached after 3\.\d s, limit 3 s/);
  assert.ok(r.stdout.includes('worker_state  dock  connecting -> streaming'), r.stdout);
  assert.match(r.stdout, /changes in 1\.0 s\)/, 'the reconnect loop is folded');
  const status = r.stdout.slice(r.stdout.indexOf('\nID '));
  assert.match(status, /^\nID\s+STATE\s+WORKER\s+UPTIME\s+RESTARTS\s+LAST-REASON$/m);
  for (const [id, n] of [['dock', 0], ['gate', 1], ['yard', 2]] as const) assert.match(status, new RegExp(`^  ${id}\\s+running\\s+streaming \\d+s\\s+\\S+\\s+${n}\\s`, 'm'), status);
});
