import { z } from 'zod';
import { codes, EdgevisorError } from 'edgevisor';

/** The environment as a plain record (process.env, or a literal in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates environment variables against a zod object schema (keys are variable names) and
 * returns the frozen result. Throws EdgevisorError SPEC_INVALID with one detail per problem:
 * `env PORT: expected an integer 0..65535, got "abc"`.
 * Only an app's config.ts calls this with process.env; everything else receives the result.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): Readonly<z.infer<S>> {
  const r = schema.safeParse(env);
  if (r.success) return Object.freeze(r.data);
  const details = r.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.');
    const got = env[key];
    return `env ${key}: ${issue.message}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`;
  });
  throw new EdgevisorError(codes.SPEC_INVALID, `invalid environment: ${details.join('; ')}`, { details });
}

/** Small zod builders for common variables, with messages that say what is accepted. */
export const envVars = {
  port: (def: number) =>
    z.coerce.number({ message: 'expected an integer 0..65535' }).int('expected an integer 0..65535').min(0, 'expected an integer 0..65535').max(65535, 'expected an integer 0..65535').default(def),
  host: (def: string) => z.string().min(1, 'expected a host name or address').default(def),
  /** A positive integer number of milliseconds. */
  ms: (def: number) => z.coerce.number({ message: 'expected milliseconds (integer >= 0)' }).int('expected milliseconds (integer >= 0)').min(0, 'expected milliseconds (integer >= 0)').default(def),
  optionalString: () => z.string().min(1, 'expected a non-empty string').optional(),
};
