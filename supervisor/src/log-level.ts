/** The log levels LOG_LEVEL accepts, apart from log.ts so reading the config does not load pino. */
import type { LevelWithSilent } from 'pino';

/** The levels LOG_LEVEL accepts, most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];

/** Parses LOG_LEVEL (unset or blank: info). Throws naming the variable and what is accepted. */
export function parseLogLevel(value: string | undefined, where = 'env LOG_LEVEL'): LevelWithSilent {
  if (value === undefined || value.trim() === '') return 'info';
  const v = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LevelWithSilent;
  throw new Error(`${where}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value.slice(0, 40))}`);
}
