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
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GitConfigStore } from '../src/index.js'
import { setsPerSecondFor } from './store-load.js'
import { gitAloneCommits, type GitAloneResult } from './git-alone.js'
import {
  b64, etcdInstalled, etcdPut, killAll, load as loadFor, openEtcdWatch, openGitconfigWatch, postOk, send, sequentialLatency as sequentialFor,
  startEtcd, startProcess, stop, watchLatency, type LoadResult, type LoadSpec, type WatchResult
} from './http-support.js'
import { cliCommand } from '../test/support/cli.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const watchSamples = Number(process.env.BENCH_WATCH_SAMPLES ?? 300)
const root = fileURLToPath(new URL('..', import.meta.url))
const value = 'postgres://db1:5432/app1'

const load = async (spec: LoadSpec, durationSeconds = seconds): Promise<LoadResult> => await loadFor(spec, durationSeconds)
const sequentialLatency = async (write: (i: number) => Promise<unknown>): Promise<LoadResult> => await sequentialFor(write, seconds)

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
    const watch = await watchLatency(
      async (onValue) => await openGitconfigWatch(url, '/bench/watch', onValue),
      async v => { await postOk(`${url}/keys/bench/watch`, v) }, { samples: watchSamples })
    const postBatch = (after.sum - before.sum) / (after.count - before.count)
    return { seq, post, postBatch, postSame, get: gets.node, emptyGet: gets.empty, watch }
  } finally {
    await stop(child)
  }
}

async function benchEtcd (dir: string): Promise<TargetResults | null> {
  if (!etcdInstalled()) {
    console.log('etcd: not installed (apt-get install etcd-server); skipped')
    return null
  }
  const etcd = await startEtcd(dir, 1)
  const url = etcd.urls[0]
  try {
    const put = etcdPut('bench/put', value)
    await postOk(`${url}/v3/kv/put`, etcdPut('bench/get', value))
    await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 }, warmupSeconds)
    const seq = await sequentialLatency(async () => { await postOk(`${url}/v3/kv/put`, put) })
    const post = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64, distinct: 'etcd' })
    const postSame = await load({ url: `${url}/v3/kv/put`, method: 'POST', body: put, contentType: 'application/json', connections: 64 })
    const get = await load({ url: `${url}/v3/kv/range`, method: 'POST', body: JSON.stringify({ key: b64('bench/get') }), contentType: 'application/json', connections: 64 })
    const watch = await watchLatency(
      async (onValue) => await openEtcdWatch(url, 'bench/watch', onValue),
      async v => { await postOk(`${url}/v3/kv/put`, etcdPut('bench/watch', v)) }, { samples: watchSamples })
    return { seq, post, postSame, get, watch }
  } finally {
    await etcd.stop()
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
    killAll()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
