import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProcessUnit, isProcessAlive, killAllProcessUnits, type ProcessExitInfo } from '../../supervisor/src/backends/process.ts';
import type { ExitInfo, Unit } from '../../supervisor/src/backends/types.ts';
import { codes, EdgevisorError } from '../../supervisor/src/errors.ts';
import type { Shutdown, WorkerSpec } from '../../supervisor/src/spec/types.ts';
import { sleep, waitFor } from '../helpers/net.ts';

// Tiny fixture programs, written fresh for each run so the tests depend on nothing else.
const fixtures: Record<string, string> = {
  // Records when it exits (so the test can measure how late the exit is seen), then exits 3.
  'exit3.js': `setTimeout(() => { require('fs').writeFileSync(process.argv[2], String(Date.now())); process.exit(3); }, 300);`,
  'polite.js': `console.log('ready'); process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); setInterval(() => {}, 1000);`,
  'stubborn.js': `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); setInterval(() => {}, 1000);`,
  'plain.js': `console.log('ready'); setInterval(() => {}, 1000);`,
  // The long stderr line only once stdout's 500 lines are written: two pipes have no order of
  // their own, and a stderr line read first would be pushed out of the 50-line ring by them.
  'chatty.js': `let s = ''; for (let i = 0; i < 500; i++) s += 'line ' + i + '\\n'; process.stdout.write(s, () => console.error('x'.repeat(10000))); setInterval(() => {}, 1000);`,
  'env.js': `console.log('FOO=' + process.env.FOO + ' PATH=' + (process.env.PATH ? 'set' : 'unset') + ' CWD=' + process.cwd()); setInterval(() => {}, 1000);`,
};

let dir: string;
const units: Unit[] = [];

function worker(command: string[], extra: { env?: Record<string, string>; cwd?: string; logLines?: number } = {}): WorkerSpec {
  return {
    type: 'worker',
    id: 'child-under-test',
    restart: 'permanent',
    shutdown: { kind: 'grace', graceMs: 5000 },
    hungShutdown: { kind: 'brutal_kill' },
    probes: [],
    backend: { kind: 'process', command, env: extra.env ?? {}, cwd: extra.cwd, logLines: extra.logLines ?? 100 },
  };
}

/** Creates a unit and collects its exits with the time each was reported. */
function make(command: string[], extra?: Parameters<typeof worker>[1]) {
  const unit = createProcessUnit(worker(command, extra), { baseDir: dir });
  units.push(unit);
  const exits: { exit: ProcessExitInfo; at: number }[] = [];
  unit.onExit((exit: ExitInfo) => exits.push({ exit: exit as ProcessExitInfo, at: Date.now() }));
  return { unit, exits };
}

const grace = (graceMs: number): Shutdown => ({ kind: 'grace', graceMs });
const ready = (unit: Unit) => waitFor('child to print ready', () => unit.logs().some((l) => l.includes('ready')), 15_000);
/** The grandchild pid a shell printed with `echo $!`. */
const printedPid = (unit: Unit) =>
  waitFor('shell to print the grandchild pid', () => {
    const line = unit.logs().find((l) => /^stdout\| \d+$/.test(l));
    return line ? Number(line.slice('stdout| '.length)) : 0;
  });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgevisor-process-'));
  for (const [name, text] of Object.entries(fixtures)) writeFileSync(join(dir, name), text);
});

after(async () => {
  // Leave nothing behind even when a test failed half-way.
  killAllProcessUnits();
  await Promise.all(units.map((u) => u.stop({ kind: 'brutal_kill' })));
  rmSync(dir, { recursive: true, force: true });
});

