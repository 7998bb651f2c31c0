// The cluster mode of bench/replication.ts (issue 12, "Benchmark"): clients on every node, round-robin, as etcd's
// clients are, and etcd 3.4 with three members in the same run on the same cores. Everything on loopback; every
// process is started by this file and stopped by its pid; the temp folder is removed at the end.
//
//   npm run build && npm run bench:cluster            # about 3 minutes
//   npm run bench:cluster -- --seconds 5 --mixed-seconds 10 --idle-seconds 5
//   npm run bench:cluster -- --profile DIR [--count-git]   # diagnosis only: the cluster alone, see below
//
// The nodes run as users run them: bin/gitconfig (or GITCONFIG_CLI_ENTRY, e.g. dist/src/cli/main.js), so build first.
// Loads come from bench/http-load.ts (autocannon) in its own process, latencies are timed here over node:http.
// What is measured, in this order (gitconfig single node, gitconfig cluster, etcd cluster, etcd single member):
// - sequential writes, one at a time, write i to node i mod 3 (one node for the single-node rows), distinct keys;
//   then the same all on node 1 of the cluster (its peers only fast-forward: no merge waits in node 1's writer);
// - writes/s with 64 connections dealt round-robin over the nodes, distinct keys;
// - mixed: 16 background writers over all nodes while one client writes a key on node 1, one write at a time, and a
//   watch on node 2 times each write's event (from just before the write);
// - after each load: the time until every node's refs/heads/main names the same commit (read from the ref files);
// - idle: CPU of each node and its git processes over --idle-seconds from /proc, and whether main moved;
// - RSS of every node and member, sampled every 250 ms (peak).
// Diagnosis options (each skips etcd and the single node; their numbers are not for the table): --profile DIR runs the
// nodes with --cpu-prof (profiles kept in DIR) and adds each node's main-thread profile over the mixed phase. --count-git puts a counting `git` first on
// the nodes' PATH (bench/replication-load.ts) and reports git processes per command and per merge. Both slow the
// nodes down: their numbers are for diagnosis, not for the table. --merge-timings runs the nodes at log level debug
// and reports, per phase, how long the replicator's jobs took (fetch, merge inside the writer, in all) by outcome.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { startNodeProcess, stopAll, type Launch, type NodeProcess } from '../test/support/cli.js'
import { formatSummary, readProfile, summarize } from './cpu-profile.js'
import {
  etcdInstalled, etcdPut, killAll, load, openEtcdWatch, openGitconfigWatch, percentile, postOk, send, sequentialLatency, startEtcd, watchLatency,
  type LoadResult, type WatchResult
} from './http-support.js'
import { rssMb, selfCpuSeconds, treeCpuSeconds } from './proc-stats.js'
import { connectedPeers, gitCounterPath, mainCommit, parseGitLog, until } from './replication-load.js'
import { spreadKeySuffix } from './store-load.js'

export interface ClusterOptions {
  /** The 64-connection write run. */
  seconds: number
  seqSeconds: number
  warmupSeconds: number
  mixedSeconds: number
  idleSeconds: number
  /** Hang guard for equal heads after a load; a run that does not settle in time reports it and goes on. */
  settleTimeoutSeconds: number
  profileDir: string | null
  countGit: boolean
  /** Nodes log at debug level, and the report adds the replicator's per-head timings ('merged a peer head'). */
  mergeTimings: boolean
}

export function clusterOptions (argv: string[]): ClusterOptions {
  const num = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? Number(argv[i + 1]) : fallback
  }
  const p = argv.indexOf('--profile')
  return {
    seconds: num('seconds', 10),
    seqSeconds: num('seq-seconds', 5),
    warmupSeconds: num('warmup-seconds', 3),
    mixedSeconds: num('mixed-seconds', 20),
    idleSeconds: num('idle-seconds', 10),
    settleTimeoutSeconds: num('settle-timeout-seconds', 60),
    profileDir: p >= 0 ? resolve(argv[p + 1]) : null,
    countGit: argv.includes('--count-git'),
    mergeTimings: argv.includes('--merge-timings')
  }
}

const root = fileURLToPath(new URL('..', import.meta.url))
const value = 'postgres://db1:5432/app1'
const writersMixed = 16
const connections = 64

/** One server process of the run, gitconfig node or etcd member: what the samplers and the report need. */
interface Server { name: string, pid: number | undefined, peakRssMb: number }

interface GitNode extends Server { url: string, repo: string, proc: NodeProcess, multiaddr: string }

