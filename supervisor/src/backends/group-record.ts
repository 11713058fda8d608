/**
 * The second guard against orphans (issue 16, point 4), behind parent-watch.ts: the process
 * groups of running process children are recorded in the var folder, each with its leader's
 * start time from /proc/<pid>/stat; a supervisor starting on the same folder kills the groups a
 * previous one left behind (SIGTERM, then SIGKILL after 3 s) before it starts its own children.
 * A group is only touched when its leader still has the recorded start time: a pid reused by an
 * unrelated program since then has another start time and is never signalled.
 *
 * Writes are small (one JSON line per group), atomic (temp file + rename) and best effort: on a
 * full disk the record lags, and the parent watch still ends the children with their supervisor.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isGroupAlive } from './process.ts';

interface Entry {
  pgid: number;
  /** Field 22 of /proc/<pgid>/stat: clock ticks since boot when the leader started. */
  startTime: string;
  child: string;
}

/** Start time of `pid` from /proc (Linux), undefined if it is gone or unreadable. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Keeps `file` listing the live groups. */
export interface GroupRecord {
  add(pgid: number, child: string): void;
  remove(pgid: number): void;
}

export function createGroupRecord(file: string): GroupRecord {
  const entries = new Map<number, Entry>();
  const save = () => {
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, [...entries.values()].map((e) => JSON.stringify(e)).join('\n') + '\n');
      renameSync(tmp, file);
    } catch {
      // best effort (see the opening comment)
    }
  };
  return {
    add(pgid, child) {
      const startTime = processStartTime(pgid);
      if (startTime === undefined) return;
      entries.set(pgid, { pgid, startTime, child });
      save();
    },
    remove(pgid) {
      if (entries.delete(pgid)) save();
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Kills the groups recorded in `file` whose leader is still the recorded process; returns which
 * children they were. The file is removed afterwards.
 */
export async function reapRecordedGroups(file: string, graceMs = 3_000): Promise<{ child: string; pgid: number }[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const found: Entry[] = [];
  for (const line of text.split('\n')) {
    try {
      const e = JSON.parse(line) as Entry;
      if (Number.isInteger(e.pgid) && e.pgid > 1 && typeof e.startTime === 'string' && processStartTime(e.pgid) === e.startTime) found.push(e);
    } catch {
      // a torn or empty line: nothing to act on
    }
  }
  const signal = (pgid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone
    }
  };
  for (const e of found) signal(e.pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (found.some((e) => isGroupAlive(e.pgid)) && Date.now() < deadline) await sleep(50);
  for (const e of found) if (isGroupAlive(e.pgid)) signal(e.pgid, 'SIGKILL');
  rmSync(file, { force: true });
  return found.map((e) => ({ child: e.child, pgid: e.pgid }));
}
