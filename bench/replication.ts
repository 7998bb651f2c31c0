// Replication between three node processes on loopback (2 and 3 bootstrap from 1), through the HTTP API as a user
// sees it. Measures: propagation delay of a write from node 1 to node 3 (acknowledged on 1 -> watch event on 3),
// the write rate on node 1 that node 3 keeps up with, convergence time after healing a partition with N keys
// written on each side, and RSS per node. Prints a table; asserts nothing.
// Run: node --import tsx bench/replication.ts [--keys 10000] [--samples 200] [--flat]
//
// --mode cluster (npm run bench:cluster): clients on every node, round-robin, beside etcd 3.4 with three members in
// the same run; see bench/replication-cluster.ts.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { GitConfigClient } from '../src/client/client.js'
import { startNodeProcess, stopAll, type NodeProcess } from '../test/support/cli.js'
import { rssMb as rssOfPid } from './proc-stats.js'
import { benchCluster, clusterOptions } from './replication-cluster.js'
import { connectedPeers, mainTree, post, until, writeMany } from './replication-load.js'

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const partitionKeys = arg('keys', 10_000)
const samples = arg('samples', 200)
/** --flat: the partition's keys in one directory instead of 100 (every commit then rewrites a tree of thousands of entries). */
const flatKeys = process.argv.includes('--flat')
const rates = [100, 200, 400, 800]
const ratePhaseMs = 4_000
const writeConcurrencyMax = 64

interface BenchNode { name: string, repo: string, proc: NodeProcess, url: string, multiaddr: string }

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Arrival times on node 3 of keys below `prefix`, from one SSE watch. */
function watchArrivals (url: string, prefix: string, signal: AbortSignal): Map<string, number> {
  const arrivals = new Map<string, number>()
  void (async () => {
    try {
      for await (const ev of new GitConfigClient(url).watch(prefix, { recursive: true, signal })) arrivals.set(ev.key, performance.now())
    } catch {
      // aborted at the end of the phase
    }
  })()
  return arrivals
}