/**
 * How users start a node: the `gitconfig` launcher (decision 0462) unless GITCONFIG_CLI_ENTRY names another entry.
 * For a profile, GITCONFIG_NODE_FLAGS replaces the launcher's V8 flags (node refuses --cpu-prof in NODE_OPTIONS),
 * so it repeats them.
 */
function gitconfigLaunch (env: Record<string, string>, nodeFlags: string[]): Launch {
  const entry = resolve(process.env.GITCONFIG_CLI_ENTRY ?? join(root, 'bin', 'gitconfig'))
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/src/cli/main.js is missing: run `npm run build` first')
  if (/\.[cm]?js$/.test(entry)) return { command: process.execPath, args: [...nodeFlags, entry, 'node', 'start'], env }
  const launcherFlags = ['--max-semi-space-size=4', '--heap-growing-percent=50']
  return { command: entry, args: ['node', 'start'], env: nodeFlags.length === 0 ? env : { ...env, GITCONFIG_NODE_FLAGS: [...launcherFlags, ...nodeFlags].join(' ') } }
}

/** Every RSS sample goes to the servers' peaks. */
function sampleRss (servers: Server[]): NodeJS.Timeout {
  return setInterval(() => { for (const s of servers) s.peakRssMb = Math.max(s.peakRssMb, rssMb(s.pid)) }, 250)
}

const load1 = (): string => loadavg()[0].toFixed(1)
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

/** Milliseconds from now until every repository's main names the same commit; null after the hang guard. */
async function untilEqualHeads (repos: string[], timeoutMs: number): Promise<number | null> {
  const t0 = performance.now()
  while (performance.now() - t0 < timeoutMs) {
    const heads = repos.map(mainCommit)
    if (heads[0] !== null && heads.every(h => h === heads[0])) return performance.now() - t0
    await delay(10)
  }
  return null
}

/** A node's counters and gauges from /metrics, by `name{labels}`. */
async function scrape (url: string): Promise<Map<string, number>> {
  const text = (await send(`${url}/metrics`, 'GET')).body.toString('utf8')
  const out = new Map<string, number>()
  for (const m of text.matchAll(/^(gitconfig_\w+(?:\{[^}]*\})?) (\S+)$/gm)) out.set(m[1], Number(m[2]))
  return out
}

/** Sum of the series of `name` whose labels contain every one of `labels` (`key="value"`). */
function metric (m: Map<string, number>, name: string, ...labels: string[]): number {
  let sum = 0
  for (const [k, v] of m) {
    if (k !== name && !k.startsWith(`${name}{`)) continue
    if (labels.every(l => k.includes(l))) sum += v
  }
  return sum
}

interface NodeSnapshot { metrics: Map<string, number>, cpuTree: number, cpuSelf: number, gitLines: number, epochMs: number }

/** What one phase cost each node, from two snapshots, and what it added to main. */
interface PhaseCost {
  name: string
  writesAcked: number[]
  commitsMade: number[]
  headsReceived: number[]
  fetches: number[]
  fetchesFailed: number[]
  fetchBytes: number[]
  merges: Array<Record<string, number>>
  cpuTree: number[]
  cpuSelf: number[]
  git: Array<Map<string, number>> | null
  writeCommits: number
  mergeCommits: number
  seconds: number
  /** Per node, pack files in its repository once heads were equal (each fetch adds one until maintenance repacks). */
  packs: number[]
  /** Per node, the replicator's jobs that ended in the phase (--merge-timings). */
  jobs: MergeJob[][] | null
}

interface MergeJob { outcome: string, fetchMs: number, mergeMs: number, totalMs: number }

/** The replicator's 'merged a peer head' debug lines logged between two epoch times. */
function mergeJobs (stdout: string, fromMs: number, toMs: number): MergeJob[] {
  const out: MergeJob[] = []
  for (const line of stdout.split('\n')) {
    if (!line.includes('merged a peer head')) continue
    try {
      const o = JSON.parse(line) as MergeJob & { time: number }
      if (o.time >= fromMs && o.time <= toMs) out.push({ outcome: o.outcome, fetchMs: o.fetchMs, mergeMs: o.mergeMs, totalMs: o.totalMs })
    } catch { /* not JSON */ }
  }
  return out
}

class Cluster {
  readonly nodes: GitNode[] = []
  private readonly gitLog: string | null

