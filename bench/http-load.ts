// Load generator for bench/http.ts, run as its own process so it never shares a CPU slice with a measured server.
// autocannon through its API, which (unlike its CLI) can vary each request: `distinct` makes every write go to a
// different key, as many clients configuring many keys do, spread over directories like the store benchmarks' keys
// (spreadKeySuffix). Usage: http-load.ts '<json LoadSpec>'; prints JSON.
import { createRequire } from 'node:module'
import { spreadKeySuffix } from './store-load.js'

interface LoadSpec {
  url: string
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
const target = new URL(spec.url)
let n = 0
const headers = spec.body === undefined ? {} : { 'content-type': spec.contentType ?? 'application/octet-stream' }

function setupRequest (req: AutocannonRequest): AutocannonRequest {
  const i = n++
  if (spec.distinct === 'path') return { ...req, path: `${target.pathname}/${spreadKeySuffix(i)}` }
  if (spec.distinct === 'etcd') {
    const body = JSON.parse(spec.body ?? '{}') as { key: string, value: string }
    const key = Buffer.from(Buffer.from(body.key, 'base64').toString('utf8') + `/${spreadKeySuffix(i)}`).toString('base64')
    return { ...req, body: JSON.stringify({ key, value: body.value }) }
  }
  return req
}

const result = await autocannon({
  url: target.origin,
  connections: spec.connections,
  duration: spec.seconds,
  requests: [{ method: spec.method, path: target.pathname + target.search, body: spec.body, headers, setupRequest }]
})
process.stdout.write(JSON.stringify({
  rps: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: result.errors, non2xx: result.non2xx
}) + '\n')
