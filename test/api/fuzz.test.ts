// Property-based fuzz test of every HTTP route (issue 13 part 4). fast-check draws batches of requests, well formed
// but odd (every route and method, targets in origin and absolute form, encoded route names, keys of literal,
// percent-encoded, malformed, overlong and surrogate escapes, odd queries, duplicated author headers, any
// Content-Type, oversize and chunked bodies) and broken ones (garbage framing, bad headers). Each batch goes out on
// raw sockets, some requests at once, and must satisfy:
// - only documented statuses, never 5xx; every error is JSON {error, message} with a code of docs/errors.md sent
//   with the status of that code;
// - a `key` in a reply (and the key of every watch event) is the key the URL names, decoded here on its own;
//   a key the URL cannot name (bad escapes, leading `//`) is 400 INVALID_KEY, an encoded route name 400;
// - the repository is unchanged by refused requests: every commit `main` gained during a batch
//   (`git rev-list <before>..main`) is named by an accepted reply of that batch, and without one `main` stays put.
// The run is bounded by a request count and a time budget (FUZZ_REQUESTS, FUZZ_SECONDS); the seed is printed first
// and FC_SEED=<seed> replays the same requests.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { errorCodes } from '../../src/errors.js'
import { startNode, type NodeFixture } from '../support/node-fixture.js'
import { rawRequest, type RawResponse } from '../support/raw-http.js'

const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31))
const requestsGoal = Number(process.env.FUZZ_REQUESTS ?? 10_000)
const timeBudgetMs = Number(process.env.FUZZ_SECONDS ?? 30) * 1000
const batchMax = 80
const inFlightMax = 16
const valueBytesMax = 512
const requestBytesMax = 2048

let f: NodeFixture
let authority: string
before(async () => {
  f = await startNode({ valueBytesMax, requestBytesMax, keyBytesMax: 128 })
  authority = new URL(f.url).host
})
after(async () => { await f.close() })

const runGit = promisify(execFile)
async function git (...args: string[]): Promise<string> {
  return (await runGit('git', ['-C', f.repo, ...args])).stdout.trim()
}

/** Commits named by replies (as `commit`), so a rollback or watch can point at one: the N-th newest, filled as we go. */
const knownCommits: string[] = []

// ---------------------------------------------------------------- what a request is made of

type Route = 'keys' | 'history' | 'rollback' | 'watch' | 'list' | 'audit' | 'health' | 'status' | 'metrics' | 'nowhere'
const keyRoutes: ReadonlySet<Route> = new Set(['keys', 'history', 'rollback', 'watch'])

interface Shaped {
  readonly kind: 'shaped'
  readonly method: string
  readonly route: Route
  /** How the route name is written: as is, with one character percent-encoded, or in capitals. */
  readonly spelling: 'literal' | 'encoded' | 'capitals'
  readonly absolute: boolean
  /** The rest of the path after `/<route>/`, as sent (raw escapes and all). */
  readonly rest: string
  /** The query as sent; `{commit:N}` stands for the N-th known commit. */
  readonly query: string
  readonly authors: readonly string[]
  readonly contentType: string | null
  readonly body: Uint8Array
  readonly chunked: boolean
}

interface Broken {
  readonly kind: 'broken'
  readonly head: string
  readonly body: string
}

type FuzzRequest = Shaped | Broken

const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0')

/** One piece of a path segment as sent: plain characters, escapes of text, of any byte, or known troublemakers. */
const pathToken = fc.oneof(
  { weight: 16, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~-]{1,4}$/) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map(b => '%' + hex(b)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('%', '%Z', '%4', '%C0%AF', '%E0%80%AF', '%ED%A0%80', '%F8%88%80%80%80', '%2F', '%2f',
      '%25', '%2525', '%00', '%1F', '%7F', '%2E', '%2E%2E', '.', '..', '%3F', '%23', '#', '+', ';', ':', '@', '!', '$', '&',
      "'", '(', ')', '*', ',', '=', '"', '<', '>', '{', '}', '|', '\\', '^', '`', 'k'.repeat(130))
  }
)
const pathSegment = fc.oneof(
  { weight: 12, arbitrary: fc.array(pathToken, { minLength: 1, maxLength: 2 }).map(t => t.join('')) },
  { weight: 1, arbitrary: fc.constant('') }
)
/** A key path: often one of a few, so that reads, deletes, CAS and rollbacks meet keys that writes made. */
const keyPath = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('a', 'app1/db/url', 'app1/db', 'we%20ird/%D0%BA', 'locks/job', 'odd/%2F/x', 'a+b/c') },
  { weight: 1, arbitrary: fc.array(pathSegment, { minLength: 0, maxLength: 3 }).map(s => s.join('/')) }
)

