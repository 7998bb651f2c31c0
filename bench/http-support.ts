// What the HTTP benchmarks share (bench/http.ts against one node and one etcd member, bench/replication-cluster.ts
// against three of each): child processes tracked so every one is stopped by pid, the load generator in its own
// process (bench/http-load.ts), one-at-a-time latency loops timed in the bench process over node:http, watch streams
// (gitconfig's SSE, etcd's gateway stream), and etcd 3.4 members on loopback reached through the v3 JSON gateway.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { SseParser } from '../src/client/sse.js'
import { freePort } from '../test/support/ports.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const loadScript = join(root, 'bench', 'http-load.ts')
const children = new Set<ChildProcess>()
/**
 * The client of the latency measurements: node:http over one kept-alive connection per server. fetch (undici) costs
 * about 0.3-1 ms more per POST on this machine, which would be counted against whichever server is measured.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1 })

export interface LoadResult { rps: number, p50Ms: number, p99Ms: number, errors: number, non2xx: number, perUrlRps?: number[] }
export interface LoadSpec {
  url: string
  /** The same request on several servers: connection i goes to urls[i % urls.length] (url is then ignored). */
  urls?: string[]
  method: 'GET' | 'POST'
  body?: string
  contentType?: string
  connections: number
  distinct?: 'path' | 'etcd'
}

/** Keeps `child` in the set killAll() stops, until it exits. */
export function track (child: ChildProcess): ChildProcess {
  children.add(child)
  child.on('exit', () => { children.delete(child) })
  return child
}

/** SIGKILL to every tracked child still running, each by its pid (the `finally` of a benchmark). */
export function killAll (): void {
  for (const c of children) c.kill('SIGKILL')
}

/** Runs the load generator (bench/http-load.ts, autocannon) in its own process and returns its summary. */
export async function load (spec: LoadSpec, durationSeconds: number): Promise<LoadResult> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', loadScript, JSON.stringify({ ...spec, seconds: durationSeconds })], { stdio: ['ignore', 'pipe', 'inherit'] }))
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString('utf8') })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`load generator exited ${String(code)}`)
  return JSON.parse(out) as LoadResult
}

/** Starts a process and resolves with the first stdout/stderr match of `pattern`. */
export async function startProcess (cmd: string, args: string[], pattern: RegExp, what: string): Promise<{ child: ChildProcess, match: RegExpExecArray }> {
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

export async function waitHealthy (url: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(r => r.ok, () => false)
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not become healthy at ${url}`)
}

/** SIGTERM, then SIGKILL after 20 s; resolves once the process has exited. */
export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.on('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(timer)
}

export function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

export interface WatchResult {
  p50Ms: number
  p99Ms: number
  /** The same writes' acknowledgement latency, for comparison with the event's. */
  ackP50Ms: number
  samples: number
}

interface Reply { status: number, body: Buffer }

/** One request over the server's kept-alive connection; resolves once the whole reply has been read. */
export async function send (url: string, method: 'GET' | 'POST', body?: string): Promise<Reply> {
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

export async function postOk (url: string, body: string): Promise<void> {
  const res = await send(url, 'POST', body)
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${url}: ${res.status} ${res.body.toString('utf8')}`)
}

/**
 * Opens a streaming response (SSE, etcd's watch stream) on its own connection; `onText` gets each chunk with the
 * time it arrived, taken before any parsing. Resolves with a function that closes the stream.
 */
