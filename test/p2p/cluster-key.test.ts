// The cluster key (a libp2p private-network pre-shared key): nodes holding the same key replicate; a node with
// another key, or none, cannot complete a connection, so it can neither announce heads nor fetch packs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError } from '../../src/errors.js'
import { newClusterKey, readClusterKey } from '../../src/p2p/cluster-key.js'
import type { P2pHost } from '../../src/p2p/host.js'
import { Scratch, head, startHost, waitForHead, waitUntil } from './helpers.js'

const connected = (a: P2pHost, b: P2pHost): boolean => a.peers().some(p => p.peerId === b.peerId && p.connected)

test('cluster key files: generated keys read back, differ, and malformed or missing files are refused by name', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const dir = await scratch.folder()
  const first = newClusterKey()
  assert.match(first, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  assert.notEqual(newClusterKey(), first)
  await writeFile(join(dir, 'good.key'), first.replace(/\n/g, '\r\n'))
  assert.equal(new TextDecoder().decode(await readClusterKey(join(dir, 'good.key'))), first.trimEnd())
  for (const [name, text] of [['short.key', first.slice(0, 60)], ['hex.key', first.replace(/[0-9a-f]{64}/, 'z'.repeat(64))], ['empty.key', '']]) {
    await writeFile(join(dir, name), text)
    await assert.rejects(readClusterKey(join(dir, name)), (err: unknown) =>
      err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT' && err.message.includes(name) && err.message.includes('gitconfig node cluster-key'))
  }
  await assert.rejects(readClusterKey(join(dir, 'absent.key')), (err: unknown) =>
    err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT' && err.message.includes('absent.key'))
})

test('hosts with the same cluster key replicate heads; hosts with another key or none never connect', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const dir = await scratch.folder()
  const keyA = join(dir, 'a.key')
  const keyB = join(dir, 'b.key')
  await writeFile(keyA, newClusterKey())
  await writeFile(keyB, newClusterKey())

  const n1 = await startHost(scratch, { name: 'n1', clusterKeyFile: keyA })
  // Everything n1 ever hears or accepts, from before the others start.
  const heads: string[] = []
  const connects: string[] = []
  n1.addEventListener('head', (e) => { heads.push(e.detail.head.nodeId) })
  n1.addEventListener('peer:connect', (e) => { connects.push(e.detail) })
  const boot = n1.multiaddrs()
  const early = head('n2', 'c')
  const n2 = await startHost(scratch, { name: 'n2', clusterKeyFile: keyA, bootstrap: boot, localHeads: () => [early] })
  const otherKey = await startHost(scratch, { name: 'n3', clusterKeyFile: keyB, bootstrap: boot, localHeads: () => [head('n3', 'd')] })
  const noKey = await startHost(scratch, { name: 'n4', bootstrap: boot, localHeads: () => [head('n4', 'e')] })
  const outsiders = [otherKey, noKey]

  // Same key: connected, and anti-entropy brings n2's head to n1.
  const event = await waitForHead(n1, early.commit, 'anti-entropy')
  assert.equal(event.from, n2.peerId)
  await waitUntil(() => connected(n1, n2) && connected(n2, n1), 'n1 <-> n2 connection')

  // Another key or none: an explicit dial fails.
  for (const outsider of outsiders) {
    await assert.rejects(outsider.connect(n1.peerId), `${outsider.peerId} must not reach n1`)
    assert.equal(connected(outsider, n1), false)
    assert.equal(connected(n1, outsider), false)
  }
  // And each outsider's re-dial loop has tried n1, its bootstrap peer, and been refused at least twice: the chances
  // a connection or a head had to get through. A connection or head from an outsider ends the wait at once.
  const breached = (): boolean => heads.some(id => id === 'n3' || id === 'n4') || connects.some(id => id !== n2.peerId)
  await waitUntil(() => breached() || outsiders.every(o => o.counters().redialFailures >= 2), 'two refused re-dials of n1 by each outsider')
  assert.deepEqual(heads.filter(id => id === 'n3' || id === 'n4'), [])
  assert.deepEqual(connects.filter(id => id !== n2.peerId), [], 'n1 accepted no connection from an outsider')
  assert.ok(n1.peers().every(p => !p.connected || p.peerId === n2.peerId), JSON.stringify(n1.peers()))
})