const commitRef = fc.oneof(
  fc.nat(50).map(n => `{commit:${n}}`),
  fc.constantFrom('deadbeef', '0'.repeat(40), 'zz', '', 'abc', 'f'.repeat(65))
)
const flag = fc.constantFrom('true', 'false', '1', '0', '', 'maybe')
const date = fc.constantFrom('2026-01-01', '2026-02-30', '2024-02-29', '2026-13-01', '2026-01-01T12:00:00Z',
  '2026-01-01T24:00', '2026-01-01T12:00%2B05:30', 'soon', '', '9999-12-31')
const limit = fc.constantFrom('1', '2', '100', '0', '-1', '10001', '1001', 'x', '')
const prefixParam = keyPath.map(p => '/' + p)

/** `name=value` pairs for a route, sometimes a parameter twice, sometimes one nobody asked for. */
function queryFor (route: Route, method: string): fc.Arbitrary<string> {
  // Each parameter is left out two times in three, so that most requests get far enough to do something.
  const param = (name: string, value: fc.Arbitrary<string>): fc.Arbitrary<string[]> =>
    fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: value.map(v => [`${name}=${v}`]) })
  const parts: Array<fc.Arbitrary<string[]>> = [fc.oneof({ weight: 18, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.constantFrom<string[]>(['x=1'], ['%ZZ=1']) })]
  switch (route) {
    case 'keys':
      if (method === 'GET' || method === 'HEAD') parts.push(param('commit', commitRef))
      if (method === 'POST') parts.push(fc.constantFrom<string[]>([], [], [], ['cas'], ['cas='], ['cas&cas']))
      parts.push(param('ttl', fc.constantFrom('3600', '86400.5', '3600', '86400.5', '0', '-1', 'abc', '1e3', '', '315360001', '3600&ttl=7200')))
      break
    case 'history': parts.push(param('limit', limit)); break
    case 'rollback': parts.push(param('to', commitRef)); break
    case 'watch':
      // Always a wait that answers at once: a valid wait > 0 would hold the request that long.
      parts.push(fc.constantFrom<string[]>(['wait=0'], ['wait=0'], ['wait=abc'], ['wait=301'], ['wait=0&wait=0']))
      parts.push(param('recursive', flag), param('since', commitRef))
      break
    case 'list': parts.push(param('prefix', prefixParam), param('recursive', flag), param('values', flag)); break
    case 'audit':
      parts.push(param('prefix', prefixParam), param('since', date), param('until', date), param('limit', limit),
        param('after', fc.constantFrom('zzz', 'W10', '')))
      break
    default: break
  }
  return fc.tuple(...parts).map(p => p.flat().join('&'))
}

/** The methods each route serves (docs/http-api.md). */
const servedMethods: Record<Route, string[]> = {
  keys: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
  history: ['GET', 'HEAD'],
  rollback: ['POST'],
  watch: ['GET'],
  list: ['GET', 'HEAD'],
  audit: ['GET', 'HEAD'],
  health: ['GET', 'HEAD'],
  status: ['GET', 'HEAD'],
  metrics: ['GET', 'HEAD'],
  nowhere: []
}
/** The methods drawn for each route: mostly served ones, some that are not. */
const methodsOf: Record<Route, string[]> = {
  keys: ['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'POST', 'POST', 'PUT', 'PUT', 'DELETE', 'DELETE', 'PATCH'],
  history: ['GET', 'GET', 'GET', 'HEAD', 'POST'],
  rollback: ['POST', 'POST', 'POST', 'POST', 'GET'],
  watch: ['GET', 'GET', 'GET', 'DELETE'],
  list: ['GET', 'GET', 'GET', 'HEAD', 'PUT'],
  audit: ['GET', 'GET', 'GET', 'POST'],
  health: ['GET', 'HEAD', 'POST'],
  status: ['GET'],
  metrics: ['GET', 'DELETE'],
  nowhere: ['GET', 'POST', 'OPTIONS']
}

/** A body: small text, CAS JSON (well formed or not), random bytes, or one over a limit. */
const body = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 24 }).map(s => new Uint8Array(Buffer.from(s))) },
  {
    weight: 3,
    arbitrary: fc.record({ expected: fc.option(fc.constantFrom('', 'a', 'v'), { nil: null }), value: fc.constantFrom('v', 'w', '') })
      .map(c => new Uint8Array(Buffer.from(JSON.stringify(c))))
  },
  { weight: 1, arbitrary: fc.constantFrom('{"expected": nul', '[]', '{"expectedBase64":null,"valueBase64":"***"}').map(s => new Uint8Array(Buffer.from(s))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(valueBytesMax + 1, requestBytesMax + 1).map(n => new Uint8Array(n).fill(0x61)) }
)

