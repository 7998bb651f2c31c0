// HTTP benchmark (issue 3): a gitconfig node against etcd 3.4 (v3 JSON gateway, one member, fsync on) and against
// an empty fastify handler (this machine's ceiling), all in separate processes, loaded by autocannon in yet another
// process so the load generator does not run in a measured process. The same write loads also run against the store
// alone, in this process, so the table shows what the HTTP path keeps of the store's own speed, and git fast-import
// alone on the store's stream (bench/git-alone.ts): the ceiling of any write path that commits before it replies.
// Prints a table with ratios and the goals. Method and findings: docs/decisions/0305-http-benchmark-method.md and 0307.
//
//   npm run bench:http                      # 10 s per load run
//   BENCH_SECONDS=5 npm run bench:http
//   GITCONFIG_CLI_ENTRY=bin/gitconfig npm run bench:http   # the node as users run it (after npm run build); from source otherwise
//
// etcd is skipped with a message when the `etcd` binary is absent (Debian: apt-get install etcd-server).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { SseParser } from '../src/client/sse.js'
import { GitConfigStore } from '../src/index.js'
import { setsPerSecondFor } from './store-load.js'
import { gitAloneCommits, type GitAloneResult } from './git-alone.js'
import { cliCommand } from '../test/support/cli.js'
import { freePort } from '../test/support/ports.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const watchSamples = Number(process.env.BENCH_WATCH_SAMPLES ?? 300)
const root = fileURLToPath(new URL('..', import.meta.url))
const loadScript = join(root, 'bench', 'http-load.ts')
const children = new Set<ChildProcess>()
/**
 * The client of the latency measurements: node:http over one kept-alive connection. fetch (undici) costs about
 * 0.3-1 ms more per POST on this machine, which would be counted against whichever server is measured.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const value = 'postgres://db1:5432/app1'

interface LoadResult { rps: number, p50Ms: number, p99Ms: number, errors: number, non2xx: number }
interface LoadSpec { url: string, method: 'GET' | 'POST', body?: string, contentType?: string, connections: number, distinct?: 'path' | 'etcd' }

function track (child: ChildProcess): ChildProcess {
  children.add(child)
  child.on('exit', () => { children.delete(child) })
  return child
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

interface WatchResult {
  p50Ms: number
  p99Ms: number
  /** The same writes' acknowledgement latency, for comparison with the event's. */
  ackP50Ms: number
}

interface Reply { status: number, body: Buffer }

