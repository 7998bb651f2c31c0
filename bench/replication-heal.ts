// The partition-heal phase of bench/replication.ts on its own, repeatable from a saved starting state, with the
// details needed to see where the time goes: each node's `merged a peer head` debug lines (fetch and merge
// durations), the peak RSS per node, and optionally every git process the nodes start (--count-git).
//
// Run: node --import tsx bench/replication-heal.ts [--keys 10000] [--runs 3] [--fixture DIR] [--count-git] [--flat]
// The first run with a new --fixture folder builds the starting state there (nodes 1 and 2 connected and holding
// `keys` keys under /side-a, node 3 alone holding `keys` keys under /side-b) and keeps it; later runs copy it.
// Each run starts nodes 1 and 2, waits until they are connected, starts node 3 with node 1 as its bootstrap peer,
// and times from node 3 listening until the three main trees are equal (as bench/replication.ts does).
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { startNodeProcess, stopAll, type NodeProcess } from '../test/support/cli.js'
import { cpuSeconds, rssMb } from './proc-stats.js'
import { connectedPeers, gitCounterPath, mainTree, parseGitLog, until, writeMany } from './replication-load.js'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const keys = Number(arg('keys') ?? 10_000)
/** --flat: the keys in one directory instead of 100 (use a separate --fixture for each shape). */
const flatKeys = process.argv.includes('--flat')
const runs = Number(arg('runs') ?? 3)
const countGit = process.argv.includes('--count-git')
const writeConcurrencyMax = 64

const scratch = await mkdtemp(join(tmpdir(), 'gitconfig-bench-heal-'))
const fixture = arg('fixture') ?? join(scratch, 'fixture')
const live: NodeProcess[] = []

interface Started { proc: NodeProcess, url: string, multiaddr: string, repo: string }

async function start (repo: string, extra: string[], level = 'warn'): Promise<Started> {
  const proc = await startNodeProcess(['--repo', repo, '--log-level', level, '--p2p-port', '0', ...extra], 120_000)
  live.push(proc)
  const multiaddr = /gitconfig p2p listening on (\S+)/.exec(proc.output().stderr)?.[1] ?? ''
  return { proc, url: proc.url, multiaddr, repo }
}

const rssOf = (proc: NodeProcess): number => rssMb(proc.child.pid)
const cpuOf = (proc: NodeProcess): number => cpuSeconds(proc.child.pid)

async function stopAllNodes (): Promise<void> {
  await Promise.allSettled(live.splice(0).map(async p => await p.stop()))
}

async function buildFixture (): Promise<void> {
  console.log(`building the fixture in ${fixture} (${keys} keys per side)`)
  await mkdir(fixture, { recursive: true })
  const n1 = await start(join(fixture, 'dc1'), [])
  const n2 = await start(join(fixture, 'dc2'), ['--bootstrap', n1.multiaddr])
  const n3 = await start(join(fixture, 'dc3'), [])
  await until('nodes 1 and 2 connected', async () => (await connectedPeers(n1.url)) === 1)
  await Promise.all([writeMany(n1.url, '/side-a', keys, { concurrency: writeConcurrencyMax, flat: flatKeys }), writeMany(n3.url, '/side-b', keys, { concurrency: writeConcurrencyMax, flat: flatKeys })])
  await until('node 2 caught up with node 1', () => mainTree(n1.repo) === mainTree(n2.repo))
  await stopAllNodes()
  await writeFile(join(fixture, 'ready'), String(keys))
}

interface MergeLine { node: string, outcome: string, changedKeys: number, fetchMs: number, mergeMs: number, totalMs: number, time: number }

function mergeLines (node: string, proc: NodeProcess): MergeLine[] {
  const out: MergeLine[] = []
  for (const line of proc.output().stdout.split('\n')) {
    if (!line.includes('merged a peer head')) continue
    try {
      const o = JSON.parse(line) as MergeLine
      out.push({ node, outcome: o.outcome, changedKeys: o.changedKeys, fetchMs: o.fetchMs, mergeMs: o.mergeMs, totalMs: o.totalMs, time: o.time })
    } catch { /* not JSON */ }
  }
  return out
}

try {
  if (!existsSync(join(fixture, 'ready'))) await buildFixture()
  for (let run = 1; run <= runs; run++) {
    const dir = join(scratch, `run${run}`)
    await cp(fixture, dir, { recursive: true })
    const gitLog = join(dir, 'git-commands.log')
    const savedPath = process.env.PATH
    if (countGit) process.env.PATH = `${await gitCounterPath(join(scratch, 'git-counter'), gitLog)}:${savedPath ?? ''}`
    const n1 = await start(join(dir, 'dc1'), [], 'debug')
    const n2 = await start(join(dir, 'dc2'), ['--bootstrap', n1.multiaddr], 'debug')
    await until('nodes 1 and 2 connected', async () => (await connectedPeers(n1.url)) === 1)
    if (countGit) await rm(gitLog, { force: true })
    const peak = [0, 0, 0]
    const cpuBefore = [cpuOf(n1.proc), cpuOf(n2.proc)]
    const n3 = await start(join(dir, 'dc3'), ['--bootstrap', n1.multiaddr], 'debug')
    const healedAt = performance.now()
    const healedAtEpochMs = Date.now()
    const procs = [n1.proc, n2.proc, n3.proc]
    cpuBefore.push(cpuOf(n3.proc))
    const sampler = setInterval(() => { procs.forEach((p, i) => { peak[i] = Math.max(peak[i], rssOf(p)) }) }, 100)
    await until('convergence', () => { const t = [n1, n2, n3].map(n => mainTree(n.repo)); return t.every(x => x === t[0]) })
    const convergeMs = performance.now() - healedAt
    const cpu = procs.map((p, i) => cpuOf(p) - cpuBefore[i])
    clearInterval(sampler)
    process.env.PATH = savedPath
    // The nodes' last log lines may still be in their pipes.
    await delay(500)
    const lines = [...mergeLines('dc1', n1.proc), ...mergeLines('dc2', n2.proc), ...mergeLines('dc3', n3.proc)].sort((a, b) => a.time - b.time)
    console.log(`run ${run}: converged in ${(convergeMs / 1000).toFixed(2)} s; peak RSS ${peak.map(v => v.toFixed(0)).join(', ')} MB; ` +
      `CPU while healing (node + its git processes) ${cpu.map(v => v.toFixed(1)).join(', ')} s; load average ${loadavg()[0].toFixed(1)}`)
    for (const l of lines) {
      console.log(`  ${l.node} ${l.outcome} keys=${l.changedKeys}: started at +${l.time - l.totalMs - healedAtEpochMs} ms, fetch ${l.fetchMs} ms, merge ${l.mergeMs} ms, done at +${l.time - healedAtEpochMs} ms`)
    }
    if (countGit && existsSync(gitLog)) {
      const counts = new Map<string, number>()
      for (const { command: c } of parseGitLog(await readFile(gitLog, 'utf8'))) counts.set(c, (counts.get(c) ?? 0) + 1)
      console.log(`  git processes: ${[...counts].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`)
    }
    await stopAllNodes()
    await rm(dir, { recursive: true, force: true })
  }
} finally {
  await stopAllNodes()
  stopAll()
  await rm(scratch, { recursive: true, force: true })
}
