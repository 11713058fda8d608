/**
 * Fault injection for tests and benchmarks, enabled only by VACUUM_FAILPOINT:
 *
 *   pause-after-rows[@N]   in a real run, after the N-th batch of safety-event rows is deleted
 *                          (their files only journaled), the run waits forever: a test SIGKILLs
 *                          the process there. Default N = 1.
 *   pause-after-files[@N]  the same, after the N-th batch's files are unlinked, before the journal
 *                          entries are cleared.
 *   freeze-scheduler[@DELAY]  DELAY (e.g. 2s) after start the scheduler stops: no tick, no run;
 *                          HTTP keeps answering (a stuck timer, not a dead process).
 */

/** A parsed failpoint. */
export type Failpoint =
  | { kind: 'pause-after-rows' | 'pause-after-files'; batch: number }
  | { kind: 'freeze-scheduler'; afterMs: number };

export function parseFailpoint(text: string): Failpoint {
  const t = text.trim();
  const pause = /^(pause-after-rows|pause-after-files)(?:@(\d+))?$/.exec(t);
  if (pause) return { kind: pause[1] as 'pause-after-rows', batch: Math.max(1, Number(pause[2] ?? 1)) };
  const freeze = /^freeze-scheduler(?:@(\d+(?:\.\d+)?)(ms|s))?$/.exec(t);
  if (freeze) return { kind: 'freeze-scheduler', afterMs: freeze[1] ? Math.round(Number(freeze[1]) * (freeze[2] === 's' ? 1000 : 1)) : 0 };
  throw new Error('expected pause-after-rows[@N], pause-after-files[@N] or freeze-scheduler[@DELAY], e.g. pause-after-rows@2, freeze-scheduler@2s');
}

/** Called by the deleter at its two crash points; returns at once unless the failpoint names it. */
export async function failpointPause(fp: Failpoint | null, at: 'pause-after-rows' | 'pause-after-files', batch: number): Promise<void> {
  if (!fp || fp.kind !== at || fp.batch !== batch) return;
  // Written synchronously so the test sees it before it SIGKILLs.
  process.stderr.write(`VACUUM_FAILPOINT ${at}@${batch}: paused\n`);
  await new Promise<never>(() => {});
}