  constructor (private readonly base: string, private readonly opts: ClusterOptions, private readonly launchEnv: Record<string, string>) {
    this.gitLog = opts.countGit ? join(base, 'git-commands.log') : null
  }

  async start (names: string[], p2p: boolean): Promise<void> {
    await mkdir(this.base, { recursive: true })
    const first = await this.startNode(names[0], p2p ? ['--p2p-port', '0'] : [])
    this.nodes.push(first)
    const rest = await Promise.all(names.slice(1).map(async n => await this.startNode(n, ['--p2p-port', '0', '--bootstrap', first.multiaddr])))
    this.nodes.push(...rest)
    if (this.nodes.length > 1) {
      await until('full mesh', async () => (await Promise.all(this.nodes.map(async n => await connectedPeers(n.url)))).every(c => c === this.nodes.length - 1), 120_000)
    }
  }

  private async startNode (name: string, extra: string[]): Promise<GitNode> {
    const repo = join(this.base, name)
    const flags = this.opts.profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${this.opts.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    const proc = await startNodeProcess(['--repo', repo, '--log-level', this.opts.mergeTimings ? 'debug' : 'warn', ...extra], 120_000, gitconfigLaunch(this.launchEnv, flags))
    const multiaddr = /gitconfig p2p listening on (\S+)/.exec(proc.output().stderr)?.[1] ?? ''
    return { name, url: proc.url, repo, proc, multiaddr, pid: proc.child.pid, peakRssMb: 0 }
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => await n.proc.stop()))
  }

  urls (path: string): string[] { return this.nodes.map(n => `${n.url}${path}`) }

  async snapshot (): Promise<NodeSnapshot[]> {
    const lines = this.gitLog === null || !existsSync(this.gitLog) ? [] : parseGitLog(await readFile(this.gitLog, 'utf8'))
    return await Promise.all(this.nodes.map(async n => ({
      metrics: await scrape(n.url), cpuTree: treeCpuSeconds(n.pid), cpuSelf: selfCpuSeconds(n.pid), gitLines: lines.length, epochMs: Date.now()
    })))
  }

  /** Commits on node 1's main: write commits and merge commits. */
  commitCounts (): { writes: number, merges: number } {
    const count = (...args: string[]): number => Number(execFileSync('git', ['-C', this.nodes[0].repo, 'rev-list', '--count', ...args, 'main'], { encoding: 'utf8' }).trim())
    return { writes: count('--no-merges'), merges: count('--merges') }
  }

  async settle (): Promise<number | null> {
    return await untilEqualHeads(this.nodes.map(n => n.repo), this.opts.settleTimeoutSeconds * 1000)
  }

  async cost (name: string, before: NodeSnapshot[], after: NodeSnapshot[], commitsBefore: { writes: number, merges: number }, seconds: number): Promise<PhaseCost> {
    const commitsAfter = this.commitCounts()
    const d = (f: (s: NodeSnapshot) => number): number[] => after.map((a, i) => f(a) - f(before[i]))
    const m = (name: string, ...labels: string[]): number[] => d(s => metric(s.metrics, name, ...labels))
    let git: Array<Map<string, number>> | null = null
    if (this.gitLog !== null && existsSync(this.gitLog)) {
      const lines = parseGitLog(await readFile(this.gitLog, 'utf8')).slice(before[0].gitLines, after[0].gitLines)
      git = this.nodes.map(n => {
        const counts = new Map<string, number>()
        for (const l of lines) if (l.parentPid === n.pid) counts.set(l.command, (counts.get(l.command) ?? 0) + 1)
        return counts
      })
    }
    const outcomes = ['contained', 'fast-forward', 'merged']
    return {
      name,
      writesAcked: m('gitconfig_http_requests_total', 'method="POST"', 'status="200"'),
      commitsMade: m('gitconfig_commits_total'),
      headsReceived: m('gitconfig_replication_heads_received_total'),
      fetches: m('gitconfig_replication_fetches_total', 'result="ok"'),
      fetchesFailed: m('gitconfig_replication_fetches_total', 'result="failed"'),
      fetchBytes: m('gitconfig_replication_fetch_bytes_total'),
      merges: after.map((a, i) => Object.fromEntries(outcomes.map(o => [o, metric(a.metrics, 'gitconfig_replication_merges_total', `outcome="${o}"`) - metric(before[i].metrics, 'gitconfig_replication_merges_total', `outcome="${o}"`)]))),
      cpuTree: d(s => s.cpuTree),
      cpuSelf: d(s => s.cpuSelf),
      git,
      writeCommits: commitsAfter.writes - commitsBefore.writes,
      mergeCommits: commitsAfter.merges - commitsBefore.merges,
      seconds,
      packs: await Promise.all(this.nodes.map(async n => (await readdir(join(n.repo, 'objects', 'pack'))).filter(f => f.endsWith('.pack')).length)),
      jobs: this.opts.mergeTimings ? this.nodes.map((n, i) => mergeJobs(n.proc.output().stdout, before[i].epochMs, after[i].epochMs)) : null
    }
  }
}

