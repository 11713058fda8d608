/**
 * Errors with stable codes. HTTP status mapping lives in the API layer only (api/errors.ts).
 * A user-facing message says what was wrong, where, and what would be accepted.
 */
export const codes = {
  /** A tree/config file failed validation; `details` holds one message per problem. */
  SPEC_INVALID: 'EDGEVISOR_ERR_SPEC_INVALID',
  /** A lifecycle transition not in the table: a bug in edgevisor, never user input. */
  ILLEGAL_STATE: 'EDGEVISOR_ERR_ILLEGAL_STATE',
  /** A manual action the child's current state does not allow (API 409). */
  STATE_CONFLICT: 'EDGEVISOR_ERR_STATE_CONFLICT',
  /** No child with that id in this tree (API 404). */
  UNKNOWN_CHILD: 'EDGEVISOR_ERR_UNKNOWN_CHILD',
  /** A child added at run time has an id the tree already has (API 409). */
  CHILD_EXISTS: 'EDGEVISOR_ERR_CHILD_EXISTS',
  /** The backend could not launch the unit (spawn failed, container missing...). */
  START_FAILED: 'EDGEVISOR_ERR_START_FAILED',
  /** The unit's start did not finish within the child's `start_timeout`: ended with brutal_kill. */
  START_TIMEOUT: 'EDGEVISOR_ERR_START_TIMEOUT',
  /** A probe did not answer within its timeout. */
  PROBE_TIMEOUT: 'EDGEVISOR_ERR_PROBE_TIMEOUT',
  /** A probe answered, but wrongly (status, body, rate, age...). */
  PROBE_FAILED: 'EDGEVISOR_ERR_PROBE_FAILED',
  /** A Docker engine call failed or timed out. */
  DOCKER: 'EDGEVISOR_ERR_DOCKER',
  /** A container exists but does not belong to this compose project: never touched. */
  FOREIGN_CONTAINER: 'EDGEVISOR_ERR_FOREIGN_CONTAINER',
  /** Authentication / authorization. */
  UNAUTHORIZED: 'EDGEVISOR_ERR_UNAUTHORIZED',
  FORBIDDEN: 'EDGEVISOR_ERR_FORBIDDEN',
  BAD_REQUEST: 'EDGEVISOR_ERR_BAD_REQUEST',
  /** A typed worker reported a state it did not declare (or declared no states). */
  UNDECLARED_STATE: 'EDGEVISOR_ERR_UNDECLARED_STATE',
  /** A manual action on an inner node (`camera/dock`) could not be passed to its app (API 502). */
  INNER_UNAVAILABLE: 'EDGEVISOR_ERR_INNER_UNAVAILABLE',
} as const;

/** One of the stable codes in `codes`. */
export type ErrorCode = (typeof codes)[keyof typeof codes];

/** An error with a stable `code` (one of `codes`), `details` (one message per problem) and `cause`. */
export class EdgevisorError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EdgevisorError';
    this.code = code;
    this.details = opts.details ?? [];
  }
}

/** A transition not in the lifecycle table. Always a bug: thrown, never swallowed. */
export class IllegalStateError extends EdgevisorError {
  constructor(message: string) {
    super(codes.ILLEGAL_STATE, message);
    this.name = 'IllegalStateError';
  }
}