/** One request over the kept-alive connection; resolves once the whole reply has been read. */
async function send (url: string, method: 'GET' | 'POST', body?: string): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function postOk (url: string, body: string): Promise<void> {
  const res = await send(url, 'POST', body)
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${url}: ${res.status} ${res.body.toString('utf8')}`)
}

/**
 * Opens a streaming response (SSE, etcd's watch stream) on its own connection; `onText` gets each chunk with the
 * time it arrived, taken before any parsing. Resolves with a function that closes the stream.
 */
async function openStream (url: string, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined,
  onText: (text: string, atMs: number) => void): Promise<() => void> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, headers }, resolve)
    req.on('error', reject)
    req.end(body)
  })
  if (res.statusCode !== 200) throw new Error(`stream ${url}: ${res.statusCode}`)
  res.setEncoding('utf8')
  res.on('data', (text: string) => { onText(text, performance.now()) })
  res.on('error', () => {})
  return () => { res.destroy() }
}

/**
 * Write -> event latency: one write at a time, timed from just before the write until its event arrives on the
 * stream (whether that is before or after the write's own reply).
 */
async function watchLatency (open: (onValue: (value: string, atMs: number) => void) => Promise<() => void>,
  write: (value: string) => Promise<void>): Promise<WatchResult> {
  const waiting = new Map<string, (atMs: number) => void>()
  const close = await open((v, atMs) => { waiting.get(v)?.(atMs) })
  await new Promise(resolve => setTimeout(resolve, 200))
  const samples: number[] = []
  const acks: number[] = []
  try {
    for (let i = 0; i < watchSamples; i++) {
      const v = `w${i}-${Date.now()}`
      const arrived = new Promise<number>(resolve => waiting.set(v, resolve))
      const t0 = performance.now()
      await write(v)
      acks.push(performance.now() - t0)
      samples.push(await arrived - t0)
      waiting.delete(v)
    }
  } finally {
    close()
  }
  samples.sort((a, b) => a - b)
  acks.sort((a, b) => a - b)
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), ackP50Ms: percentile(acks, 0.5) }
}

/**
 * Sequential writes, one at a time, timed in this process (autocannon reports whole milliseconds, too coarse
 * here). The server is still in another process; the time includes the client's own work on both targets alike.
 */
async function sequentialLatency (write: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const samples: number[] = []
  const end = performance.now() + seconds * 1000
  for (let i = 0; performance.now() < end; i++) {
    const t0 = performance.now()
    await write(i)
    samples.push(performance.now() - t0)
  }
  const total = samples.reduce((a, b) => a + b, 0)
  samples.sort((a, b) => a - b)
  return { rps: samples.length / (total / 1000), p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), errors: 0, non2xx: 0 }
}

/** Mean keys per commit from the node's metrics between two scrapes. */
async function batchSizes (url: string): Promise<{ sum: number, count: number }> {
  const text = (await send(`${url}/metrics`, 'GET')).body.toString('utf8')
  const read = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return { sum: read('gitconfig_commit_batch_size_sum'), count: read('gitconfig_commit_batch_size_count') }
}

interface TargetResults {
  seq?: LoadResult
  post?: LoadResult
  /** Mean keys per commit during the `post` run (gitconfig and the store alone). */
  postBatch?: number
  postSame?: LoadResult
  get?: LoadResult
  watch?: WatchResult
}

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
  const [command, entry] = cliCommand()
  const { child, match } = await startProcess(command,
    [...entry, 'node', 'start', '--http-port', '0', '--repo', join(dir, 'gitconfig'), '--log-level', 'warn'],
    /listening on (http:\/\/\S+)/, 'gitconfig node')
  const url = match[1]
  try {
    await postOk(`${url}/keys/bench/get`, value)
    // Warm-up: JIT, lazily loaded modules and git's first packs, so the measured runs see a steady state.
    await load({ url: `${url}/keys/bench/warm`, method: 'POST', body: value, connections: 64, distinct: 'path' }, warmupSeconds)
    const seq = await sequentialLatency(async () => { await postOk(`${url}/keys/bench/seq`, value) })
    const before = await batchSizes(url)
    const post = await load({ url: `${url}/keys/bench/post`, method: 'POST', body: value, connections: 64, distinct: 'path' })
    const after = await batchSizes(url)
    const postSame = await load({ url: `${url}/keys/bench/same`, method: 'POST', body: value, connections: 64 })
    await load({ url: `${url}/keys/bench/get`, method: 'GET', connections: 64 }, warmupSeconds)
    const gets = await interleavedGets(`${url}/keys/bench/get`, `${emptyUrl}/keys/bench/get`)
    const sse = new SseParser()
    const watch = await watchLatency(
      async (onValue) => await openStream(`${url}/watch/bench/watch`, 'GET', { accept: 'text/event-stream' }, undefined, (text, atMs) => {
        for (const m of sse.push(text)) if (m.event === 'change') onValue((JSON.parse(m.data) as { value: string }).value, atMs)
      }),
      async v => { await postOk(`${url}/keys/bench/watch`, v) })
    const postBatch = (after.sum - before.sum) / (after.count - before.count)
    return { seq, post, postBatch, postSame, get: gets.node, emptyGet: gets.empty, watch }
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
    const put = JSON.stringify({ key: b64('bench/put'), value: b64(value) })
    await postOk(`${url}/v3/kv/put`, JSON.stringify({ key: b64('bench/get'), value: b64(value) }))
    await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 }, warmupSeconds)
    const seq = await sequentialLatency(async () => { await postOk(`${url}/v3/kv/put`, put) })
    const post = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64, distinct: 'etcd' })
    const postSame = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 })
    const get = await load({ url: `${url}/v3/kv/range`, method: 'POST', body: JSON.stringify({ key: b64('bench/get') }), contentType: 'application/json', connections: 64 })
    let buffered = ''
    const watch = await watchLatency(
      async (onValue) => await openStream(`${url}/v3/watch`, 'POST', {}, JSON.stringify({ create_request: { key: b64('bench/watch') } }), (text, atMs) => {
        buffered += text
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) {
          if (line.trim() === '') continue
          const msg = JSON.parse(line) as { result?: { events?: Array<{ kv?: { value?: string } }> } }
          for (const ev of msg.result?.events ?? []) if (ev.kv?.value !== undefined) onValue(Buffer.from(ev.kv.value, 'base64').toString('utf8'), atMs)
        }
      }),
      async v => { await postOk(`${url}/v3/kv/put`, JSON.stringify({ key: b64('bench/watch'), value: b64(v) })) })
    return { seq, post, postSame, get, watch }
  } finally {
    await stop(child)
  }
}

/**
 * The same write loads against the store alone, in this process (no HTTP, no load-generator process): what the HTTP
 * path could reach at best on this machine right now. Same key shapes, same warm-up, same durations.
 */
async function benchStoreAlone (dir: string): Promise<TargetResults> {
  const store = await GitConfigStore.open(join(dir, 'store-alone'))
  try {
    await setsPerSecondFor(store, 64, warmupSeconds, '/bench/warm')
    const seq = await sequentialLatency(async () => await store.set('/bench/seq', value))
    const sizes: number[] = []
    const unsubscribe = store.onCommit(e => { sizes.push(e.changes.length) })
    const rps = await setsPerSecondFor(store, 64, seconds, '/bench/post')
    unsubscribe()
    return { seq, post: { rps, p50Ms: NaN, p99Ms: NaN, errors: 0, non2xx: 0 }, postBatch: sizes.reduce((a, b) => a + b, 0) / sizes.length }
  } finally {
    await store.close()
  }
}

/**
 * git fast-import alone with the store's stream (bench/git-alone.ts): one-key commits for the sequential rows (an
 * event cannot precede its durable commit, so they bound the watch rows too) and 64-key commits for the 64-writer
 * row (64 connections with one request each in flight put at most 64 changes in a commit).
 */
async function benchGitAlone (): Promise<TargetResults> {
  const one = await gitAloneCommits(1, seconds, '/bench/seq')
  const many = await gitAloneCommits(64, seconds)
  const asLoad = (r: GitAloneResult): LoadResult => ({ rps: r.keysPerSecond, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: 0, non2xx: 0 })
  return { seq: asLoad(one), post: asLoad(many), postBatch: 64 }
}

async function startEmpty (): Promise<{ url: string, child: ChildProcess }> {
  const { child, match } = await startProcess(process.execPath, ['--import', 'tsx', join(root, 'bench/http-empty-server.ts')], /(http:\/\/\S+)/, 'empty fastify')
  return { url: match[1], child }
}

async function benchEmptyPost (url: string): Promise<LoadResult> {
  await load({ url: `${url}/keys/bench/warm`, method: 'POST', body: value, connections: 64, distinct: 'path' }, warmupSeconds)
  return await load({ url: `${url}/keys/bench/post`, method: 'POST', body: value, connections: 64, distinct: 'path' })
}

const fmt = (n: number | undefined, digits = 0): string => n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (a: number | undefined, b: number | undefined): string => a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`

function row (cells: string[]): string {
  const widths = [34, 11, 12, 10, 10, 14, 30, 14]
  return cells.map((c, i) => c.padEnd(widths[i])).join(' ')
}

async function main (): Promise<void> {
  console.log(`bench/http: ${seconds} s per load run, 64 connections, autocannon in its own process; ${cpus().length} cores, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-bench-http-'))
  try {
    const empty = await startEmpty()
    const g = await benchGitconfig(dir, empty.url)
    const a = await benchStoreAlone(dir)
    const e = await benchEtcd(dir)
    const git = await benchGitAlone()
    const x: TargetResults = { post: await benchEmptyPost(empty.url), get: g.emptyGet }
    await stop(empty.child)
    for (const [name, r] of [['gitconfig', g], ['etcd', e], ['empty fastify', x]] as const) {
      for (const [k, v] of Object.entries(r ?? {})) {
        const l = v as Partial<LoadResult>
        if ((l.errors ?? 0) > 0 || (l.non2xx ?? 0) > 0) console.log(`warning: ${name} ${k}: ${l.errors ?? 0} errors, ${l.non2xx ?? 0} non-2xx replies`)
      }
    }
    console.log()
    console.log(row(['', 'gitconfig', 'store alone', 'git alone', 'etcd 3.4', 'empty fastify', 'ratio', 'goal']))
    console.log(row(['sequential POST latency p50 (ms)', fmt(g.seq?.p50Ms, 2), fmt(a.seq?.p50Ms, 2), fmt(git.seq?.p50Ms, 2), fmt(e?.seq?.p50Ms, 2), '', ratio(g.seq?.p50Ms, e?.seq?.p50Ms) + ' of etcd', '']))
    console.log(row(['sequential POST latency p99 (ms)', fmt(g.seq?.p99Ms, 2), fmt(a.seq?.p99Ms, 2), fmt(git.seq?.p99Ms, 2), fmt(e?.seq?.p99Ms, 2), '', ratio(g.seq?.p99Ms, e?.seq?.p99Ms) + ' of etcd', '']))
    console.log(row(['POST/s, 64 conns, distinct keys', fmt(g.post?.rps), fmt(a.post?.rps), fmt(git.post?.rps), fmt(e?.post?.rps), fmt(x.post?.rps), ratio(g.post?.rps, e?.post?.rps) + ' of etcd', '>= 1.5x etcd']))
    console.log(row(['', '', '', '', '', '', ratio(g.post?.rps, a.post?.rps) + ' of store alone', '']))
    console.log(row(['', '', '', '', '', '', ratio(git.post?.rps, e?.post?.rps) + ' of etcd (git alone)', '']))
    console.log(row(['  keys per commit (mean)', fmt(g.postBatch, 1), fmt(a.postBatch, 1), fmt(git.postBatch, 1), '', '', '', '']))
    console.log(row(['POST/s, 64 conns, one hot key', fmt(g.postSame?.rps), '', '', fmt(e?.postSame?.rps), '', ratio(g.postSame?.rps, e?.postSame?.rps) + ' of etcd', '']))
    console.log(row(['GET/s, 64 connections', fmt(g.get?.rps), '', '', fmt(e?.get?.rps), fmt(x.get?.rps), ratio(g.get?.rps, e?.get?.rps) + ' of etcd', '>= 2.5x etcd']))
    console.log(row(['', '', '', '', '', '', ratio(g.get?.rps, x.get?.rps) + ' of empty', '>= 0.7x empty']))
    console.log(row(['watch write->event p50 (ms)', fmt(g.watch?.p50Ms, 2), '', fmt(git.seq?.p50Ms, 2), fmt(e?.watch?.p50Ms, 2), '', ratio(g.watch?.p50Ms, e?.watch?.p50Ms) + ' of etcd', '']))
    console.log(row(['watch write->event p99 (ms)', fmt(g.watch?.p99Ms, 2), '', fmt(git.seq?.p99Ms, 2), fmt(e?.watch?.p99Ms, 2), '', ratio(g.watch?.p99Ms, e?.watch?.p99Ms) + ' of etcd', '<= 1.0x etcd']))
    console.log(row(['', '', '', '', '', '', ratio(git.seq?.p99Ms, e?.watch?.p99Ms) + ' of etcd (git alone)', '']))
    console.log(row(['  (those writes acked, p50 ms)', fmt(g.watch?.ackP50Ms, 2), '', '', fmt(e?.watch?.ackP50Ms, 2), '', '', '']))
    console.log('git alone: fast-import with the store\'s stream, git time only (1-key commits; 64-key commits for the 64-connection row);')
    console.log('its watch figures are its durable-commit times, which an event cannot precede.')
  } finally {
    for (const c of children) c.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
