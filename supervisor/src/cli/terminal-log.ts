/**
 * What `edgevisor run` writes on its stdout. Its log lines are JSON (log.ts), which docker, CI and
 * files want; a person watching `npm start` in a terminal wants to read them. So on a terminal each
 * line is turned into the form `edgevisor logs` prints (log-format.ts's formatter, the same one:
 * `time  LEVEL  msg  app=… child=… err="…"`), and anywhere else it stays JSON.
 * EDGEVISOR_LOG_FORMAT=json|pretty overrides the guess (config.ts).
 *
 * Only this output changes: the lines are formatted in pino's streamWrite hook, the last step
 * before the write, so what the supervisor logs is the same JSON object either way; children's log
 * rings, the API's log answers and `edgevisor logs --json` never pass through here.
 */
import type { LogFormatSetting } from '../config.ts';
import { formatLogLine } from './log-format.ts';

/** What stdout gets: JSON lines, or the readable form. */
export type LogFormat = 'json' | 'pretty';

/** `auto`: readable when stdout is a terminal, else JSON; `json` / `pretty` as set. */
export function chooseLogFormat(setting: LogFormatSetting, stdoutIsTTY: boolean): LogFormat {
  if (setting === 'auto') return stdoutIsTTY ? 'pretty' : 'json';
  return setting;
}

/** One serialized JSON line (pino's, newline-terminated) as the readable line, newline-terminated. */
export function prettyLine(line: string): string {
  return `${formatLogLine(line.replace(/\r?\n$/, ''))}\n`;
}

/** The logger's `rewriteLine` for a format: none for JSON. */
export function lineRewriter(format: LogFormat): ((line: string) => string) | undefined {
  return format === 'pretty' ? prettyLine : undefined;
}
