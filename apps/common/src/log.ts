/**
 * The apps' JSON log lines: supervisor/src/log.ts (pino, fastify's own logger, request ids, the
 * `err` field) plus the one redaction. Redaction is structural: pino's `streamWrite` hook passes
 * each whole serialized line through `redactSecrets` (redact.ts) just before it is written, so
 * every field of every line is covered whatever a call site logs; its patterns stop at quotes and
 * backslashes, so the line stays valid JSON.
 */
import { createLogger as createBaseLogger, type Logger, type LoggerOptions } from 'edgevisor';
import { redactSecrets } from './redact.ts';

export { parseLogLevel, requestIdFor, serializeError, fastifyLogging, echoRequestId, LOG_LEVELS, MAX_REQUEST_ID, type Logger } from 'edgevisor';

/** A logger whose every line is redacted (see the module doc). */
export function createAppLogger(opts: Omit<LoggerOptions, 'rewriteLine'>): Logger {
  return createBaseLogger({ ...opts, rewriteLine: redactSecrets });
}

// The process's logger. runMain names the app (its `app` option) and reads LOG_LEVEL; before
// that, or without it (a test building an app in-process), lines say `app: "app"`.
let processLog: Logger | undefined;

/** Sets the process's logger (runMain does). */
export function setProcessLogger(logger: Logger): Logger {
  processLog = logger;
  return logger;
}

/** The process's logger (stdout, redacted). */
export function processLogger(): Logger {
  processLog ??= createAppLogger({ app: 'app' });
  return processLog;
}

/** Levels a text line can be logged at. */
export type LineLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * The level of a free-text line from a component that logs through a `(line: string) => void`
 * callback (the inference frame loop, the event writer, the frame ring): those callbacks stay
 * (tests read them), and the words they use for trouble pick the level. A bridge, not a parser.
 */
export function levelOfLine(line: string): LineLevel {
  if (/\b(LOST|NOT STORED|FAILPOINT)\b/.test(line)) return 'error';
  if (/\b(cannot|failed|fails|error|WARNING|unavailable|refused|retrying|not found|timed out)\b/i.test(line)) return 'warn';
  return 'info';
}

/**
 * What a text line is about: `camera dock: ...`, `inference camera dock: ...` and `inference:
 * camera dock: ...` are about the camera `dock` (its `child` field); a leading `inference: ` (the
 * app's name, already in `app`) goes.
 */
export function splitLine(line: string): { child?: string; msg: string } {
  const m = /^(?:(?:camera|inference):? )?camera ([\w.-]{1,64}): (.*)$/s.exec(line);
  if (m) return { child: m[1]!, msg: m[2]! };
  return { msg: line.replace(/^(?:camera|inference|web|onvif|vacuum): /, '') };
}

/** A `(line) => void` that logs each line as `msg` on `logger` (at `level`, or levelOfLine's; `child` from splitLine). */
export function lineLogger(logger: Logger, level?: LineLevel): (line: string) => void {
  return (line) => {
    const { child, msg } = splitLine(line);
    logger[level ?? levelOfLine(line)](child ? { child } : {}, msg);
  };
}

/**
 * A `(entry) => void` for components that log objects (`{ level, msg, ...fields }`: the web hub,
 * the onvif events, the vacuum's state db): each entry becomes one line on `logger`, its `level`
 * (default info) and `msg` taken out, the rest as fields. `app` and `time` come from the logger.
 */
export function objectLogger(logger: Logger): (entry: Record<string, unknown>) => void {
  return ({ level, msg, app: _app, time: _time, ...rest }) => {
    const l = level === 'error' || level === 'warn' || level === 'debug' || level === 'fatal' ? level : 'info';
    logger[l](rest, typeof msg === 'string' ? msg : msg === undefined ? '' : String(msg));
  };
}
