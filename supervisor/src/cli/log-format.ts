/**
 * Reading a child's output lines (`edgevisor logs`, the dashboard's log panel). Lines come as the
 * backends keep them: `stdout| ...`, `stderr| ...`, `edgevisor| ...` (the process ring, a
 * container's log). A JSON log line (pino's, ours: `time`, `level`, `msg`, `app`, `child`,
 * `reqId`, `err`) is parsed into its parts; anything else (ffmpeg, a child printing text) is text.
 */

/** A parsed output line. */
export interface LogEntry {
  /** Where the line came from, when it carried the backend's prefix. */
  stream?: 'stdout' | 'stderr' | 'edgevisor';
  /** The line without that prefix. */
  raw: string;
  /** Set for a JSON log line. */
  json?: {
    /** Unix ms, when the line had a time. */
    ts?: number;
    /** `info`, `warn`... (pino's numbers are turned into words). */
    level?: string;
    msg: string;
    /** app, child, reqId first, then the other fields, err last (`Type: message [code] <- cause ...`), as strings. */
    fields: [string, string][];
  };
}

const PREFIX = /^(stdout|stderr|edgevisor)\| /;
const PINO_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields shown first, in this order; `time`, `level`, `msg` have their own place. */
const KEY_FIELDS = ['app', 'child', 'reqId'];
const SKIP = new Set(['time', 'level', 'msg', 'message', 'pid', 'hostname', 'v']);
const MAX_FIELD = 300;

/** Parses one output line (see the module doc). */
export function parseLogLine(line: string): LogEntry {
  const m = PREFIX.exec(line);
  const raw = m ? line.slice(m[0].length) : line;
  const entry: LogEntry = { ...(m ? { stream: m[1] as LogEntry['stream'] } : {}), raw };
  if (!raw.startsWith('{')) return entry;
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return entry;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return entry;
  const o = obj as Record<string, unknown>;
  const msg = typeof o['msg'] === 'string' ? o['msg'] : typeof o['message'] === 'string' ? o['message'] : undefined;
  if (msg === undefined && o['level'] === undefined) return entry;
  const level = typeof o['level'] === 'number' ? (PINO_LEVELS[o['level']] ?? String(o['level'])) : typeof o['level'] === 'string' ? o['level'] : undefined;
  const t = o['time'];
  const ts = typeof t === 'number' ? t : typeof t === 'string' ? Date.parse(t) : NaN;
  const fields: [string, string][] = [];
  for (const k of KEY_FIELDS) if (o[k] !== undefined) fields.push([k, text(o[k])]);
  for (const [k, v] of Object.entries(o)) if (!SKIP.has(k) && !KEY_FIELDS.includes(k) && k !== 'err' && v !== undefined) fields.push([k, text(v)]);
  if (o['err'] !== undefined) fields.push(['err', errText(o['err'])]);
  entry.json = { ...(Number.isFinite(ts) ? { ts } : {}), ...(level ? { level } : {}), msg: msg ?? '', fields };
  return entry;
}

function text(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD)}…` : s;
}

/** `Type: message [code] <- cause: Type: message [code]` (no stack: `--json` has it). */
function errText(err: unknown, depth = 0): string {
  if (!err || typeof err !== 'object') return text(err);
  const e = err as { type?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  const head = `${typeof e.type === 'string' ? `${e.type}: ` : ''}${typeof e.message === 'string' ? e.message : ''}${e.code !== undefined ? ` [${String(e.code)}]` : ''}`;
  return e.cause !== undefined && depth < 5 ? `${head} <- cause: ${errText(e.cause, depth + 1)}` : head;
}

function clock(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const quote = (v: string) => (/^[^\s"=]*$/.test(v) && v !== '' ? v : isJsonValue(v) ? v : JSON.stringify(v));

/** A field that was an object or array in the line (text() gave its JSON): shown as that JSON, not re-quoted. */
function isJsonValue(v: string): boolean {
  if (!/^[[{]/.test(v)) return false;
  try {
    JSON.parse(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * One readable line for a JSON log line: `2026-12-01 12:24:56.059  WARN   GET /x -> 503  app=web reqId=r1 err="..."`
 * (local time, like `events`; a text field with spaces or quotes JSON-quoted, an object field as
 * its JSON: `data={"probe":"live","ok":true}`). Any other line is returned unchanged.
 */
export function formatLogLine(line: string): string {
  const e = parseLogLine(line);
  if (!e.json) return line;
  const { ts, level, msg, fields } = e.json;
  const when = ts !== undefined ? clock(ts) : '-';
  const kv = fields.map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  return `${when}  ${(level ?? '-').toUpperCase().padEnd(5)}  ${msg}${kv ? `  ${kv}` : ''}`;
}

/** `--json`: a JSON log line as the child logged it (without the backend's prefix); any other line unchanged. */
export function rawLogLine(line: string): string {
  const e = parseLogLine(line);
  return e.json ? e.raw : line;
}
