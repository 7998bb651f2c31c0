// Expected failures are typed errors with a stable `code`. Each code maps to exactly one HTTP status and one CLI
// exit code; docs/errors.md lists the same table and test/errors.test.ts fails when the two disagree.

export const errorCodes = {
  INVALID_KEY: { status: 400, exitCode: 2, meaning: 'the key is malformed or too long' },
  INVALID_ARGUMENT: { status: 400, exitCode: 2, meaning: 'a parameter (TTL, limit, commit id, JSON body, option) is malformed' },
  VALUE_TOO_LARGE: { status: 413, exitCode: 2, meaning: 'the value or request body exceeds its limit' },
  NOT_FOUND: { status: 404, exitCode: 1, meaning: 'the key is absent or expired' },
  UNKNOWN_COMMIT: { status: 404, exitCode: 1, meaning: 'the commit id does not name a commit of this repository' },
  UNAUTHENTICATED: { status: 401, exitCode: 6, meaning: 'the node requires an API token and the request had none or a wrong one' },
  ROUTE_NOT_FOUND: { status: 404, exitCode: 2, meaning: 'no such HTTP route' },
  METHOD_NOT_ALLOWED: { status: 405, exitCode: 2, meaning: 'the route exists but not for this HTTP method' },
  REQUEST_TIMEOUT: { status: 408, exitCode: 4, meaning: 'the client did not send its whole request (headers and body) in time' },
  EXPECTATION_FAILED: { status: 417, exitCode: 2, meaning: 'the request has an Expect header other than 100-continue' },
  HEADERS_TOO_LARGE: { status: 431, exitCode: 2, meaning: 'the request line and headers exceed what the node reads' },
  CAS_REQUIRES_STRONG_PREFIX: { status: 409, exitCode: 3, meaning: 'CAS in a multi-node cluster is only allowed under a strong prefix' },
  LOCK_NOT_HELD: { status: 409, exitCode: 3, meaning: 'the lock is held by someone else or the fencing token is stale' },
  REPOSITORY_LOCKED: { status: 409, exitCode: 3, meaning: 'another process already has this repository open for writing' },
  NO_QUORUM: { status: 503, exitCode: 4, meaning: 'a strong operation could not reach a Raft majority' },
  WATCH_OVERFLOW: { status: 503, exitCode: 4, meaning: 'a watcher fell too far behind and was ended; watch again with since to resume' },
  UNAVAILABLE: { status: 503, exitCode: 4, meaning: 'the store is closing or not yet open' },
  PEER_UNAVAILABLE: { status: 503, exitCode: 4, meaning: 'a peer could not be dialled or does not speak the protocol' },
  TRANSFER_FAILED: { status: 502, exitCode: 4, meaning: 'a transfer from a peer or remote was reset, truncated, timed out, refused, exceeded its byte limit, or brought malformed or incomplete data' },
  GIT_UNAVAILABLE: { status: 500, exitCode: 5, meaning: 'the git program is missing, too old, or failed' },
  INTERNAL: { status: 500, exitCode: 5, meaning: 'an unexpected internal error' }
} as const

export type ErrorCode = keyof typeof errorCodes

export class GitConfigError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>>

  constructor (code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.name = 'GitConfigError'
    this.code = code
    this.details = details
  }

  get status (): number { return errorCodes[this.code].status }
  get exitCode (): number { return errorCodes[this.code].exitCode }

  /** The JSON body sent over HTTP: `{error, message, ...details}`. */
  toJSON (): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details }
  }
}

export function isGitConfigError (err: unknown): err is GitConfigError {
  return err instanceof GitConfigError
}
