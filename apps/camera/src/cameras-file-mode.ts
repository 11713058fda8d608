/**
 * Whether the cameras file shows its camera credentials to every user of the machine. On a plant
 * box deploy/site.sh publishes it root:10002 0640, readable by the camera container only; an
 * upgrade started with the scripts of a release from before that (the installed upgrade.sh runs
 * the old publish) leaves it 0644, readable by inference, the supervisor and the host's users,
 * until `edgevisorctl apply` sets the mode. The camera app cannot fix it (it runs as 10001 and
 * mounts the folder read-only): it says so at start and in /healthz (a warning: restarting would
 * not help). Pure: the caller gives the file's mode and its parsed content.
 */
import type { CamerasFile } from './config.ts';

// Not `token`: an ONVIF profile's token is an identifier (apps/common/src/redact.ts says the same).
const SECRET_KEY = /^(pass(word|wd)?|pwd|secret|api_?key)$/i;
const SECRET_PARAM = /pass|pwd|token|secret|key|sig|auth/i;

/** True when a parsed config value holds a credential: a password-like field or a URL with a password or a secret parameter. */
export function holdsCredential(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('://') && urlHoldsCredential(value);
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  return Object.entries(value as Record<string, unknown>).some(([k, v]) => (typeof v === 'string' && SECRET_KEY.test(k) ? v !== '' : holdsCredential(v, depth + 1)));
}

function urlHoldsCredential(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== '' || [...u.searchParams.keys()].some((k) => SECRET_PARAM.test(k));
  } catch {
    return false;
  }
}

/**
 * The warning for a cameras file readable by others (`mode & 0o004`) that holds a credential, else
 * undefined. Names the file by its base name only (no server path in a log line or an answer).
 */
export function camerasFileModeWarning(name: string, mode: number, file: Pick<CamerasFile, 'cameras' | 'discovered'>): string | undefined {
  if ((mode & 0o004) === 0 || !holdsCredential(file)) return undefined;
  return `${name} holds camera credentials and every user of this machine can read it (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): `
    + 'on an installed box run edgevisorctl apply (it makes it readable by the camera only; needed once after an upgrade from a release before the site group)';
}
