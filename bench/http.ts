// HTTP benchmark (issue 3): a gitconfig node against etcd 3.4 (v3 JSON gateway, one member, fsync on) and against
// an empty fastify handler (this machine's ceiling), all in separate processes, loaded by autocannon in yet another
// process so the load generator does not run in a measured process. Prints a table with ratios and the goals.
//
//   npm run bench:http                      # 10 s per load run
//   BENCH_SECONDS=5 npm run bench:http
//
// etcd is skipped with a message when the `etcd` binary is absent (Debian: apt-get install etcd-server).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { SseParser } from '../src/client/sse.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const watchSamples = Number(process.env.BENCH_WATCH_SAMPLES ?? 300)
const root = fileURLToPath(new URL('..', import.meta.url))
const loadScript = join(root, 'bench', 'http-load.ts')
const children = new Set<ChildProcess>()

interface LoadResult { rps: number, p50Ms: number, p99Ms: number, errors: number, non2xx: number }
interface LoadSpec { url: string, method: 'GET' | 'POST', body?: string, contentType?: string, connections: number, distinct?: 'path' | 'etcd' }

function track (child: ChildProcess): ChildProcess {
  children.add(child)
  child.on('exit', () => { children.delete(child) })
  return child
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** Runs the load generator (bench/http-load.ts, autocannon) in its own process and returns its summary. */
async function load (spec: LoadSpec, durationSeconds = seconds): Promise<LoadResult> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', loadScript, JSON.stringify({ ...spec, seconds: durationSeconds })], { stdio: ['ignore', 'pipe', 'inherit'] }))
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8') })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`load generator exited ${String(code)}`)
  return JSON.parse(out) as LoadResult
}

/** Starts a process and resolves with the first stdout/stderr match of `pattern`. */
async function startProcess (cmd: string, args: string[], pattern: RegExp, what: string): Promise<{ child: ChildProcess, match: RegExpExecArray }> {
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
  let seen = ''
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} did not start: ${seen.slice(-500)}`)) }, 60_000)
    const onData = (c: Buffer): void => {
      seen += c.toString('utf8')
      const m = pattern.exec(seen)
      if (m !== null) { clearTimeout(timer); resolve(m) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`${what} exited ${String(code)}: ${seen.slice(-500)}`)) })
  })
  child.stdout?.resume()
  child.stderr?.resume()
  return { child, match }
}

async function waitHealthy (url: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(r => r.ok, () => false)
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not become healthy at ${url}`)
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.on('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(timer)
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

interface WatchResult { p50Ms: number, p99Ms: number }

/** Write -> event latency: one write at a time, timed from just before the write until its event arrives. */
async function watchLatency (openStream: () => Promise<ReadableStream<Uint8Array>>, parse: (chunk: string) => string[],
  write: (value: string) => Promise<void>): Promise<WatchResult> {
  const body = await openStream()
  const waiting = new Map<string, () => void>()
  const reader = (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of body) {
      for (const value of parse(decoder.decode(chunk, { stream: true }))) waiting.get(value)?.()
    }
  })().catch(() => {})
  await new Promise(resolve => setTimeout(resolve, 200))
  const samples: number[] = []
  for (let i = 0; i < watchSamples; i++) {
    const value = `w${i}-${Date.now()}`
    const arrived = new Promise<void>(resolve => waiting.set(value, resolve))
    const t0 = performance.now()
    await Promise.all([write(value), arrived])
    samples.push(performance.now() - t0)
    waiting.delete(value)
  }
  await body.cancel().catch(() => {})
  void reader
  samples.sort((a, b) => a - b)
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) }
}

/**
 * Sequential writes, one at a time, timed in this process (autocannon reports whole milliseconds, too coarse
 * here). The server is still in another process; the time includes fetch's own overhead on both targets alike.
 */
async function sequentialLatency (write: () => Promise<void>): Promise<LoadResult> {
  const samples: number[] = []
  const end = performance.now() + seconds * 1000
  while (performance.now() < end) {
    const t0 = performance.now()
    await write()
    samples.push(performance.now() - t0)
  }
  const total = samples.reduce((a, b) => a + b, 0)
  samples.sort((a, b) => a - b)
  return { rps: samples.length / (total / 1000), p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), errors: 0, non2xx: 0 }
}

async function postOk (url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', body })
  await res.arrayBuffer()
  if (!res.ok) throw new Error(`POST ${url}: ${res.status}`)
}

interface TargetResults { seq?: LoadResult, post?: LoadResult, postSame?: LoadResult, get?: LoadResult, watch?: WatchResult }

/** Mean of several load results (rates and latencies averaged). */
function mean (runs: LoadResult[]): LoadResult {
  const avg = (f: (r: LoadResult) => number): number => runs.reduce((a, r) => a + f(r), 0) / runs.length
  return { rps: avg(r => r.rps), p50Ms: avg(r => r.p50Ms), p99Ms: avg(r => r.p99Ms), errors: avg(r => r.errors), non2xx: avg(r => r.non2xx) }
}