export async function openStream (url: string, method: 'GET' | 'POST', headers: Record<string, string>, body: string | undefined,
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

/** A gitconfig SSE watch of `key` on the node at `url`: each change's value, with its arrival time. */
export async function openGitconfigWatch (url: string, key: string, onValue: (value: string, atMs: number) => void): Promise<() => void> {
  const sse = new SseParser()
  return await openStream(`${url}/watch${key}`, 'GET', { accept: 'text/event-stream' }, undefined, (text, atMs) => {
    for (const m of sse.push(text)) if (m.event === 'change') onValue((JSON.parse(m.data) as { value: string }).value, atMs)
  })
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64')

/** An etcd watch of `key` through the member's gateway stream (`/v3/watch`): each put's value, with its arrival time. */
export async function openEtcdWatch (url: string, key: string, onValue: (value: string, atMs: number) => void): Promise<() => void> {
  let buffered = ''
  return await openStream(`${url}/v3/watch`, 'POST', {}, JSON.stringify({ create_request: { key: b64(key) } }), (text, atMs) => {
    buffered += text
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      const msg = JSON.parse(line) as { result?: { events?: Array<{ kv?: { value?: string } }> } }
      for (const ev of msg.result?.events ?? []) if (ev.kv?.value !== undefined) onValue(Buffer.from(ev.kv.value, 'base64').toString('utf8'), atMs)
    }
  })
}

/** A v3 gateway put body. */
export const etcdPut = (key: string, value: string): string => JSON.stringify({ key: b64(key), value: b64(value) })

/**
 * Write -> event latency: one write at a time, timed from just before the write until its event arrives on the
 * stream (whether that is before or after the write's own reply). Stops after `samples` writes or once `seconds`
 * have passed, whichever comes first; an event that has not arrived 30 s after its write fails the run.
 */
export async function watchLatency (open: (onValue: (value: string, atMs: number) => void) => Promise<() => void>,
  write: (value: string) => Promise<void>, opts: { samples: number, seconds?: number }): Promise<WatchResult> {
  const waiting = new Map<string, (atMs: number) => void>()
  const close = await open((v, atMs) => { waiting.get(v)?.(atMs) })
  await new Promise(resolve => setTimeout(resolve, 200))
  const samples: number[] = []
  const acks: number[] = []
  const endMs = performance.now() + (opts.seconds ?? Infinity) * 1000
  try {
    for (let i = 0; i < opts.samples && performance.now() < endMs; i++) {
      const v = `w${i}-${Date.now()}`
      let timer: NodeJS.Timeout | undefined
      const arrived = new Promise<number>((resolve, reject) => {
        waiting.set(v, resolve)
        timer = setTimeout(() => { reject(new Error(`no watch event for ${v} within 30 s`)) }, 30_000)
      })
      const t0 = performance.now()
      await write(v)
      acks.push(performance.now() - t0)
      samples.push(await arrived - t0)
      clearTimeout(timer)
      waiting.delete(v)
    }
  } finally {
    close()
  }
  samples.sort((a, b) => a - b)
  acks.sort((a, b) => a - b)
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), ackP50Ms: percentile(acks, 0.5), samples: samples.length }
}

/**
 * Sequential writes, one at a time, timed in this process (autocannon reports whole milliseconds, too coarse
 * here). The server is still in another process; the time includes the client's own work on both targets alike.
 */
export async function sequentialLatency (write: (i: number) => Promise<unknown>, seconds: number): Promise<LoadResult> {
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

export function etcdInstalled (): boolean {
  return spawnSync('etcd', ['--version']).status === 0
}

export interface EtcdCluster {
  /** Each member's client URL (the v3 JSON gateway is served there). */
  readonly urls: string[]
  readonly children: ChildProcess[]
  stop (): Promise<void>
}

/**
 * Starts `members` etcd members on loopback, data in `dir`/etcd-<name>, and resolves once every member reports
 * healthy (for a cluster: a leader is elected). etcd fsyncs its WAL on every commit unless --unsafe-no-fsync is
 * given (it is not).
 */
export async function startEtcd (dir: string, members: number): Promise<EtcdCluster> {
  // freePort closes its socket before answering, so two calls may name the same port: ask again until all differ.
  const taken = new Set<number>()
  const distinctPort = async (): Promise<number> => {
    let port = await freePort()
    while (taken.has(port)) port = await freePort()
    taken.add(port)
    return port
  }
  const ports = []
  for (let i = 0; i < members; i++) ports.push({ name: `m${i + 1}`, client: await distinctPort(), peer: await distinctPort() })
  const initialCluster = ports.map(p => `${p.name}=http://127.0.0.1:${p.peer}`).join(',')
  // One token for the whole cluster (members with different tokens form different clusters), new for each start.
  const token = `bench-${ports[0].peer}`
  const children = ports.map(p => {
    const url = `http://127.0.0.1:${p.client}`
    return track(spawn('etcd', [
      '--name', p.name, '--data-dir', join(dir, `etcd-${p.name}`),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${p.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
      '--log-level', 'error', '--logger', 'zap'
    ], { stdio: 'ignore' }))
  })
  const urls = ports.map(p => `http://127.0.0.1:${p.client}`)
  const cluster = { urls, children, stop: async () => { await Promise.all(children.map(stop)) } }
  try {
    await Promise.all(urls.map(async u => { await waitHealthy(`${u}/health`, 'etcd') }))
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}
