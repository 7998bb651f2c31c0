// Scenario 2 with real processes on loopback: three nodes joined through node 1's printed multiaddr. A write on any
// node is read on the others; a node killed with SIGKILL and restarted receives the writes made while it was down;
// a partition (SIGSTOP) with writes on both sides heals to equal main trees holding every acknowledged write.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { join } from 'node:path'
import { stopAll } from '../support/cli.js'
import {
  Scratch, assertAcksHeld, mainTree, put, read, restartClusterNode, startClusterNode, waitFor, waitForValue, type Ack, type ClusterNode
} from './replication-cluster.js'

const scratch = new Scratch()
after(async () => {
  stopAll()
  await scratch.remove()
})

/**
 * Resolves once `count` request bodies to `url`'s origin have been written to their sockets, as fetch (undici) reports
 * on its own diagnostics channel: from then on the requests wait in the receiver's kernel buffers.
 */
function bodiesSent (url: string, count: number): Promise<void> {
  const origin = new URL(url).origin
  let sent = 0
  return new Promise(resolve => {
    const onSent = (message: unknown): void => {
      if ((message as { request: { origin: string } }).request.origin !== origin || ++sent < count) return
      unsubscribe('undici:request:bodySent', onSent)
      resolve()
    }
    subscribe('undici:request:bodySent', onSent)
  })
}

async function treesEqual (nodes: readonly ClusterNode[]): Promise<boolean> {
  const trees = nodes.map(n => mainTree(n.repo))
  return trees.every(t => t === trees[0])
}

test('scenario 2 over p2p: three nodes converge through writes, a SIGKILL restart and a partition', async (t) => {
  const base = await scratch.dir()
  const n1 = await startClusterNode(join(base, 'dc1'), ['--p2p-port', '0'])
  assert.equal(n1.multiaddrs.length > 0, true, 'node 1 prints its multiaddr')
  const boot = n1.multiaddrs[0]
  assert.match(boot, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo\w+$/)
  // Node 2 joins node 1's full multiaddr, node 3 its bare address (the README's form): whoever answers there.
  const bareJoinArgs = ['--p2p-port', '0', '--bootstrap', boot.split('/p2p/')[0]]
  const [n2, n3] = await Promise.all([
    startClusterNode(join(base, 'dc2'), ['--p2p-port', '0', '--bootstrap', boot]),
    startClusterNode(join(base, 'dc3'), bareJoinArgs)
  ])
  const nodes = [n1, n2, n3]

  await t.test('/status lists the peers and the p2p multiaddrs', async () => {
    await waitFor('node 1 connected to nodes 2 and 3', async () => {
      const status = await (await fetch(`${n1.url}/status`)).json() as { p2p: { multiaddrs: string[], peers: Array<{ peerId: string, connected: boolean, addrs: string[] }> } }
      assert.deepEqual(status.p2p.multiaddrs, n1.multiaddrs)
      const ids = new Set(status.p2p.peers.filter(p => p.connected).map(p => p.peerId))
      return [n2, n3].every(n => ids.has(n.multiaddrs[0].split('/p2p/')[1]))
    })
    // Node 3 found node 1 at the bare address it was given: node 1 is its bootstrap peer, node 2 a learned one.
    await waitFor('node 3 connected to nodes 1 and 2', async () => {
      const status = await (await fetch(`${n3.url}/status`)).json() as { p2p: { peers: Array<{ peerId: string, connected: boolean, bootstrap: boolean }> } }
      const byId = new Map(status.p2p.peers.filter(p => p.connected).map(p => [p.peerId, p.bootstrap]))
      const [id1, id2] = [n1, n2].map(n => n.multiaddrs[0].split('/p2p/')[1])
      return byId.get(id1) === true && byId.get(id2) === false
    })
  })

  await t.test('a write on any node is read on the others', async () => {
    for (const [i, writer] of nodes.entries()) {
      await put(writer.url, `/global/from${i + 1}`, `value-${i + 1}`)
    }
    for (const reader of nodes) {
      for (let i = 0; i < nodes.length; i++) await waitForValue(reader.url, `/global/from${i + 1}`, `value-${i + 1}`)
    }
    await waitFor('equal main trees', async () => await treesEqual(nodes))
  })

  await t.test('writes made while a node was killed reach it after a restart', async () => {
    assert.deepEqual(await n3.proc.stop('SIGKILL'), { code: null, signal: 'SIGKILL' })
    await put(n1.url, '/down/k1', 'while-down-1')
    await put(n2.url, '/down/k2', 'while-down-2')
    await restartClusterNode(n3, bareJoinArgs)
    await waitForValue(n3.url, '/down/k1', 'while-down-1')
    await waitForValue(n3.url, '/down/k2', 'while-down-2')
    await put(n3.url, '/down/k3', 'after-restart')
    await waitForValue(n1.url, '/down/k3', 'after-restart')
    await waitFor('equal main trees', async () => await treesEqual(nodes))
  })

  await t.test('a partition with writes on both sides heals to equal trees holding every acknowledged write', async () => {
    const acks: Ack[] = []
    n3.proc.child.kill('SIGSTOP')
    try {
      for (let i = 0; i < 10; i++) acks.push(await put(i % 2 === 0 ? n1.url : n2.url, `/part/majority/k${i}`, `m${i}`))
      acks.push(await put(n1.url, '/part/shared', 'from-majority'))
      // Sent while node 3 is stopped: the kernel queues them and node 3 commits them when it runs again, while it
      // also receives the other side's heads. It runs again only once all eleven are in its kernel buffers.
      const queued = bodiesSent(n3.url, 11)
      const isolated = Promise.all([
        ...Array.from({ length: 10 }, async (_, i) => await put(n3.url, `/part/isolated/k${i}`, `i${i}`)),
        put(n3.url, '/part/shared', 'from-isolated')
      ])
      await Promise.race([queued, isolated]) // a write that fails to be sent fails the test here
      n3.proc.child.kill('SIGCONT')
      acks.push(...await isolated)
    } finally {
      n3.proc.child.kill('SIGCONT')
    }
    await waitFor('equal main trees after the partition heals', async () => await treesEqual(nodes))
    for (const n of nodes) await assertAcksHeld(n.url, acks)
    const shared = await Promise.all(nodes.map(async n => (await read(n.url, '/part/shared'))?.value))
    assert.ok(shared.every(v => v === shared[0]), `every node reads the same winner: ${shared.join(', ')}`)
  })

  await Promise.all(nodes.map(async n => await n.proc.stop()))
})