/**
 * GET throughput of the node and of the empty handler, alternated (node, empty, node, empty) so both see the same
 * machine load: the ratio between them is the number that matters, and the load here drifts by the minute.
 */
async function interleavedGets (nodeUrl: string, emptyUrl: string): Promise<{ node: LoadResult, empty: LoadResult }> {
  const nodeRuns: LoadResult[] = []
  const emptyRuns: LoadResult[] = []
  await load({ url: emptyUrl, method: 'GET', connections: 64 }, warmupSeconds)
  for (let i = 0; i < 2; i++) {
    nodeRuns.push(await load({ url: nodeUrl, method: 'GET', connections: 64 }, seconds / 2))
    emptyRuns.push(await load({ url: emptyUrl, method: 'GET', connections: 64 }, seconds / 2))
  }
  return { node: mean(nodeRuns), empty: mean(emptyRuns) }
}

async function benchGitconfig (dir: string, emptyUrl: string): Promise<TargetResults & { emptyGet: LoadResult }> {
  const { child, match } = await startProcess(process.execPath,
    ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'node', 'start', '--http-port', '0', '--repo', join(dir, 'gitconfig'), '--log-level', 'warn'],
    /listening on (http:\/\/\S+)/, 'gitconfig node')
  const url = match[1]
  try {
    await fetch(`${url}/keys/bench/get`, { method: 'POST', body: 'postgres://db1:5432/app1' })
    // Warm-up: JIT, lazily loaded modules and git's first packs, so the measured runs see a steady state.
    await load({ url: `${url}/keys/bench/warm`, method: 'POST', body: 'postgres://db1:5432/app1', connections: 64, distinct: 'path' }, warmupSeconds)
    const seq = await sequentialLatency(async () => { await postOk(`${url}/keys/bench/seq`, 'postgres://db1:5432/app1') })
    const post = await load({ url: `${url}/keys/bench/post`, method: 'POST', body: 'postgres://db1:5432/app1', connections: 64, distinct: 'path' })
    const postSame = await load({ url: `${url}/keys/bench/same`, method: 'POST', body: 'postgres://db1:5432/app1', connections: 64 })
    await load({ url: `${url}/keys/bench/get`, method: 'GET', connections: 64 }, warmupSeconds)
    const gets = await interleavedGets(`${url}/keys/bench/get`, `${emptyUrl}/keys/bench/get`)
    const sse = new SseParser()
    const watch = await watchLatency(
      async () => {
        const res = await fetch(`${url}/watch/bench/watch`, { headers: { accept: 'text/event-stream' } })
        if (res.body === null) throw new Error('no SSE body')
        return res.body
      },
      chunk => sse.push(chunk).filter(m => m.event === 'change').map(m => (JSON.parse(m.data) as { value: string }).value),
      async value => { await (await fetch(`${url}/keys/bench/watch`, { method: 'POST', body: value })).arrayBuffer() })
    return { seq, post, postSame, get: gets.node, emptyGet: gets.empty, watch }
  } finally {
    await stop(child)
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')

async function benchEtcd (dir: string): Promise<TargetResults | null> {
  if (spawnSync('etcd', ['--version']).status !== 0) {
    console.log('etcd: not installed (apt-get install etcd-server); skipped')
    return null
  }
  const clientPort = await freePort()
  const peerPort = await freePort()
  const url = `http://127.0.0.1:${clientPort}`
  // One member, loopback only; etcd fsyncs its WAL on every commit unless --unsafe-no-fsync is given (it is not).
  const child = track(spawn('etcd', [
    '--name', 'bench', '--data-dir', join(dir, 'etcd'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `bench=http://127.0.0.1:${peerPort}`, '--log-level', 'error', '--logger', 'zap'
  ], { stdio: 'ignore' }))
  try {
    await waitHealthy(`${url}/health`, 'etcd')
    const put = JSON.stringify({ key: b64('bench/put'), value: b64('postgres://db1:5432/app1') })
    await fetch(`${url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64('bench/get'), value: b64('postgres://db1:5432/app1') }) })
    await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 }, warmupSeconds)
    const seq = await sequentialLatency(async () => { await postOk(`${url}/v3/kv/put`, put) })
    const post = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64, distinct: 'etcd' })
    const postSame = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 })
    const get = await load({ url: `${url}/v3/kv/range`, method: 'POST', body: JSON.stringify({ key: b64('bench/get') }), contentType: 'application/json', connections: 64 })
    let buffered = ''
    const watch = await watchLatency(
      async () => {
        const res = await fetch(`${url}/v3/watch`, { method: 'POST', body: JSON.stringify({ create_request: { key: b64('bench/watch') } }) })
        if (res.body === null) throw new Error('no watch body')
        return res.body
      },
      chunk => {
        buffered += chunk
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        const values: string[] = []
        for (const line of lines) {
          if (line.trim() === '') continue
          const msg = JSON.parse(line) as { result?: { events?: Array<{ kv?: { value?: string } }> } }
          for (const ev of msg.result?.events ?? []) if (ev.kv?.value !== undefined) values.push(Buffer.from(ev.kv.value, 'base64').toString('utf8'))
        }
        return values
      },
      async value => { await (await fetch(`${url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64('bench/watch'), value: b64(value) }) })).arrayBuffer() })
    return { seq, post, postSame, get, watch }
  } finally {
    await stop(child)
  }
}

