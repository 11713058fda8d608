/**
 * App log files on the data volumes (one folder per entry, non-recursive): a file whose last
 * write is older than retention_days is deleted. A log being written has a fresh mtime, so it is
 * never the one removed. No rows, so nothing to keep consistent.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { AppLogsConfig } from '../config.ts';
import type { RunCtx } from './safety-events.ts';

/** `*` and `?` only: all a log pattern needs ("*.log*", "app-?.log"). */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

export function appLogsRetention(cfg: AppLogsConfig, ctx: RunCtx): void {
  let names: string[];
  try { names = readdirSync(cfg.dir); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; throw e; }
  const re = globToRegExp(cfg.pattern);
  const cutoff = ctx.now - cfg.retentionDays * 86_400_000;
  for (const name of names.sort()) {
    if (!re.test(name)) continue;
    const p = join(cfg.dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st?.isFile() || st.mtimeMs >= cutoff) continue;
    if (!ctx.dryRun) {
      try { unlinkSync(p); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; throw e; }
    }
    ctx.tally.add('app_logs', 'retention', cfg.volume, 1, st.blocks !== undefined ? st.blocks * 512 : st.size);
  }
}