interface Results {
  seq?: LoadResult
  /** Sequential writes all on node 1 of the cluster. */
  seqOne?: LoadResult
  post?: LoadResult
  watch?: WatchResult
  /** Writes/s of the mixed phase's background writers. */
  mixedRps?: number
  settlePostMs?: number | null
  settleMixedMs?: number | null
  /** Per server: CPU share of one core while idle (process and its children). */
  idleCpu?: number[]
  /** Per server: the process alone. */
  idleCpuSelf?: number[]
  idleCommits?: number
  rssPeakMb?: number[]
  rssReadyMb?: number[]
  costs?: PhaseCost[]
  loads: string[]
}

/** The same build's node alone (no p2p): sequential writes only, the baseline of the cluster's. */
async function benchSingleNode (base: string, opts: ClusterOptions): Promise<LoadResult & { cpuMsPerWrite: number }> {
  const single = new Cluster(join(base, 'single'), opts, {})
  try {
    await single.start(['solo'], false)
    const url = single.nodes[0].url
    await load({ url: `${url}/keys/bench/warm`, urls: [url], method: 'POST', body: value, connections, distinct: 'path' }, opts.warmupSeconds)
    const cpuBefore = treeCpuSeconds(single.nodes[0].pid)
    let writes = 0
    const seq = await sequentialLatency(async i => { writes = i + 1; await postOk(`${url}/keys/bench/seq/${spreadKeySuffix(i)}`, value) }, opts.seqSeconds)
    return { ...seq, cpuMsPerWrite: 1000 * (treeCpuSeconds(single.nodes[0].pid) - cpuBefore) / writes }
  } finally {
    await single.stop()
  }
}