const route = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Route>('keys') },
  { weight: 2, arbitrary: fc.constantFrom<Route>('history', 'rollback', 'watch', 'list', 'audit') },
  { weight: 1, arbitrary: fc.constantFrom<Route>('health', 'status', 'metrics', 'nowhere') }
)

const shaped: fc.Arbitrary<Shaped> = route.chain(r => fc.constantFrom(...methodsOf[r]).chain(m => fc.record({
  kind: fc.constant('shaped' as const),
  method: fc.constant(m),
  route: fc.constant(r),
  spelling: fc.oneof({ weight: 14, arbitrary: fc.constant('literal' as const) }, { weight: 1, arbitrary: fc.constantFrom('encoded' as const, 'capitals' as const) }),
  absolute: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  rest: keyRoutes.has(r) ? fc.oneof({ weight: 12, arbitrary: keyPath }, { weight: 1, arbitrary: keyPath.map(p => '/' + p) }) : fc.constant(''),
  query: queryFor(r, m),
  authors: fc.oneof(
    { weight: 6, arbitrary: fc.constant<string[]>([]) },
    { weight: 2, arbitrary: fc.constantFrom<string[]>(['alice'], ['zoë']) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom('alice', 'mallory', '', 'x'.repeat(300), 'zoë'), { minLength: 1, maxLength: 2 }) }
  ),
  contentType: fc.constantFrom(null, null, '', ';;;', 'application/json', 'application/x-www-form-urlencoded', 'text/plain; charset=', 'a/b/c'),
  body,
  chunked: fc.boolean()
})))

/** Requests broken at the HTTP level: what Node's parser (or Node itself) refuses before a route runs. */
const broken: fc.Arbitrary<Broken> = fc.oneof(
  fc.constantFrom<Broken>(
    { kind: 'broken', head: 'GARBAGE', body: '' },
    { kind: 'broken', head: 'GET /keys/a HTTP/9.9', body: '' },
    { kind: 'broken', head: 'GET /keys/a b HTTP/1.1', body: '' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nContent-Length: abc', body: 'x' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2', body: 'xy' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nTransfer-Encoding: chunked', body: 'zz\r\nabc\r\n0\r\n\r\n' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3', body: '3\r\nabc\r\n0\r\n\r\n' },
    { kind: 'broken', head: 'GET /keys/a HTTP/1.1\r\nBad Header: x', body: '' },
    { kind: 'broken', head: `GET /keys/a HTTP/1.1\r\nX-Big: ${'a'.repeat(17_000)}`, body: '' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nExpect: nothing\r\nContent-Length: 1', body: 'x' },
    { kind: 'broken', head: 'CONNECT 127.0.0.1:1 HTTP/1.1', body: '' },
    { kind: 'broken', head: 'OPTIONS * HTTP/1.1', body: '' },
    { kind: 'broken', head: 'POST /keys/a HTTP/1.1\r\nHost: second\r\nContent-Length: 1', body: 'x' }
  ),
  fc.record({
    kind: fc.constant('broken' as const),
    head: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }).filter(s => !s.includes('\r\n\r\n')),
    body: fc.string({ maxLength: 8 })
  })
)

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 19, arbitrary: shaped }, { weight: 1, arbitrary: broken })

// ---------------------------------------------------------------- sending

function routeSegment (r: Shaped): string {
  const name: string = r.route
  if (r.spelling === 'capitals') return name.toUpperCase()
  if (r.spelling === 'encoded') return '%' + hex(name.charCodeAt(0)) + name.slice(1)
  return name
}

function pathOf (r: Shaped): string {
  const seg = routeSegment(r)
  return keyRoutes.has(r.route) ? `/${seg}/${r.rest}` : `/${seg}`
}

function resolveCommits (query: string): string {
  return query.replace(/\{commit:(\d+)\}/g, (_m, n: string) => knownCommits.at(-1 - (Number(n) % knownCommits.length)) ?? 'deadbeef')
}

