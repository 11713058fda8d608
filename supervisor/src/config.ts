import { EdgevisorError, codes } from './errors.ts';
import { parseLogLevel } from './log-level.ts';
import type { LevelWithSilent } from 'pino';

/**
 * The supervisor service's environment, read once, validated and frozen. The only module of the
 * supervisor that touches `process.env`; everything else receives a {@link Config}.
 */
export interface Config {
  /** Bearer token granting read-only routes (EDGEVISOR_VIEWER_TOKEN). */
  readonly viewerToken?: string;
  /** Bearer token granting read + manual actions (EDGEVISOR_TECHNICIAN_TOKEN). */
  readonly technicianToken?: string;
  /** Override of the tree file's `api.listen` for `edgevisor run` (EDGEVISOR_LISTEN, "host:port"). */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Where CLI commands find the supervisor (EDGEVISOR_API, default http://127.0.0.1:7070). */
  readonly apiUrl: string;
  /** Token the CLI sends (EDGEVISOR_TOKEN). */
  readonly token?: string;
  /** Level of `run`'s JSON log lines (LOG_LEVEL: fatal..trace or silent; default info). */
  readonly logLevel: LevelWithSilent;
  /**
   * How `run` writes its log lines on stdout (EDGEVISOR_LOG_FORMAT): `auto` (default) readable on
   * a terminal and JSON otherwise, `json` always, `pretty` always readable (cli/terminal-log.ts).
   */
  readonly logFormat: LogFormatSetting;
  /**
   * Where `run` keeps the last tree file that validated, to run it when the file is refused
   * (EDGEVISOR_LAST_GOOD_TREE, a file path; unset: not kept, a bad tree file is fatal).
   */
  readonly lastGoodTree?: string;
}

export const defaultApiUrl = 'http://127.0.0.1:7070';

/** Values of EDGEVISOR_LOG_FORMAT. */
export const LOG_FORMAT_SETTINGS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMAT_SETTINGS)[number];

type Env = Readonly<Record<string, string | undefined>>;

/** Parses "host:port" / "[v6]:port" / ":port"; returns null when it is not one. */
export function parseListen(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * Reads and validates the environment. Empty strings count as unset (a blank line in an env file
 * must not become a token that anyone can match by sending an empty bearer).
 * Throws EdgevisorError(SPEC_INVALID) with one detail per bad variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const token = (name: string): string | undefined => {
    const v = str(name);
    if (v !== undefined && (v.length < 8 || /\s/.test(v))) {
      problems.push(`${name}: expected a token of at least 8 characters without spaces, got ${v.length} characters`);
      return undefined;
    }
    return v;
  };

  const viewerToken = token('EDGEVISOR_VIEWER_TOKEN');
  const technicianToken = token('EDGEVISOR_TECHNICIAN_TOKEN');
  if (viewerToken !== undefined && viewerToken === technicianToken) {
    problems.push('EDGEVISOR_VIEWER_TOKEN: must differ from EDGEVISOR_TECHNICIAN_TOKEN (a viewer would hold technician rights)');
  }

  let listen: Config['listen'];
  const listenRaw = str('EDGEVISOR_LISTEN');
  if (listenRaw !== undefined) {
    const parsed = parseListen(listenRaw);
    if (parsed) listen = Object.freeze(parsed);
    else problems.push(`EDGEVISOR_LISTEN: expected "host:port" like "127.0.0.1:7070", got "${listenRaw}"`);
  }

  let apiUrl = defaultApiUrl;
  const apiRaw = str('EDGEVISOR_API');
  if (apiRaw !== undefined) {
    let ok = false;
    try {
      const u = new URL(apiRaw);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (ok) apiUrl = apiRaw.replace(/\/+$/, '');
    else problems.push(`EDGEVISOR_API: expected an http(s) URL like "${defaultApiUrl}", got "${apiRaw}"`);
  }

  let logLevel: LevelWithSilent = 'info';
  try {
    logLevel = parseLogLevel(str('LOG_LEVEL'), 'LOG_LEVEL');
  } catch (err) {
    problems.push((err as Error).message);
  }

  let logFormat: LogFormatSetting = 'auto';
  const formatRaw = str('EDGEVISOR_LOG_FORMAT');
  if (formatRaw !== undefined) {
    const f = LOG_FORMAT_SETTINGS.find((v) => v === formatRaw.toLowerCase());
    if (f) logFormat = f;
    else problems.push(`EDGEVISOR_LOG_FORMAT: expected json, pretty or auto (readable on a terminal, else JSON), got "${formatRaw.slice(0, 40)}"`);
  }

  if (problems.length) {
    throw new EdgevisorError(codes.SPEC_INVALID, `invalid environment: ${problems.join('; ')}`, { details: problems });
  }
  const lastGoodTree = str('EDGEVISOR_LAST_GOOD_TREE');
  return Object.freeze({ viewerToken, technicianToken, listen, apiUrl, token: str('EDGEVISOR_TOKEN'), logLevel, logFormat, ...(lastGoodTree ? { lastGoodTree } : {}) });
}