async function benchGitconfigCluster (base: string, opts: ClusterOptions, log: (s: string) => void): Promise<Results> {
  const env: Record<string, string> = {}
  if (opts.countGit) env.PATH = `${await gitCounterPath(join(base, 'git-counter'), join(base, 'git-commands.log'))}:${process.env.PATH ?? ''}`
  const cluster = new Cluster(base, opts, env)
  const r: Results = { loads: [], costs: [] }
  const sampler = sampleRss(cluster.nodes)
  let mixedWindow: { fromUs: number, toUs: number } | null = null
  try {
    await cluster.start(['n1', 'n2', 'n3'], true)
    r.rssReadyMb = cluster.nodes.map(n => rssMb(n.pid))
    const [n1, n2] = cluster.nodes
    log(`gitconfig cluster up (pids ${cluster.nodes.map(n => n.pid).join(', ')}), load ${load1()}`)
    await load({ url: '', urls: cluster.urls('/keys/bench/warm'), method: 'POST', body: value, connections, distinct: 'path' }, opts.warmupSeconds)
    await cluster.settle()

    const measured = async (name: string, run: () => Promise<void>): Promise<number | null> => {
      const before = await cluster.snapshot()
      const commitsBefore = cluster.commitCounts()
      const t0 = performance.now()
      await run()
      const settleMs = await cluster.settle()
      const after = await cluster.snapshot()
      r.costs?.push(await cluster.cost(name, before, after, commitsBefore, (performance.now() - t0) / 1000))
      r.loads.push(`${name} ${load1()}`)
      log(`  ${name}: done, equal heads ${settleMs === null ? 'not reached' : `${(settleMs / 1000).toFixed(2)} s`} after the writes stopped, load ${load1()}`)
      return settleMs
    }

    await measured('sequential', async () => {
      r.seq = await sequentialLatency(async i => { await postOk(`${cluster.nodes[i % 3].url}/keys/bench/seq/${spreadKeySuffix(i)}`, value) }, opts.seqSeconds)
    })
    // The same on node 1 alone: the others only fast-forward, so no merge ever waits in node 1's writer. Between
    // this row and the single node's lies serving packs and gossip; between it and the round-robin row, the merges.
    await measured('sequential, node 1 only', async () => {
      r.seqOne = await sequentialLatency(async i => { await postOk(`${n1.url}/keys/bench/seq1/${spreadKeySuffix(i)}`, value) }, opts.seqSeconds)
    })
    r.settlePostMs = await measured('64 writers', async () => {
      r.post = await load({ url: '', urls: cluster.urls('/keys/bench/post'), method: 'POST', body: value, connections, distinct: 'path' }, opts.seconds)
    })
    r.settleMixedMs = await measured('mixed', async () => {
      const fromUs = nowUs()
      const background = load({ url: '', urls: cluster.urls('/keys/bench/bg'), method: 'POST', body: value, connections: writersMixed, distinct: 'path' }, opts.mixedSeconds + 2)
      await delay(1000)
      r.watch = await watchLatency(async onValue => await openGitconfigWatch(n2.url, '/bench/watch', onValue),
        async v => { await postOk(`${n1.url}/keys/bench/watch`, v) }, { samples: 100_000, seconds: opts.mixedSeconds })
      r.mixedRps = (await background).rps
      mixedWindow = { fromUs, toUs: nowUs() }
    })

    const cpuBefore = cluster.nodes.map(n => [treeCpuSeconds(n.pid), selfCpuSeconds(n.pid)])
    const headsBefore = cluster.commitCounts()
    await delay(opts.idleSeconds * 1000)
    r.idleCpu = cluster.nodes.map((n, i) => (treeCpuSeconds(n.pid) - cpuBefore[i][0]) / opts.idleSeconds)
    r.idleCpuSelf = cluster.nodes.map((n, i) => (selfCpuSeconds(n.pid) - cpuBefore[i][1]) / opts.idleSeconds)
    const headsAfter = cluster.commitCounts()
    r.idleCommits = headsAfter.writes + headsAfter.merges - headsBefore.writes - headsBefore.merges
    r.loads.push(`idle ${load1()}`)
  } finally {
    clearInterval(sampler)
    r.rssPeakMb = cluster.nodes.map(n => n.peakRssMb)
    await cluster.stop()
  }
  if (opts.profileDir !== null && mixedWindow !== null) await reportProfiles(opts.profileDir, cluster.nodes, mixedWindow, log)
  return r
}

async function reportProfiles (dir: string, nodes: GitNode[], window: { fromUs: number, toUs: number }, log: (s: string) => void): Promise<void> {
  const files = await readdir(dir)
  for (const n of nodes) {
    const file = files.find(f => f === `${n.name}.cpuprofile`)
    if (file === undefined) { log(`${n.name}: no profile in ${dir}`); continue }
    log(`\nCPU profile of ${n.name} (${join(dir, file)}), mixed phase only:`)
    for (const line of formatSummary(summarize(await readProfile(join(dir, file)), window), 15)) log(line)
  }
}

async function benchEtcdCluster (base: string, opts: ClusterOptions, log: (s: string) => void): Promise<Results> {
  const etcd = await startEtcd(base, 3)
  const members: Server[] = etcd.children.map((c, i) => ({ name: `m${i + 1}`, pid: c.pid, peakRssMb: 0 }))
  const sampler = sampleRss(members)
  const r: Results = { loads: [] }
  const puts = etcd.urls.map(u => `${u}/v3/kv/put`)
  try {
    r.rssReadyMb = members.map(m => rssMb(m.pid))
    log(`etcd cluster up (pids ${members.map(m => m.pid).join(', ')}), load ${load1()}`)
    await load({ url: '', urls: puts, method: 'POST', body: etcdPut('bench/warm', value), contentType: 'application/json', connections, distinct: 'etcd' }, opts.warmupSeconds)
    r.seq = await sequentialLatency(async i => { await postOk(puts[i % 3], etcdPut(`bench/seq/${spreadKeySuffix(i)}`, value)) }, opts.seqSeconds)
    r.loads.push(`sequential ${load1()}`)
    r.post = await load({ url: '', urls: puts, method: 'POST', body: etcdPut('bench/post', value), contentType: 'application/json', connections, distinct: 'etcd' }, opts.seconds)
    r.loads.push(`64 writers ${load1()}`)
    const background = load({ url: '', urls: puts, method: 'POST', body: etcdPut('bench/bg', value), contentType: 'application/json', connections: writersMixed, distinct: 'etcd' }, opts.mixedSeconds + 2)
    await delay(1000)
    r.watch = await watchLatency(async onValue => await openEtcdWatch(etcd.urls[1], 'bench/watch', onValue),
      async v => { await postOk(puts[0], etcdPut('bench/watch', v)) }, { samples: 100_000, seconds: opts.mixedSeconds })
    r.mixedRps = (await background).rps
    r.loads.push(`mixed ${load1()}`)
    const cpuBefore = members.map(m => [treeCpuSeconds(m.pid), selfCpuSeconds(m.pid)])
    await delay(opts.idleSeconds * 1000)
    r.idleCpu = members.map((m, i) => (treeCpuSeconds(m.pid) - cpuBefore[i][0]) / opts.idleSeconds)
    r.idleCpuSelf = members.map((m, i) => (selfCpuSeconds(m.pid) - cpuBefore[i][1]) / opts.idleSeconds)
    r.loads.push(`idle ${load1()}`)
  } finally {
    clearInterval(sampler)
    r.rssPeakMb = members.map(m => m.peakRssMb)
    await etcd.stop()
  }
  return r
}