function render (r: Shaped): { head: string, body: Buffer } {
  const query = resolveCommits(r.query)
  const target = (r.absolute ? `http://${authority}` : '') + pathOf(r) + (query === '' ? '' : `?${query}`)
  const lines = [`${r.method} ${target} HTTP/1.1`]
  for (const a of r.authors) lines.push(`X-GitConfig-Author: ${a}`)
  if (r.contentType !== null) lines.push(`Content-Type: ${r.contentType}`)
  let payload = Buffer.from(r.body)
  if (r.chunked && payload.length > 0) {
    lines.push('Transfer-Encoding: chunked')
    payload = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')])
  } else {
    lines.push(`Content-Length: ${payload.length}`)
  }
  return { head: lines.join('\r\n'), body: payload }
}

async function send (r: FuzzRequest): Promise<RawResponse> {
  const { head, body } = r.kind === 'broken' ? r : render(r)
  return await rawRequest(f.url, head, body)
}

async function inParallel<T, R> (items: readonly T[], limitInFlight: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await run(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limitInFlight, items.length) }, worker))
  return results
}

// ---------------------------------------------------------------- what every answer must satisfy

const documentedStatuses = new Set([200, 304, ...Object.values(errorCodes).map(c => c.status)])

type Refusal = 'INVALID_KEY' | 'INVALID_ARGUMENT'

/** A query as the node must read it: pairs decoded once (`+` is a space); the names of pairs that do not decode. */
function readQuery (query: string): { params: Map<string, string[]>, malformed: string[] } {
  const params = new Map<string, string[]>()
  const malformed: string[] = []
  const decode = (text: string): string | null => { try { return decodeURIComponent(text.replaceAll('+', ' ')) } catch { return null } }
  for (const pair of query.split('&').filter(p => p !== '')) {
    const eq = pair.indexOf('=')
    const name = decode(eq < 0 ? pair : pair.slice(0, eq))
    const value = decode(eq < 0 ? '' : pair.slice(eq + 1))
    if (name === null || value === null) malformed.push(name ?? '')
    else params.set(name, [...(params.get(name) ?? []), value])
  }
  return { params, malformed }
}

/**
 * What the URL of a shaped request alone says about its answer, worked out here on its own: the key it names (the
 * rest of a key route's path, or a list/audit `prefix`), and the refusal it calls for, in the order the node checks:
 * the router decodes the path (a key route's bad escapes are INVALID_KEY), a fragment or an encoded route name is
 * INVALID_ARGUMENT, then on a route that serves the method an undecodable query parameter (INVALID_KEY for a
 * prefix), then a leading empty segment in a key (`afterBody`: a body over its limit may be refused first).
 */
function expectation (r: Shaped): { key: string | null, refusal: Refusal | null, afterBody: boolean } {
  const query = resolveCommits(r.query)
  const path = pathOf(r)
  const literalKeyRoute = keyRoutes.has(r.route) && r.spelling === 'literal'
  const served = r.spelling === 'literal' && servedMethods[r.route].includes(r.method)
  const result = (key: string | null, refusal: Refusal | null, afterBody = false): ReturnType<typeof expectation> => ({ key, refusal, afterBody })
  let decodedRest: string | null
  try {
    decodeURIComponent(path.split('#')[0])
    decodedRest = literalKeyRoute ? '/' + r.rest.split('#')[0].split('/').map(decodeURIComponent).join('/') : null
  } catch {
    // fastify routes every method (its 404 handler too), so the router decodes whatever the method.
    return result(null, literalKeyRoute ? 'INVALID_KEY' : 'INVALID_ARGUMENT')
  }
  if (path.includes('#') || query.includes('#') || r.spelling === 'encoded') return result(null, 'INVALID_ARGUMENT')
  const { params, malformed } = readQuery(query)
  const prefixes = params.get('prefix')
  const key = decodedRest ?? ((r.route === 'list' || r.route === 'audit') && prefixes?.length === 1 ? prefixes[0] : null)
  if (served && malformed.length > 0) return result(null, malformed.includes('prefix') ? 'INVALID_KEY' : 'INVALID_ARGUMENT')
  if (served && literalKeyRoute && r.rest.startsWith('/')) return result(key, 'INVALID_KEY', true)
  return result(key, null)
}

function describe (r: FuzzRequest, res: RawResponse): string {
  const head = r.kind === 'broken' ? r.head : render(r).head
  return `${JSON.stringify(head.slice(0, 300))} -> ${res.status} ${res.body.slice(0, 300)}`
}

/** Answers seen, by status and code: printed at the end, to show what the run reached. */
const tally = new Map<string, number>()

