// The orphan reaper's safety rule (supervisor/src/backends/group-record.ts): a recorded process
// group is signalled only when its leader still has the recorded start time, so a pid reused by
// an unrelated program is never killed. Real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime, reapRecordedGroups } from '../../supervisor/src/backends/group-record.ts';
import { isProcessAlive } from '../../supervisor/src/backends/index.ts';
import { waitFor } from '../helpers/net.ts';

test('only groups whose leader has the recorded start time are killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgevisor-reap-'));
  const mine = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  const reused = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  try {
    const file = join(dir, 'process-groups.jsonl');
    const st = processStartTime(mine.pid!)!;
    writeFileSync(file, `${JSON.stringify({ pgid: mine.pid, startTime: st, child: 'a' })}\n${JSON.stringify({ pgid: reused.pid, startTime: String(Number(processStartTime(reused.pid!)) - 1), child: 'b' })}\nnot json\n`);
    const reaped = await reapRecordedGroups(file, 1_000);
    assert.deepEqual(reaped, [{ child: 'a', pgid: mine.pid }]);
    await waitFor('the recorded group is gone', () => !isProcessAlive(mine.pid!), 5_000);
    assert.equal(isProcessAlive(reused.pid!), true, 'a pid with another start time is not ours');
  } finally {
    mine.kill('SIGKILL');
    reused.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