/** The original mode: propagation, write rates from node 1, partition heal, RSS. */
async function benchPropagation (): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'gitconfig-bench-repl-'))
  const peakRssMb = new Map<string, number>()
  const nodes: BenchNode[] = []

  async function start (name: string, extra: string[]): Promise<BenchNode> {
    const repo = join(base, name)
    const proc = await startNodeProcess(['--repo', repo, '--log-level', 'warn', '--p2p-port', '0', ...extra], 120_000)
    const multiaddr = /gitconfig p2p listening on (\S+)/.exec(proc.output().stderr)?.[1] ?? ''
    return { name, repo, proc, url: proc.url, multiaddr }
  }

  const rssMb = (n: BenchNode): number => rssOfPid(n.proc.child.pid)

  /** The phase the RSS samples are attributed to, so the peak can be told apart from where it happened. */
  let phase = 'start'
  const phasePeakRssMb = new Map<string, number[]>()
  const rssSampler = setInterval(() => {
    const peaks = phasePeakRssMb.get(phase) ?? [0, 0, 0]
    nodes.forEach((n, i) => {
      const mb = rssMb(n)
      peakRssMb.set(n.name, Math.max(peakRssMb.get(n.name) ?? 0, mb))
      peaks[i] = Math.max(peaks[i], mb)
    })
    phasePeakRssMb.set(phase, peaks)
  }, 250)

  const rows: Array<[string, string, string]> = []
  try {
    const n1 = await start('dc1', [])
    nodes.push(n1)
    nodes.push(...await Promise.all([start('dc2', ['--bootstrap', n1.multiaddr]), start('dc3', ['--bootstrap', n1.multiaddr])]))
    const n3 = nodes[2]
    await until('full mesh', async () => (await connectedPeers(n1.url)) === 2 && (await connectedPeers(n3.url)) === 2, 120_000)
    const rssReadyMb = nodes.map(rssMb)

    // 1. Propagation: one write at a time on node 1, seen by a watch on node 3.
    phase = 'propagation'
    {
      const stop = new AbortController()
      const arrivals = watchArrivals(n3.url, '/prop/', stop.signal)
      await delay(500)
      const delays: number[] = []
      for (let i = 0; i < samples; i++) {
        const key = `/prop/k${i}`
        await post(n1.url, key, `v${i}`)
        const acked = performance.now()
        await until(`propagation of ${key}`, () => arrivals.has(key), 30_000, 1)
        delays.push((arrivals.get(key) ?? acked) - acked)
        await delay(10)
      }
      stop.abort()
      rows.push(['propagation node 1 -> node 3 (ack on 1 -> watch event on 3)', `p50 ${percentile(delays, 0.5).toFixed(1)} ms, p99 ${percentile(delays, 0.99).toFixed(1)} ms (${samples} writes)`, 'p50 <= 100 ms, p99 <= 500 ms'])
    }

    // 2. Sustained write rate on node 1: how far node 3 lags when the writes stop.
    phase = 'write rates'
    for (const rate of rates) {
      const stop = new AbortController()
      const prefix = `/rate${rate}`
      const arrivals = watchArrivals(n3.url, `${prefix}/`, stop.signal)
      await delay(300)
      const started = performance.now()
      const inFlight = new Set<Promise<void>>()
      let sent = 0
      while (performance.now() - started < ratePhaseMs) {
        const due = Math.floor((performance.now() - started) / 1000 * rate)
        while (sent < due && inFlight.size < writeConcurrencyMax) {
          const p = post(n1.url, `${prefix}/k${sent}`, 'x').finally(() => inFlight.delete(p))
          inFlight.add(p)
          sent++
        }
        await delay(2)
      }
      await Promise.all(inFlight)
      const lastAck = performance.now()
      const achieved = sent / ((lastAck - started) / 1000)
      await until(`node 3 catching up at ${rate}/s`, () => arrivals.size >= sent, 120_000, 5)
      const lagMs = Math.max(...arrivals.values()) - lastAck
      stop.abort()
      rows.push([`write rate ${rate}/s offered on node 1`, `${achieved.toFixed(0)}/s done; node 3 ${lagMs.toFixed(0)} ms behind at the end`, 'keeps up: lag < 1 s'])
    }

    // 3. Partition: node 3 restarted alone (no bootstrap, new port: nobody can reach it), N keys written on each side,
    //    then node 3 restarted with its bootstrap peer. Converged = all three main trees equal.
    await n3.proc.stop()
    phase = 'partition writes'
    const isolated = await start('dc3', [])
    nodes[2] = isolated
    const writeStart = performance.now()
    await Promise.all([writeMany(n1.url, '/side-a', partitionKeys, { concurrency: writeConcurrencyMax, flat: flatKeys }), writeMany(isolated.url, '/side-b', partitionKeys, { concurrency: writeConcurrencyMax, flat: flatKeys })])
    const writeSeconds = (performance.now() - writeStart) / 1000
    await isolated.proc.stop()
    phase = 'partition heal'
    const healed = await start('dc3', ['--bootstrap', n1.multiaddr])
    nodes[2] = healed
    const healedAt = performance.now()
    await until('convergence after the partition', () => { const t = nodes.map(n => mainTree(n.repo)); return t.every(x => x === t[0]) }, 300_000, 20)
    const convergeMs = performance.now() - healedAt
    rows.push([`partition heal, ${partitionKeys} divergent keys on each side (${flatKeys ? 'one flat directory' : 'spread over 100 directories'})`, `${(convergeMs / 1000).toFixed(2)} s from node 3's restart to equal trees (writes took ${writeSeconds.toFixed(1)} s)`, '<= 5 s'])
    rows.push(['RSS per node at ready', rssReadyMb.map(v => `${v.toFixed(0)} MB`).join(', '), '<= 200 MB'])
    rows.push(['RSS per node, peak', nodes.map(n => `${(peakRssMb.get(n.name) ?? 0).toFixed(0)} MB`).join(', '), '<= 200 MB'])
    for (const [name, peaks] of phasePeakRssMb) {
      if (name !== 'start') rows.push([`  peak during ${name}`, peaks.map(v => `${v.toFixed(0)} MB`).join(', '), ''])
    }
  } finally {
    clearInterval(rssSampler)
    await Promise.allSettled(nodes.map(async n => await n.proc.stop()))
    stopAll()
    await rm(base, { recursive: true, force: true })
  }

  const width = [Math.max(...rows.map(r => r[0].length)), Math.max(...rows.map(r => r[1].length))]
  console.log(`${'measurement'.padEnd(width[0])} | ${'result'.padEnd(width[1])} | goal`)
  console.log(`${'-'.repeat(width[0])}-|-${'-'.repeat(width[1])}-|-----`)
  for (const r of rows) console.log(`${r[0].padEnd(width[0])} | ${r[1].padEnd(width[1])} | ${r[2]}`)
}

const modeIndex = process.argv.indexOf('--mode')
const mode = modeIndex >= 0 ? process.argv[modeIndex + 1] : 'propagation'
if (mode === 'cluster') await benchCluster(clusterOptions(process.argv))
else if (mode === 'propagation') await benchPropagation()
else throw new Error(`unknown --mode ${mode} (propagation or cluster)`)