async function startEmpty (): Promise<{ url: string, child: ChildProcess }> {
  const { child, match } = await startProcess(process.execPath, ['--import', 'tsx', join(root, 'bench/http-empty-server.ts')], /(http:\/\/\S+)/, 'empty fastify')
  return { url: match[1], child }
}

async function benchEmptyPost (url: string): Promise<LoadResult> {
  await load({ url: `${url}/keys/bench/warm`, method: 'POST', body: 'postgres://db1:5432/app1', connections: 64, distinct: 'path' }, warmupSeconds)
  return await load({ url: `${url}/keys/bench/post`, method: 'POST', body: 'postgres://db1:5432/app1', connections: 64, distinct: 'path' })
}

const fmt = (n: number | undefined, digits = 0): string => n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (a: number | undefined, b: number | undefined): string => a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`

function row (cells: string[]): string {
  const widths = [34, 14, 14, 14, 26, 20]
  return cells.map((c, i) => c.padEnd(widths[i])).join(' ')
}

async function main (): Promise<void> {
  console.log(`bench/http: ${seconds} s per load run, 64 connections, autocannon in its own process; ${cpus().length} cores, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-bench-http-'))
  try {
    const empty = await startEmpty()
    const g = await benchGitconfig(dir, empty.url)
    const e = await benchEtcd(dir)
    const x: TargetResults = { post: await benchEmptyPost(empty.url), get: g.emptyGet }
    await stop(empty.child)
    for (const [name, r] of [['gitconfig', g], ['etcd', e], ['empty fastify', x]] as const) {
      for (const [k, v] of Object.entries(r ?? {})) {
        const l = v as Partial<LoadResult>
        if ((l.errors ?? 0) > 0 || (l.non2xx ?? 0) > 0) console.log(`warning: ${name} ${k}: ${l.errors ?? 0} errors, ${l.non2xx ?? 0} non-2xx replies`)
      }
    }
    console.log()
    console.log(row(['', 'gitconfig', 'etcd 3.4', 'empty fastify', 'ratio', 'goal']))
    console.log(row(['sequential POST latency p50 (ms)', fmt(g.seq?.p50Ms, 2), fmt(e?.seq?.p50Ms, 2), '', ratio(g.seq?.p50Ms, e?.seq?.p50Ms) + ' of etcd', '']))
    console.log(row(['sequential POST latency p99 (ms)', fmt(g.seq?.p99Ms, 2), fmt(e?.seq?.p99Ms, 2), '', ratio(g.seq?.p99Ms, e?.seq?.p99Ms) + ' of etcd', '']))
    console.log(row(['POST/s, 64 conns, distinct keys', fmt(g.post?.rps), fmt(e?.post?.rps), fmt(x.post?.rps), ratio(g.post?.rps, e?.post?.rps) + ' of etcd', '>= 1.5x etcd']))
    console.log(row(['POST/s, 64 conns, one hot key', fmt(g.postSame?.rps), fmt(e?.postSame?.rps), '', ratio(g.postSame?.rps, e?.postSame?.rps) + ' of etcd', '']))
    console.log(row(['GET/s, 64 connections', fmt(g.get?.rps), fmt(e?.get?.rps), fmt(x.get?.rps), ratio(g.get?.rps, e?.get?.rps) + ' of etcd', '>= 2.5x etcd']))
    console.log(row(['', '', '', '', ratio(g.get?.rps, x.get?.rps) + ' of empty', '>= 0.7x empty']))
    console.log(row(['watch write->event p50 (ms)', fmt(g.watch?.p50Ms, 2), fmt(e?.watch?.p50Ms, 2), '', ratio(g.watch?.p50Ms, e?.watch?.p50Ms) + ' of etcd', '']))
    console.log(row(['watch write->event p99 (ms)', fmt(g.watch?.p99Ms, 2), fmt(e?.watch?.p99Ms, 2), '', ratio(g.watch?.p99Ms, e?.watch?.p99Ms) + ' of etcd', '<= 1.0x etcd']))
  } finally {
    for (const c of children) c.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
