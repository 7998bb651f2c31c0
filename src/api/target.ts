// The request target, handled in one place (decision 0321). The router (find-my-way) is the only code that
// percent-decodes a path, once: a key is the wildcard it matched, never a cut of the raw URL. Before routing,
// absolute-form targets become their origin-form path, and before any hook reads the request, a target the router
// would match in another form than the one sent is refused, so every reader of `request.url` (the 405 table, the
// token check, the body limits, metrics) sees the path the router matched:
// - `POST http://host:port/keys/a` is served as `POST /keys/a` (RFC 9112 §3.2.2: a server MUST accept the
//   absolute form); the authority is not checked, as no virtual hosts are served;
// - a route name (the first segment) is matched as written: `/%6Beys/a` is 400 INVALID_ARGUMENT rather than the
//   route `/keys/`, so a proxy or ACL that matches path prefixes sees the route the node serves;
// - anything else that is not origin-form (`*`, another scheme, a fragment `#`) is 400 INVALID_ARGUMENT.
// The query is decoded once too, by parseQuery (fastify's querystringParser), which sets apart what does not decode.
import type { FastifyRequest } from 'fastify'
import { GitConfigError } from '../errors.js'

/** Scheme and authority of an absolute-form http(s) target: what precedes its path. */
const absoluteFormPrefix = /^https?:\/\/[^/?#]*/i

/** fastify's `rewriteUrl`: an absolute-form http(s) target becomes its origin-form path and query; others are kept. */
export function originForm (url: string): string {
  if (url.startsWith('/')) return url
  const prefix = absoluteFormPrefix.exec(url)
  if (prefix === null) return url
  const rest = url.slice(prefix[0].length)
  return rest.startsWith('/') ? rest : '/' + rest
}

/** The path of an origin-form target, without its query. */
export function pathOf (url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

/** The first path segment as sent (`keys` in `/keys/a/b`), which names the route. */
function routeName (path: string): string {
  const end = path.indexOf('/', 1)
  return end < 0 ? path.slice(1) : path.slice(1, end)
}

/** The names of query parameters that are not valid percent-encoded UTF-8, kept by parseQuery for checkTarget. */
const malformedParameters = Symbol('malformed query parameters')

type ParsedQuery = Record<string, string | string[]> & { [malformedParameters]?: string[] }

function decodeQueryComponent (text: string): string | null {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    return null
  }
}

/**
 * fastify's querystringParser, the one decoder of queries: `name=value` pairs split on `&`, `+` read as a space,
 * each name and value percent-decoded once; a name given twice has an array of values. A pair that is not valid
 * percent-encoded UTF-8 is left out and named for checkTarget to refuse (fastify's default parser would keep such
 * a value undecoded, so `prefix=a%20b%` listed keys starting with the text `a%20b%`).
 */
export function parseQuery (query: string): ParsedQuery {
  const parsed: ParsedQuery = Object.create(null) as ParsedQuery
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = decodeQueryComponent(eq < 0 ? pair : pair.slice(0, eq))
    const value = decodeQueryComponent(eq < 0 ? '' : pair.slice(eq + 1))
    if (name === null || value === null) {
      (parsed[malformedParameters] ??= []).push(name ?? pair.slice(0, 64))
      continue
    }
    const previous = parsed[name]
    parsed[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value]
  }
  return parsed
}

/**
 * Throws 400 INVALID_ARGUMENT unless the request has one Host header (HTTP/1.1 needs it, RFC 9112 §3.2; Node's own
 * check is off so that the refusal is in our format) and its target (as rewritten by originForm) is origin-form with
 * a literal route name and a query that decodes (a `prefix` that does not is INVALID_KEY). Runs before anything else
 * reads the request.
 */
export function checkTarget (request: FastifyRequest): void {
  const hosts = request.raw.headersDistinct.host
  if (hosts === undefined ? request.raw.httpVersion === '1.1' : hosts.length > 1) {
    throw new GitConfigError('INVALID_ARGUMENT', 'an HTTP/1.1 request must carry exactly one Host header')
  }
  const url = request.url
  if (!url.startsWith('/')) {
    throw new GitConfigError('INVALID_ARGUMENT', 'the request target must be a path (/keys/...) or an http(s) URL')
  }
  const path = pathOf(url)
  if (url.includes('#')) throw new GitConfigError('INVALID_ARGUMENT', 'a request target has no fragment (#): encode it as %23')
  if (routeName(path).includes('%')) {
    throw new GitConfigError('INVALID_ARGUMENT', `route names are not percent-encoded: ${JSON.stringify(path.slice(0, 64))}`)
  }
  const malformed = (request.query as ParsedQuery)[malformedParameters]
  if (malformed !== undefined) {
    // A prefix is a key: a bad one is a bad key, as in a path.
    throw new GitConfigError(malformed.includes('prefix') ? 'INVALID_KEY' : 'INVALID_ARGUMENT',
      `query parameter ${JSON.stringify(malformed[0])} is not valid percent-encoded UTF-8`)
  }
}

/**
 * The key named by a key route's URL: `/` and the wildcard the router matched and decoded (`/keys/a/b%20c` ->
 * `/a/b c`; `%2F` inside a segment becomes a `/` of the key). The store validates the rest; refused here is what it
 * would accept in another form: a leading empty segment (`/keys//a`, which the store reads as `/a`).
 * `allowEmpty`: the bare route names the root `/` (a watch of everything).
 */
export function keyFromRoute (request: FastifyRequest, allowEmpty = false): string {
  const rest = (request.params as { '*'?: string })['*'] ?? ''
  if (rest === '') {
    if (allowEmpty) return '/'
    throw new GitConfigError('INVALID_KEY', 'the URL names no key')
  }
  const key = '/' + rest
  if (rest.startsWith('/')) {
    const reason = 'empty segment ("//")'
    throw new GitConfigError('INVALID_KEY', `invalid key ${JSON.stringify(key)}: ${reason}`, { key, reason })
  }
  return key
}

/** Route prefixes whose rest of the path is a key (the routes registered as `<prefix>*`). */
const keyRoutePrefixes = ['/keys/', '/history/', '/rollback/', '/watch/']

/**
 * The error for a target the router could not decode (malformed percent-encoding, overlong UTF-8, lone surrogates)
 * or whose wildcard is over its length limit: in the path of a key route it is the key that is bad.
 */
export function undecodableTargetError (url: string, message: string): GitConfigError {
  const path = pathOf(url)
  const inKey = keyRoutePrefixes.some(p => path.startsWith(p))
  return new GitConfigError(inKey ? 'INVALID_KEY' : 'INVALID_ARGUMENT', inKey ? `the key in the URL is not valid percent-encoded UTF-8: ${message}` : message)
}
