// Runs the examples (examples/) and checks what they printed; shared by
// test/integration/examples.test.ts (from the sources) and package.test.ts (from the packed package).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, '../..');

/** Runs an example; returns its output lines and the parsed `summary` line. */
export async function runExample(file: string, args: string[] = ['--import', 'tsx'], cwd = repoRoot): Promise<{ lines: string[]; summary: Record<string, unknown> }> {
  const { stdout } = await run(process.execPath, [...args, file], { cwd, timeout: 60_000, maxBuffer: 1 << 20 });
  const lines = stdout.trim().split('\n');
  const last = lines.find((l) => / summary \{/.test(l));
  assert.ok(last, `no summary line in:\n${stdout}`);
  return { lines, summary: JSON.parse(last.slice(last.indexOf('{'))) as Record<string, unknown> };
}

/** What the ETL example must have printed, wherever it runs from. */
export function checkEtl(out: { lines: string[]; summary: Record<string, unknown> }): void {
  assert.deepEqual(out.summary, { delivered: 12, inOrder: true, quarantined: 1, failures: { poller: 'heartbeat', transformer: 'exit', notifier: 'exit' } });
  const text = out.lines.join('\n');
  assert.match(text, /restart poller: heartbeat stopped for/);
  assert.match(text, /restart transformer: crashed: batch 7: record 2 has no "value"/);
  assert.match(text, /restart notifier: crashed: webhook timed out 3 times on batch 9/);
  assert.match(text, /transformer: batch 7 quarantined record 2/);
}