async function benchEtcdSingle (base: string, opts: ClusterOptions): Promise<LoadResult> {
  const etcd = await startEtcd(join(base, 'single'), 1)
  const put = `${etcd.urls[0]}/v3/kv/put`
  try {
    await load({ url: put, method: 'POST', body: etcdPut('bench/warm', value), contentType: 'application/json', connections, distinct: 'etcd' }, opts.warmupSeconds)
    return await sequentialLatency(async i => { await postOk(put, etcdPut(`bench/seq/${spreadKeySuffix(i)}`, value)) }, opts.seqSeconds)
  } finally {
    await etcd.stop()
  }
}

const fmt = (n: number | undefined | null, digits = 0): string => n === undefined || n === null || Number.isNaN(n)
  ? '-'
  : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const list = (xs: number[] | undefined, f: (x: number) => string): string => xs === undefined ? '-' : xs.map(f).join(', ')
const verdict = (ok: boolean | undefined): string => ok === undefined ? '' : ok ? 'met' : 'MISSED'

function table (rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => (r[c] ?? '').length)))
  const line = (r: string[]): string => r.map((cell, c) => cell.padEnd(widths[c])).join(' | ').trimEnd()
  return [line(rows[0]), widths.map(w => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)]
}

function report (g: Results, single: LoadResult | undefined, e: Results | null, eSingle: LoadResult | undefined, opts: ClusterOptions): string[] {
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => a === undefined || b === undefined || b === 0 ? undefined : a / b
  const x = (r: number | undefined): string => r === undefined ? '-' : `${r.toFixed(2)}x`
  const postRatio = ratio(g.post?.rps, e?.post?.rps)
  const seqRatio = ratio(g.seq?.p50Ms, single?.p50Ms)
  const settle = (ms: number | null | undefined): string => ms === undefined ? '-' : ms === null ? `> ${opts.settleTimeoutSeconds} s` : `${(ms / 1000).toFixed(2)} s`
  const settleOk = (ms: number | null | undefined): boolean | undefined => ms === undefined ? undefined : ms !== null && ms <= 2000
  const pct = (v: number): string => `${(100 * v).toFixed(1)}%`
  const rows = [
    ['measurement', 'gitconfig', 'etcd 3.4', 'ratio', 'goal', ''],
    [`writes/s, ${connections} clients round-robin over 3 nodes`, fmt(g.post?.rps), fmt(e?.post?.rps), `${x(postRatio)} etcd`, '>= 1x etcd', verdict(postRatio === undefined ? undefined : postRatio >= 1)],
    ['  per node', list(g.post?.perUrlRps, v => fmt(v)), list(e?.post?.perUrlRps, v => fmt(v)), '', '', ''],
    ['sequential write p50, round-robin over 3 nodes (ms)', fmt(g.seq?.p50Ms, 2), fmt(e?.seq?.p50Ms, 2), `${x(ratio(g.seq?.p50Ms, e?.seq?.p50Ms))} etcd`, '', ''],
    ['sequential write p50, all on node 1 of the cluster (ms)', fmt(g.seqOne?.p50Ms, 2), '', '', '', ''],
    ['sequential write p50, single node (ms)', fmt(single?.p50Ms, 2), fmt(eSingle?.p50Ms, 2), '', '', ''],
    ['  cluster / single node', x(seqRatio), x(ratio(e?.seq?.p50Ms, eSingle?.p50Ms)), '', '<= 1.5x', verdict(seqRatio === undefined ? undefined : seqRatio <= 1.5)],
    ['  sequential p99: cluster, single (ms)', `${fmt(g.seq?.p99Ms, 1)}, ${fmt(single?.p99Ms, 1)}`, `${fmt(e?.seq?.p99Ms, 1)}, ${fmt(eSingle?.p99Ms, 1)}`, '', '', ''],
    [`watch on node 2, writes on node 1, ${writersMixed} writers on all nodes: p50 (ms)`, fmt(g.watch?.p50Ms, 1), fmt(e?.watch?.p50Ms, 1), `${x(ratio(g.watch?.p50Ms, e?.watch?.p50Ms))} etcd`, '<= 100 ms', verdict(g.watch === undefined ? undefined : g.watch.p50Ms <= 100)],
    ['  p99 (ms)', fmt(g.watch?.p99Ms, 1), fmt(e?.watch?.p99Ms, 1), `${x(ratio(g.watch?.p99Ms, e?.watch?.p99Ms))} etcd`, '<= 500 ms', verdict(g.watch === undefined ? undefined : g.watch.p99Ms <= 500)],
    ['  samples; ack p50 of those writes (ms); background writes/s', `${g.watch?.samples ?? '-'}; ${fmt(g.watch?.ackP50Ms, 1)}; ${fmt(g.mixedRps)}`, `${e?.watch?.samples ?? '-'}; ${fmt(e?.watch?.ackP50Ms, 1)}; ${fmt(e?.mixedRps)}`, '', '', ''],
    [`equal heads after the ${connections}-writer run stops`, settle(g.settlePostMs), '', '', '<= 2 s', verdict(settleOk(g.settlePostMs))],
    ['equal heads after the mixed run stops', settle(g.settleMixedMs), '', '', '<= 2 s', verdict(settleOk(g.settleMixedMs))],
    [`idle CPU per node over ${opts.idleSeconds} s, node + its git (% of a core)`, list(g.idleCpu, pct), list(e?.idleCpu, pct), '', '< 2%', verdict(g.idleCpu === undefined ? undefined : g.idleCpu.every(v => v < 0.02))],
    ['  node process alone', list(g.idleCpuSelf, pct), list(e?.idleCpuSelf, pct), '', '', ''],
    ['  commits on main while idle', fmt(g.idleCommits), '', '', '0', verdict(g.idleCommits === undefined ? undefined : g.idleCommits === 0)],
    ['RSS per node, peak over the run (MB)', list(g.rssPeakMb, v => fmt(v)), list(e?.rssPeakMb, v => fmt(v)), '', '<= 200 MB', verdict(g.rssPeakMb === undefined ? undefined : g.rssPeakMb.every(v => v <= 200))],
    ['  at ready (MB)', list(g.rssReadyMb, v => fmt(v)), list(e?.rssReadyMb, v => fmt(v)), '', '', '']
  ]
  return table(rows)
}

