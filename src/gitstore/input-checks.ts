// Checks of the library's inputs (values, option objects, commit ids, TTLs, authors): each returns the value in the
// form the store uses or throws the GitConfigError a caller (and the HTTP API through it) reports.
import { GitConfigError } from '../errors.js'
import { ttlMsMax } from '../limits.js'

const textEncoder = new TextEncoder()

export function toValueBytes (value: unknown, valueBytesMax: number): Uint8Array {
  let bytes: Uint8Array
  if (typeof value === 'string') bytes = textEncoder.encode(value)
  else if (value instanceof Uint8Array) bytes = new Uint8Array(value)
  else throw new GitConfigError('INVALID_ARGUMENT', 'a value must be a string or a Uint8Array')
  if (bytes.length > valueBytesMax) {
    throw new GitConfigError('VALUE_TOO_LARGE', `the value is ${bytes.length} bytes; the limit is ${valueBytesMax}`,
      { limitBytes: valueBytesMax, sizeBytes: bytes.length })
  }
  return bytes
}

export function checkOptionsObject (opts: unknown, what: string): Record<string, unknown> {
  if (opts === undefined || opts === null) return {}
  if (typeof opts !== 'object') throw new GitConfigError('INVALID_ARGUMENT', `${what} options must be an object`)
  return opts as Record<string, unknown>
}

export function checkFullCommitId (commit: unknown): string {
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new GitConfigError('INVALID_ARGUMENT', `a full commit id (40 lowercase hex digits) is needed, got ${JSON.stringify(commit)}`)
  }
  return commit
}

export function checkTtl (ttlMs: unknown): number | null {
  if (ttlMs === undefined || ttlMs === null) return null
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > ttlMsMax) {
    throw new GitConfigError('INVALID_ARGUMENT', `ttlMs must be a whole number of milliseconds from 1 to ${ttlMsMax}`, { ttlMs: String(ttlMs) })
  }
  return ttlMs
}

export function checkAuthor (author: unknown): string | null {
  if (author === undefined || author === null) return null
  if (typeof author !== 'string') throw new GitConfigError('INVALID_ARGUMENT', 'author must be a string')
  return author === '' ? null : author
}