/** Checks one answer; returns the commit it acknowledges as made by this request, if any. */
function check (r: FuzzRequest, res: RawResponse): string | null {
  const what = describe(r, res)
  assert.ok(documentedStatuses.has(res.status) && res.status < 500, `undocumented status: ${what}`)
  const isHead = r.kind === 'shaped' && r.method === 'HEAD'
  let body: Record<string, unknown> | null = null
  if (!isHead && /content-type: application\/json/i.test(res.headers)) body = JSON.parse(res.body) as Record<string, unknown>
  const outcome = `${res.status}${typeof body?.error === 'string' ? ' ' + body.error : ''}`
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
  const casMiss = res.status === 409 && body?.swapped === false
  if (res.status >= 400 && !isHead && !casMiss) {
    assert.ok(body !== null, `error without a JSON body: ${what}`)
    assert.ok(typeof body.error === 'string' && Object.hasOwn(errorCodes, body.error), `unknown error code: ${what}`)
    assert.equal(typeof body.message, 'string', `error without a message: ${what}`)
    assert.equal(res.status, errorCodes[body.error as keyof typeof errorCodes].status, `status is not the code's: ${what}`)
  }
  if (r.kind === 'broken') return null
  const expected = expectation(r)
  const refusedFirst = expected.afterBody && r.body.length > valueBytesMax && body?.error === 'VALUE_TOO_LARGE'
  if (expected.refusal !== null && !isHead && !refusedFirst) {
    assert.equal(body?.error, expected.refusal, `the URL's refusal was not the answer: ${what}`)
  }
  if (body !== null && typeof body.key === 'string') {
    // The store names a prefix without its trailing slashes.
    const named = expected.key
    assert.ok(named !== null && (body.key === named || body.key === named.replace(/\/+$/, '')), `the reply's key is not the URL's: ${what}`)
  }
  if (body !== null && typeof body.prefix === 'string' && r.route === 'list') {
    assert.equal(body.prefix, expected.key ?? '/', `the listed prefix is not the URL's: ${what}`)
  }
  if (body !== null && Array.isArray(body.events) && expected.key !== null) {
    const prefix = expected.key.endsWith('/') ? expected.key : expected.key + '/'
    for (const ev of body.events as Array<{ key: string }>) {
      assert.ok(ev.key === expected.key || ev.key.startsWith(prefix), `a watch event outside the URL's key: ${what}`)
    }
  }
  const acknowledged = res.status === 200 && body !== null && typeof body.commit === 'string' ? body.commit : null
  if (acknowledged !== null) knownCommits.push(acknowledged)
  return acknowledged
}

test('fuzz: every route answers documented statuses in the documented shape, for the key its URL names, and refusals change nothing', async () => {
  console.log(`fuzz seed ${seed}: replay with FC_SEED=${seed} node scripts/run-tests.mjs test/api/fuzz.test.ts`)
  const startedMs = Date.now()
  let sent = 0
  // A first commit, so that `main` exists and rollbacks have something to point at.
  const first = await rawRequest(f.url, 'POST /keys/a HTTP/1.1\r\nContent-Length: 1', 'v')
  knownCommits.push((JSON.parse(first.body) as { commit: string }).commit)
  let head = await git('rev-parse', 'main')
  await fc.assert(fc.asyncProperty(fc.array(fuzzRequest, { minLength: 1, maxLength: batchMax, size: 'max' }), async (batch) => {
    const before = head
    try {
      const answers = await inParallel(batch, inFlightMax, send)
      sent += batch.length
      const acknowledged = new Set(batch.map((r, i) => check(r, answers[i])).filter((c): c is string => c !== null))
      // One git call a batch (they cost more than the requests on a loaded machine): what main gained since.
      const gained = (await git('rev-list', `${before}..main`)).split('\n').filter(c => c !== '')
      for (const c of gained) assert.ok(acknowledged.has(c), `commit ${c} is named by no accepted reply of its batch: a refused request changed the repository`)
      head = gained[0] ?? before
    } catch (err) {
      // A failed batch may have made accepted commits: the next batch (a shrinking rerun) starts from where main is.
      head = await git('rev-parse', 'main')
      throw err
    }
  }), {
    seed,
    numRuns: Math.ceil(requestsGoal / ((batchMax + 1) / 2)),
    interruptAfterTimeLimit: timeBudgetMs,
    markInterruptAsFailure: false,
    includeErrorInReport: true
  })
  const outcomes = [...tally].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o}: ${n}`).join(', ')
  console.log(`fuzz: ${sent} requests in ${((Date.now() - startedMs) / 1000).toFixed(1)} s, ${knownCommits.length} commits acknowledged; ${outcomes}`)
  // However loaded the machine, a run that sent almost nothing has not tested anything.
  assert.ok(sent >= 500, `only ${sent} requests within the time budget`)
  assert.equal((await rawRequest(f.url, 'GET /health HTTP/1.1')).status, 200)
})