function costReport (costs: PhaseCost[]): string[] {
  const out: string[] = []
  for (const c of costs) {
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    const writes = sum(c.writesAcked)
    const received = 2 * c.writeCommits
    const fetches = sum(c.fetches)
    const mergeJobs = c.merges.map(m => m.contained + m['fast-forward'] + m.merged)
    out.push(`${c.name} (${c.seconds.toFixed(1)} s, load to equal heads): ${fmt(writes)} writes acked in ${fmt(c.writeCommits)} write commits ` +
      `(${fmt(writes / c.writeCommits, 1)} keys each), ${fmt(c.mergeCommits)} merge commits on main (${fmt(c.mergeCommits / c.writeCommits, 2)} per write commit); ` +
      `${fmt(fetches / received, 2)} fetches and ${fmt(sum(mergeJobs) / received, 2)} merge jobs per received write commit, ` +
      `${fmt(sum(c.fetchBytes) / Math.max(fetches, 1) / 1024, 1)} KiB per pack; ${fmt(1000 * sum(c.cpuTree) / writes)} ms of CPU per write (all nodes and their git)`)
    const rows = [['node', 'writes', 'commits made', 'heads in', 'fetches ok/failed', 'pack KiB', 'packs after', 'merges contained/ff/merged', 'CPU s node+git (node)', 'git processes']]
    c.writesAcked.forEach((_, i) => {
      const git = c.git?.[i]
      const gitTotal = git === undefined ? 0 : sum([...git.values()])
      rows.push([
        `n${i + 1}`, fmt(c.writesAcked[i]), fmt(c.commitsMade[i]), fmt(c.headsReceived[i]), `${fmt(c.fetches[i])}/${fmt(c.fetchesFailed[i])}`,
        fmt(c.fetchBytes[i] / 1024), fmt(c.packs[i]), `${fmt(c.merges[i].contained)}/${fmt(c.merges[i]['fast-forward'])}/${fmt(c.merges[i].merged)}`,
        `${fmt(c.cpuTree[i], 1)} (${fmt(c.cpuSelf[i], 1)})`,
        git === undefined ? '-' : `${fmt(gitTotal)} (${fmt(gitTotal / Math.max(mergeJobs[i], 1), 1)}/merge job): ` + [...git].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
      ])
    })
    out.push(...table(rows).map(l => `  ${l}`))
    if (c.jobs !== null) out.push(...jobTimings(c.jobs).map(l => `  ${l}`))
  }
  return out
}

