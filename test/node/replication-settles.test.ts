// Issue 12 with real processes on loopback: nodes that all write at once (the same hot key, keys of their own, TTL
// keys that expire), one of them killed with SIGKILL and restarted in the middle, end on one head and then commit
// nothing. Before canonical merges, three such nodes kept merging each other's merges forever (about 32 commits a
// second each, heads never equal). Also issue 13.6: every acknowledged write's version is in a commit on main.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { stopAll } from '../support/cli.js'
import { Scratch, put, read, restartClusterNode, startClusterNode, waitFor, type Ack, type ClusterNode } from './replication-cluster.js'

const scratch = new Scratch()
after(async () => {
  stopAll()
  await scratch.remove()
})

/** How long the cluster is watched for commits once it has settled: the "idle commits nothing" window. */
const quietWindowMs = 10_000

function headOf (node: ClusterNode): string {
  return execFileSync('git', ['-C', node.repo, 'rev-parse', 'main'], { encoding: 'utf8' }).trim()
}

function commitCount (node: ClusterNode): number {
  return Number(execFileSync('git', ['-C', node.repo, 'rev-list', '--count', 'main'], { encoding: 'utf8' }).trim())
}

/** Every `key version` recorded in a change trailer of a commit reachable from main. */
function versionsOnMain (node: ClusterNode): Set<string> {
  const log = execFileSync('git', ['-C', node.repo, 'log', 'main', '--format=%B'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const out = new Set<string>()
  for (const m of log.matchAll(/^GitConfig-Change: (.*)$/gm)) {
    const t = JSON.parse(m[1]) as { key: string, version: string }
    out.add(`${t.key} ${t.version}`)
  }
  return out
}

function versionText (ack: Ack): string {
  return `${ack.version.wallMs}.${ack.version.counter}@${ack.version.node}`
}

/** A write that may meet a node that is down (killed and restarting): only acknowledged writes count. */
async function tryPut (node: ClusterNode, key: string, value: string, ttlSeconds?: number): Promise<Ack | null> {
  try {
    if (ttlSeconds === undefined) return await put(node.url, key, value)
    const res = await fetch(`${node.url}/keys${key}?ttl=${ttlSeconds}`, { method: 'POST', body: value })
    const body = await res.json() as { version?: Ack['version'] }
    return res.status === 200 && body.version !== undefined ? { key, value, version: body.version } : null
  } catch {
    return null
  }
}

/**
 * Three concurrent writers per node, each writing `rounds` times: the hot key every node writes, a key of its own,
 * and a TTL key (1 s). Node `victim` is killed with SIGKILL after the first half of the rounds and restarted.
 */
async function writeEverywhere (nodes: ClusterNode[], rounds: number, victim: number, restartArgs: string[]): Promise<{ acks: Ack[], ttlKeys: string[] }> {
  const acks: Ack[] = []
  const ttlKeys: string[] = []
  const writer = async (n: number, w: number, from: number, to: number): Promise<void> => {
    for (let r = from; r < to; r++) {
      const node = nodes[n]
      const hot = await tryPut(node, '/hot', `n${n}w${w}r${r}`)
      const own = await tryPut(node, `/own/n${n}/w${w}`, `r${r}`)
      const ttlKey = `/ttl/n${n}/w${w}/r${r}`
      const ttl = await tryPut(node, ttlKey, 'lease', 1)
      for (const a of [hot, own, ttl]) if (a !== null) acks.push(a)
      if (ttl !== null) ttlKeys.push(ttlKey)
    }
  }
  const half = Math.floor(rounds / 2)
  const phase = async (from: number, to: number): Promise<void> => {
    await Promise.all(nodes.flatMap((_, n) => [0, 1, 2].map(async (w) => await writer(n, w, from, to))))
  }
  await phase(0, half)
  await nodes[victim].proc.stop('SIGKILL')
  // The others keep writing while the victim is down and while it comes back.
  await Promise.all([phase(half, rounds), restartClusterNode(nodes[victim], restartArgs)])
  return { acks, ttlKeys }
}

async function settlesAndStaysQuiet (nodes: ClusterNode[], acks: readonly Ack[], ttlKeys: readonly string[]): Promise<void> {
  const t0 = Date.now()
  // Every TTL key has expired on every node (reads hide it from the deadline on) ...
  await waitFor('every TTL key reads as absent everywhere', async () => {
    for (const n of nodes) for (const k of ttlKeys) if (await read(n.url, k) !== null) return false
    return true
  })
  // ... and every expiry is committed: the writer of each key commits it (the restarted victim at start-up).
  await waitFor('every TTL key expired in history on every node', async () => {
    for (const n of nodes) {
      const log = execFileSync('git', ['-C', n.repo, 'log', 'main', '--format=%B'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
      const expired = new Set([...log.matchAll(/^GitConfig-Change: \{"op":"expire","key":"([^"]+)"/gm)].map((m) => m[1]))
      if (!ttlKeys.every((k) => expired.has(k))) return false
    }
    return true
  })
  console.log(`# expiries in after ${Date.now() - t0} ms`)
  const settleStart = Date.now()
  await waitFor('one head on every node', async () => nodes.every((n) => headOf(n) === headOf(nodes[0])))
  console.log(`# one head on ${nodes.length} nodes ${Date.now() - settleStart} ms after the expiries were in (${commitCount(nodes[0])} commits on main)`)
  const head = headOf(nodes[0])
  // An idle cluster commits nothing: the observation window is the assertion itself, not a wait for a condition.
  await delay(quietWindowMs)
  for (const n of nodes) assert.equal(headOf(n), head, `${n.url} committed while the cluster was idle`)

  // Nothing acknowledged is missing from the history on main (issue 13.6), on any node.
  for (const n of nodes) {
    const onMain = versionsOnMain(n)
    const missing = acks.filter((a) => !onMain.has(`${a.key} ${versionText(a)}`))
    assert.deepEqual(missing.map((a) => `${a.key}=${a.value}`), [], `acknowledged writes missing from main's history on ${n.url}`)
  }
  // Merge commits are bounded by the writes (each joins at least one new write commit).
  const merges = Number(execFileSync('git', ['-C', nodes[0].repo, 'rev-list', '--count', '--merges', 'main'], { encoding: 'utf8' }).trim())
  const writes = Number(execFileSync('git', ['-C', nodes[0].repo, 'rev-list', '--count', '--no-merges', 'main'], { encoding: 'utf8' }).trim())
  assert.ok(merges <= writes, `${merges} merge commits for ${writes} write commits on main`)
}

test('three nodes writing at once (hot key, own keys, TTL keys, a SIGKILL restart) settle on one head and go quiet', async () => {
  const base = await scratch.dir()
  const n1 = await startClusterNode(join(base, 'dc1'), ['--p2p-port', '0'])
  const args = ['--p2p-port', '0', '--bootstrap', n1.multiaddrs[0]]
  const others = await Promise.all([startClusterNode(join(base, 'dc2'), args), startClusterNode(join(base, 'dc3'), args)])
  const nodes = [n1, ...others]
  const t0 = Date.now()
  const { acks, ttlKeys } = await writeEverywhere(nodes, 8, 1, args)
  console.log(`# started and wrote in ${Date.now() - t0} ms`)
  await settlesAndStaysQuiet(nodes, acks, ttlKeys)
  await Promise.all(nodes.map(async (n) => await n.proc.stop()))
})

test('five nodes with a shared remote as well settle on one head and go quiet', async () => {
  const base = await scratch.dir()
  const remote = join(base, 'shared.git')
  execFileSync('git', ['init', '--quiet', '--bare', remote])
  const remoteArgs = ['--remote', remote, '--sync-interval', '1']
  const n1 = await startClusterNode(join(base, 'dc1'), ['--p2p-port', '0', ...remoteArgs])
  const args = ['--p2p-port', '0', '--bootstrap', n1.multiaddrs[0], ...remoteArgs]
  const others = await Promise.all([2, 3, 4, 5].map(async (i) => await startClusterNode(join(base, `dc${i}`), args)))
  const nodes = [n1, ...others]
  const { acks, ttlKeys } = await writeEverywhere(nodes, 2, 3, args)
  await settlesAndStaysQuiet(nodes, acks, ttlKeys)
  await Promise.all(nodes.map(async (n) => await n.proc.stop()))
})
