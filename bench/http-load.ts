// Load generator for bench/http.ts, run as its own process so it never shares a CPU slice with a measured server.
// autocannon through its API, which (unlike its CLI) can vary each request: `distinct` makes every write go to a
// different key, as many clients configuring many keys do, spread over directories like the store benchmarks' keys
// (spreadKeySuffix). With `urls`, the connections are dealt round-robin over several servers (one autocannon instance
// per server, all at once; the key counter is shared, so keys stay distinct across servers): the rate is the sum,
// the latency percentiles the worst server's. Usage: http-load.ts '<json LoadSpec>'; prints JSON.
import { createRequire } from 'node:module'
import { spreadKeySuffix } from './store-load.js'

interface LoadSpec {
  url: string
  /** Several servers, the same request on each: connection i goes to urls[i % urls.length]; `url` is then ignored. */
  urls?: string[]
  method: 'GET' | 'POST'
  connections: number
  seconds: number
  body?: string
  contentType?: string
  /** 'path': POST to `<url>/<spreadKeySuffix(n)>`; 'etcd': a v3 put body whose key ends in `/<spreadKeySuffix(n)>`. */
  distinct?: 'path' | 'etcd'
}

interface AutocannonRequest { method: string, path: string, body?: string, headers?: Record<string, string> }
interface AutocannonResult { requests: { average: number }, latency: { p50: number, p99: number }, errors: number, non2xx: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
let n = 0
const headers = spec.body === undefined ? {} : { 'content-type': spec.contentType ?? 'application/octet-stream' }

function setupRequestFor (target: URL): (req: AutocannonRequest) => AutocannonRequest {
  return (req) => {
    const i = n++
    if (spec.distinct === 'path') return { ...req, path: `${target.pathname}/${spreadKeySuffix(i)}` }
    if (spec.distinct === 'etcd') {
      const body = JSON.parse(spec.body ?? '{}') as { key: string, value: string }
      const key = Buffer.from(Buffer.from(body.key, 'base64').toString('utf8') + `/${spreadKeySuffix(i)}`).toString('base64')
      return { ...req, body: JSON.stringify({ key, value: body.value }) }
    }
    return req
  }
}

async function run (url: string, connections: number): Promise<AutocannonResult> {
  const target = new URL(url)
  return await autocannon({
    url: target.origin,
    connections,
    duration: spec.seconds,
    requests: [{ method: spec.method, path: target.pathname + target.search, body: spec.body, headers, setupRequest: setupRequestFor(target) }]
  })
}

const urls = spec.urls ?? [spec.url]
const results = await Promise.all(urls.map(async (url, k) => await run(url, Math.floor(spec.connections / urls.length) + (k < spec.connections % urls.length ? 1 : 0))))
const sum = (f: (r: AutocannonResult) => number): number => results.reduce((a, r) => a + f(r), 0)
const max = (f: (r: AutocannonResult) => number): number => Math.max(...results.map(f))
process.stdout.write(JSON.stringify({
  rps: sum(r => r.requests.average),
  p50Ms: max(r => r.latency.p50),
  p99Ms: max(r => r.latency.p99),
  errors: sum(r => r.errors),
  non2xx: sum(r => r.non2xx),
  perUrlRps: results.map(r => r.requests.average)
}) + '\n')