describe('process backend', () => {
  test('an exit with code 3 is reported once, abnormal, within 200 ms of the exit', async () => {
    const stamp = join(dir, 'exit3.stamp');
    const { unit, exits } = make([process.execPath, 'exit3.js', stamp]);
    await unit.start();
    const pid = unit.info().pid;
    assert.ok(typeof pid === 'number' && pid > 0);
    await waitFor('exit report', () => exits.length > 0, 15_000, 5);
    const exitedAt = Number(readFileSync(stamp, 'utf8'));
    assert.deepEqual(
      { code: exits[0]!.exit.code, signal: exits[0]!.exit.signal, normal: exits[0]!.exit.normal },
      { code: 3, signal: null, normal: false },
    );
    const lag = exits[0]!.at - exitedAt;
    assert.ok(lag < 200, `exit seen ${lag}ms after it happened`);
    await sleep(200);
    assert.equal(exits.length, 1, 'onExit fires exactly once');
    await unit.stop(grace(1000)); // nothing running: resolves at once
  });

  test('SIGTERM stop of a well-behaved child is a normal exit; stop is idempotent', async () => {
    const { unit, exits } = make([process.execPath, 'polite.js']);
    await unit.start();
    await ready(unit);
    const s1 = unit.stop(grace(5000));
    const s2 = unit.stop(grace(5000));
    assert.equal(s1, s2, 'a stop in progress returns the same promise');
    const t0 = Date.now();
    await s1;
    assert.ok(Date.now() - t0 < 3000, 'a polite child does not wait for the grace');
    assert.equal(exits.length, 1, 'exit reported before stop() resolves');
    assert.equal(exits[0]!.exit.code, 0);
    assert.equal(exits[0]!.exit.normal, true);
    assert.equal(exits[0]!.exit.stopRequested, true);
    assert.ok(unit.logs().includes('stdout| bye'), unit.logs().join('\n'));
  });

  test('a child without a SIGTERM handler dies of our SIGTERM, which counts as normal', async () => {
    const { unit, exits } = make([process.execPath, 'plain.js']);
    await unit.start();
    await ready(unit);
    await unit.stop(grace(5000));
    assert.equal(exits[0]!.exit.signal, 'SIGTERM');
    assert.equal(exits[0]!.exit.normal, true);
  });

  test('a child ignoring SIGTERM is killed after the grace, and not before', async () => {
    const { unit, exits } = make([process.execPath, 'stubborn.js']);
    await unit.start();
    await ready(unit);
    const t0 = Date.now();
    await unit.stop(grace(1000));
    const took = Date.now() - t0;
    assert.ok(took >= 950, `killed after ${took}ms, before the 1000ms grace`);
    assert.ok(took < 4000, `stop took ${took}ms`);
    assert.equal(exits[0]!.exit.signal, 'SIGKILL');
    assert.equal(exits[0]!.exit.normal, false);
    assert.equal(exits[0]!.exit.killed, true);
    assert.ok(unit.logs().includes('stdout| ignoring SIGTERM'), 'the child did get the SIGTERM');
  });

  test('brutal_kill kills at once', async () => {
    const { unit, exits } = make([process.execPath, 'stubborn.js']);
    await unit.start();
    await ready(unit);
    const t0 = Date.now();
    await unit.stop({ kind: 'brutal_kill' });
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(exits[0]!.exit.signal, 'SIGKILL');
    assert.equal(exits[0]!.exit.killed, true);
  });

  test('a frozen (SIGSTOP) child still dies: woken to take its SIGTERM', async () => {
    const { unit, exits } = make([process.execPath, 'plain.js']);
    await unit.start();
    await ready(unit);
    const pid = unit.info().pid as number;
    process.kill(pid, 'SIGSTOP');
    await unit.stop(grace(10_000));
    assert.equal(exits[0]!.exit.signal, 'SIGTERM', 'it got SIGTERM without waiting for the grace');
    assert.equal(isProcessAlive(pid), false);
  });

  test('a frozen child ignoring SIGTERM is killed after the grace', async () => {
    const { unit, exits } = make([process.execPath, 'stubborn.js']);
    await unit.start();
    await ready(unit);
    const pid = unit.info().pid as number;
    process.kill(pid, 'SIGSTOP');
    await unit.stop(grace(500));
    assert.equal(exits[0]!.exit.signal, 'SIGKILL');
    assert.equal(isProcessAlive(pid), false);
  });

  test('grandchildren die with the group on stop, even when they ignore SIGTERM', async () => {
    // `trap "" TERM` makes the shell ignore SIGTERM, and `sleep` inherits the ignore.
    const { unit, exits } = make(['sh', '-c', 'trap "" TERM; sleep 1000 & echo $!; wait']);
    await unit.start();
    const grandchild = await printedPid(unit);
    assert.equal(isProcessAlive(grandchild), true);
    await unit.stop(grace(500));
    assert.equal(exits[0]!.exit.killed, true);
    assert.equal(isProcessAlive(grandchild), false, `sleep ${grandchild} survived the stop`);
  });

  test('when the leader crashes, its leftover grandchildren are killed before the exit is reported', async () => {
    const { unit, exits } = make(['sh', '-c', 'sleep 1000 & echo $!; sleep 0.3; exit 5']);
    await unit.start();
    const grandchild = await printedPid(unit);
    await waitFor('exit report', () => exits.length > 0);
    assert.equal(exits[0]!.exit.code, 5);
    assert.equal(exits[0]!.exit.normal, false);
    assert.equal(isProcessAlive(grandchild), false, `sleep ${grandchild} outlived its crashed parent`);
  });

  test('output is kept in a bounded ring, long lines truncated', async () => {
    const { unit } = make([process.execPath, 'chatty.js'], { logLines: 50 });
    await unit.start();
    await waitFor('all output', () => unit.logs().some((l) => l.startsWith('stderr| xxx')), 30_000);
    const lines = unit.logs();
    assert.equal(lines.length, 50);
    assert.ok(lines.includes('stdout| line 499'));
    assert.ok(!lines.includes('stdout| line 0'));
    const long = lines.find((l) => l.startsWith('stderr| '))!;
    assert.equal(long.length, 'stderr| '.length + 4096 + 1); // 4 KiB and the truncation mark
    assert.deepEqual(unit.logs(2).length, 2);
    await unit.stop(grace(2000));
  });

  test('env is merged over the supervisor env; cwd resolves against baseDir', async () => {
    mkdirSync(join(dir, 'work'), { recursive: true });
    const { unit } = make([process.execPath, '../env.js'], { env: { FOO: 'bar' }, cwd: 'work' });
    await unit.start();
    const line = await waitFor('env line', () => unit.logs().find((l) => l.startsWith('stdout| FOO=')));
    assert.equal(line, `stdout| FOO=bar PATH=set CWD=${join(dir, 'work')}`);
    await unit.stop(grace(2000));
  });

  test('a command that does not exist rejects start() with START_FAILED naming it', async () => {
    const { unit, exits } = make(['edgevisor-no-such-command-xyz', '--flag']);
    await assert.rejects(unit.start(), (err: unknown) => {
      assert.ok(err instanceof EdgevisorError);
      assert.equal(err.code, codes.START_FAILED);
      assert.match(err.message, /edgevisor-no-such-command-xyz --flag/);
      return true;
    });
    await sleep(100);
    assert.equal(exits.length, 0, 'a failed start is not an exit');
    await unit.stop(grace(100));
  });

  test('the unit can be started again after an exit', async () => {
    const { unit, exits } = make([process.execPath, 'polite.js']);
    await unit.start();
    const first = unit.info().pid;
    await unit.stop(grace(2000));
    await unit.start();
    assert.notEqual(unit.info().pid, first);
    await unit.stop(grace(2000));
    assert.equal(exits.length, 2);
  });

  test('killAllProcessUnits kills every live group at once', async () => {
    const a = make([process.execPath, 'stubborn.js']);
    const b = make(['sh', '-c', 'trap "" TERM; sleep 1000 & echo $!; wait']);
    await a.unit.start();
    await b.unit.start();
    await ready(a.unit);
    const grandchild = await printedPid(b.unit);
    assert.ok(killAllProcessUnits() >= 2);
    await waitFor('both exits', () => a.exits.length === 1 && b.exits.length === 1, 5000);
    assert.equal(a.exits[0]!.exit.signal, 'SIGKILL');
    assert.equal(isProcessAlive(grandchild), false);
  });
});
