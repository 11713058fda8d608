/**
 * Exit codes of the `edgevisor` CLI, so scripts can tell "you typed it wrong" from "the supervisor
 * said no" from "the supervisor is not there".
 */
export const exitCodes = {
  ok: 0,
  /** Bad arguments, an invalid tree file, bad environment, a 400 from the API. */
  usage: 1,
  /** The supervisor refused: unknown child, wrong state, missing or wrong token. */
  refused: 2,
  /** The supervisor could not be reached or did not answer in time. */
  unreachable: 3,
} as const;

/** A failure the CLI reports as ONE line on stderr (`edgevisor: <message>`) before exiting. */
export class CliError extends Error {
  readonly exitCode: number;
  /** Extra lines printed after the first (validation messages, one per problem). */
  readonly lines: readonly string[];
  /** Print the lines as they are, without the `edgevisor: ` prefix (they already say where). */
  readonly bare: boolean;
  constructor(message: string, exitCode: number, opts: { lines?: readonly string[]; bare?: boolean } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.lines = opts.lines ?? [];
    this.bare = opts.bare ?? false;
  }
}
