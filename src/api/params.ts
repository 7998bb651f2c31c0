// Validation of what a request carries besides its body and its key (target.ts): query parameters and headers.
// Each parser either returns a typed value or throws GitConfigError (400), so routes never see raw strings.
import type { FastifyRequest } from 'fastify'
import { GitConfigError } from '../errors.js'
import { auditLimitMax, authorBytesMax, historyLimitDefault, historyLimitMax, ttlMsMax, watchWaitSecondsDefault, watchWaitSecondsMax } from '../limits.js'

export type Query = Record<string, string | string[] | undefined>

function single (query: Query, name: string): string | undefined {
  const v = query[name]
  if (Array.isArray(v)) throw new GitConfigError('INVALID_ARGUMENT', `query parameter ${name} is given more than once`)
  return v
}

/** `?flag`, `?flag=true` and `?flag=1` are true; absent, `false` and `0` are false. */
export function parseFlag (query: Query, name: string): boolean {
  const v = single(query, name)
  if (v === undefined || v === 'false' || v === '0') return false
  if (v === '' || v === 'true' || v === '1') return true
  throw new GitConfigError('INVALID_ARGUMENT', `query parameter ${name} must be true or false, not ${JSON.stringify(v)}`)
}

/** `?ttl=SECONDS` (positive, decimals allowed) as milliseconds. */
export function parseTtlMs (query: Query): number | undefined {
  const v = single(query, 'ttl')
  if (v === undefined) return undefined
  const seconds = /^\d{1,12}(\.\d{1,3})?$/.test(v) ? Number(v) : NaN
  const ms = Math.round(seconds * 1000)
  if (!(ms >= 1 && ms <= ttlMsMax)) {
    throw new GitConfigError('INVALID_ARGUMENT', `ttl must be a number of seconds between 0.001 and ${ttlMsMax / 1000}, not ${JSON.stringify(v)}`)
  }
  return ms
}

const commitPattern = /^[0-9a-fA-F]{4,64}$/

export function parseCommit (value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined
  if (!commitPattern.test(value)) throw new GitConfigError('INVALID_ARGUMENT', `${name} must be a commit id (4 to 64 hex digits), not ${JSON.stringify(value)}`)
  return value.toLowerCase()
}

export function parseCommitParam (query: Query, name: string): string | undefined {
  return parseCommit(single(query, name), name)
}

function parseBoundedInt (query: Query, name: string, min: number, max: number, dflt: number): number {
  const v = single(query, name)
  if (v === undefined) return dflt
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN
  if (!(n >= min && n <= max)) throw new GitConfigError('INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`)
  return n
}

export function parseHistoryLimit (query: Query): number {
  return parseBoundedInt(query, 'limit', 1, historyLimitMax, historyLimitDefault)
}

export function parseAuditLimit (query: Query): number {
  return parseBoundedInt(query, 'limit', 1, auditLimitMax, auditLimitMax)
}

export function parseWaitSeconds (query: Query): number {
  return parseBoundedInt(query, 'wait', 0, watchWaitSecondsMax, watchWaitSecondsDefault)
}

export function parseString (query: Query, name: string): string | undefined {
  return single(query, name)
}

/**
 * The client identity of `X-GitConfig-Author`, recorded in the commit; undefined when the header is absent. Node
 * joins repeated headers with ", " in `request.headers`; `headersDistinct` keeps them apart, so two are refused.
 */
export function parseAuthor (request: FastifyRequest): string | undefined {
  const values = request.raw.headersDistinct['x-gitconfig-author']
  if (values === undefined) return undefined
  if (values.length > 1) throw new GitConfigError('INVALID_ARGUMENT', 'X-GitConfig-Author is given more than once')
  // Node decodes header bytes as latin1; clients send UTF-8, so re-decode to keep non-ASCII names intact.
  const author = Buffer.from(values[0], 'latin1').toString('utf8').trim()
  // eslint-disable-next-line no-control-regex
  if (author === '' || /[\x00-\x1f\x7f]/.test(author) || Buffer.byteLength(author) > authorBytesMax) {
    throw new GitConfigError('INVALID_ARGUMENT', `X-GitConfig-Author must be 1 to ${authorBytesMax} bytes without control characters`)
  }
  return author
}
