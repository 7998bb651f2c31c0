import { test } from 'node:test'
import assert from 'node:assert/strict'
import { freePort } from '../support/ports.js'
import { Scratch, isConnected, startHost, waitForEvent, waitUntil } from './helpers.js'

function portOf (addr: string): number {
  const m = /\/tcp\/(\d+)\//.exec(addr)
  assert.ok(m !== null, addr)
  return Number(m[1])
}

test('a bootstrap peer that is down at start is dialled again and connected once it comes up', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  // Learn the bootstrap node's identity and port, then take it down.
  const first = await startHost(scratch, { name: 'boot' })
  const bootAddr = first.multiaddrs()[0]
  const bootId = first.peerId
  await first.stop()

  const node = await startHost(scratch, { name: 'node', bootstrap: [bootAddr] })
  await waitUntil(() => node.counters().redialFailures >= 2, 'two failed dials of the absent bootstrap peer')
  assert.equal(node.peers().length, 0)

  const revived = await startHost(scratch, { name: 'boot', port: portOf(bootAddr) })
  assert.equal(revived.peerId, bootId, 'same key file, same PeerId')
  await waitUntil(() => isConnected(node, revived), 'the re-dial loop to connect to the revived bootstrap peer')
})

test('restarted nodes keep their PeerId and their peers reconnect, to bootstrap and to learned peers', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const n1 = await startHost(scratch, { name: 'n1' })
  const boot = n1.multiaddrs()
  const n2 = await startHost(scratch, { name: 'n2', bootstrap: boot })
  let n3 = await startHost(scratch, { name: 'n3', bootstrap: boot })
  await waitUntil(() => isConnected(n2, n3), 'n2 and n3 to find each other')

  await t.test('the bootstrap node restarts: both others reconnect to it', async () => {
    const id = n1.peerId
    const port = portOf(boot[0])
    // Open a Raft-channel stream to n1 first, so the restart leaves n2 holding a dead one.
    const first = waitForEvent(n1, 'message', d => d.from === n2.peerId, 'a raft message before the restart')
    n2.sendMessage(n1.peerId, Uint8Array.of(1))
    await first
    await n1.stop()
    await waitUntil(() => !isConnected(n2, n1) && !isConnected(n3, n1), 'n1 to be seen as gone')
    const again = await startHost(scratch, { name: 'n1', port })
    assert.equal(again.peerId, id)
    await waitUntil(() => isConnected(n2, again) && isConnected(n3, again), 'n2 and n3 to reconnect to n1')
    const after = waitForEvent(again, 'message', d => d.from === n2.peerId, 'a raft message after the restart')
    assert.equal(n2.sendMessage(again.peerId, Uint8Array.of(2)), true)
    assert.deepEqual([...(await after).bytes], [2])
  })

  await t.test('a learned (non-bootstrap) peer restarts: the peer that learned it reconnects', async () => {
    const id = n3.peerId
    const port = portOf(n3.multiaddrs()[0])
    await n3.stop()
    await waitUntil(() => !isConnected(n2, n3), 'n3 to be seen as gone')
    n3 = await startHost(scratch, { name: 'n3', port })
    assert.equal(n3.peerId, id)
    // The restarted n3 has no bootstrap list at all: only n2's re-dial of a learned peer can bring them together.
    await waitUntil(() => isConnected(n2, n3), 'n2 to reconnect to n3')
  })
})

test('a bootstrap address without a PeerId: whoever answers there is joined, again after a restart, and a new identity at the address too', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const boot = await startHost(scratch, { name: 'boot' })
  const port = portOf(boot.multiaddrs()[0])
  const node = await startHost(scratch, { name: 'node', bootstrap: [`/ip4/127.0.0.1/tcp/${port}`] })
  await waitUntil(() => isConnected(node, boot), 'the node to join the peer at the bare address')
  assert.equal(node.peers().find(p => p.peerId === boot.peerId)?.bootstrap, true)

  await boot.stop()
  await waitUntil(() => !isConnected(node, boot), 'the peer to be seen as gone')
  const revived = await startHost(scratch, { name: 'boot', port })
  await waitUntil(() => isConnected(node, revived), 'the node to reconnect to the restarted peer')

  // The address now answers with another identity (the peer's state folder was replaced): the node joins it.
  await revived.stop()
  await waitUntil(() => !isConnected(node, revived), 'the peer to be seen as gone')
  const replaced = await startHost(scratch, { name: 'other', port })
  assert.notEqual(replaced.peerId, boot.peerId)
  await waitUntil(() => isConnected(node, replaced), 'the node to join the new identity at the address')
})

test('a node given its own address among bare bootstrap addresses does not keep dialling itself', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const other = await startHost(scratch, { name: 'other' })
  const port = await freePort()
  // The same list for every node of a cluster: its own address as it listens, and again under another name.
  const node = await startHost(scratch, {
    name: 'node', port, bootstrap: [`/ip4/127.0.0.1/tcp/${port}`, `/dns4/localhost/tcp/${port}`, `/ip4/127.0.0.1/tcp/${portOf(other.multiaddrs()[0])}`]
  })
  await waitUntil(() => isConnected(node, other), 'the node to join the other peer')
  const before = node.counters()
  // Ten more rounds of the re-dial loop, counted by the loop itself: each would have dialled the node's own address
  // again had the first round kept it, so the absence below had ten chances to show, however slow the machine.
  await waitUntil(() => node.counters().redialRounds >= before.redialRounds + 10, 'ten more re-dial rounds')
  const after = node.counters()
  assert.equal(after.redialFailures, 0)
  assert.equal(after.redialAttempts, before.redialAttempts, 'no dial after the first round')
  assert.deepEqual(node.peers().map(p => p.peerId), [other.peerId])
})
