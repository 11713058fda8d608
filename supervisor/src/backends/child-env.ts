/**
 * The environment a process child (and an exec probe) starts with. A child gets only what its
 * spec gives it, on top of a small base that every program expects; never the supervisor's own
 * environment, which holds its API tokens (EDGEVISOR_*_TOKEN, the contents of var/tokens.env) and
 * whatever the shell that started it exported.
 *
 * The base: PATH (to find `node`, `ffmpeg`...), HOME, USER, LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ,
 * TMPDIR, when the supervisor has them. A spec adds its own `env` and may name variables of the
 * supervisor to pass on unchanged (`pass_env: [NAME]`), which is how a child that must call the
 * control API gets a token: on purpose, in the tree file, visible in review.
 *
 * This is the one module of the backends that reads process.env: the values are handed to a child
 * (or a thread, `threadEnv`) as they are, never interpreted as settings of the supervisor.
 */

/** Variables of the supervisor's environment every child gets (when set). */
export const BASE_ENV_NAMES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'] as const;

/**
 * Builds a child's environment: the base, then `passEnv` names copied from `from`, then the
 * spec's `env` (which wins). `from` defaults to the supervisor's environment.
 */
export function childEnv(
  env: Readonly<Record<string, string>> = {},
  passEnv: readonly string[] = [],
  from: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...BASE_ENV_NAMES, ...passEnv]) {
    const v = from[name];
    if (v !== undefined) out[name] = v;
  }
  return { ...out, ...env };
}

/**
 * A thread child's `process.env` when its spec sets `env` (a template child's override): a copy
 * of the supervisor's environment, as worker_threads gives every thread by default, with `env` on
 * top. Not the minimal base of a process child: a thread runs inside the supervisor's process and
 * cannot be kept from its memory, so a smaller env would promise an isolation it does not have.
 */
export function threadEnv(env: Readonly<Record<string, string>>, from: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) if (v !== undefined) out[k] = v;
  return { ...out, ...env };
}