/** p50 / p90 / max of the replicator's job phases, all nodes together, by outcome. */
function jobTimings (jobs: MergeJob[][]): string[] {
  const all = jobs.flat()
  const stats = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length === 0 ? '-' : `${fmt(percentile(s, 0.5))} / ${fmt(percentile(s, 0.9))} / ${fmt(s[s.length - 1])}`
  }
  const rows = [['replicator jobs (ms, p50 / p90 / max)', 'jobs', 'fetch (when fetched)', 'merge in the writer', 'in all']]
  for (const outcome of ['contained', 'fast-forward', 'merged']) {
    const js = all.filter(j => j.outcome === outcome)
    if (js.length === 0) continue
    const fetched = js.filter(j => j.fetchMs > 0)
    rows.push([outcome, `${js.length} (${fetched.length} fetched)`, stats(fetched.map(j => j.fetchMs)), stats(js.map(j => j.mergeMs)), stats(js.map(j => j.totalMs))])
  }
  return table(rows)
}

export async function benchCluster (opts: ClusterOptions): Promise<void> {
  const log = (s: string): void => { console.log(s) }
  const etcdVersion = etcdInstalled() ? /etcd Version: (\S+)/.exec(execFileSync('etcd', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?' : null
  log(`bench/replication --mode cluster: ${cpus().length} cores, load average ${loadavg().map(l => l.toFixed(2)).join(' ')} at start; ` +
    `nodes run by ${process.env.GITCONFIG_CLI_ENTRY ?? 'bin/gitconfig'}; etcd ${etcdVersion ?? 'not installed (apt-get install etcd-server): skipped'}`)
  if (opts.profileDir !== null) await mkdir(opts.profileDir, { recursive: true })
  const base = await mkdtemp(join(tmpdir(), 'gitconfig-bench-cluster-'))
  const startedMs = performance.now()
  try {
    let single: (LoadResult & { cpuMsPerWrite: number }) | undefined
    const diagnosis = opts.profileDir !== null || opts.countGit || opts.mergeTimings
    if (diagnosis) log('diagnosis run: etcd and the single node skipped; the nodes are slowed by what is recorded')
    if (!diagnosis) {
      single = await benchSingleNode(base, opts)
      log(`gitconfig single node: sequential p50 ${fmt(single.p50Ms, 2)} ms, ${fmt(single.cpuMsPerWrite, 1)} ms of CPU per write (node and its git), load ${load1()}`)
    }
    const g = await benchGitconfigCluster(join(base, 'gitconfig'), opts, log)
    let e: Results | null = null
    let eSingle: LoadResult | undefined
    if (etcdVersion !== null && !diagnosis) {
      e = await benchEtcdCluster(join(base, 'etcd'), opts, log)
      eSingle = await benchEtcdSingle(join(base, 'etcd'), opts)
    }
    log('')
    for (const l of report(g, single, e, eSingle, opts)) log(l)
    log('')
    log(`load average (1 min) after each phase: gitconfig ${g.loads.join(', ')}; etcd ${e?.loads.join(', ') ?? '-'}; ` +
      `${(loadavg()[0]).toFixed(2)} at the end; ${((performance.now() - startedMs) / 1000).toFixed(0)} s in all`)
    log('')
    log('Where the cluster\'s work went, per phase (each node\'s /metrics and /proc before the load and once heads were equal):')
    for (const l of costReport(g.costs ?? [])) log(l)
  } finally {
    killAll()
    stopAll()
    await rm(base, { recursive: true, force: true })
  }
}
