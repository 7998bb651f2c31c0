import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { fetchProtocol } from '../../src/p2p/fetch.js'
import { headsProtocol, headsTopic, peersProtocol } from '../../src/p2p/host.js'
import { encodeHeadAnnouncement } from '../../src/p2p/messages.js'
import { raftProtocol } from '../../src/p2p/raft-channel.js'
import { StreamReader, encodeFrame, encodeVarint } from '../../src/p2p/stream-io.js'
import { Scratch, head, startHost, startRawPeer, waitForHead, waitUntil } from './helpers.js'

const encoder = new TextEncoder()

/** Sends raw bytes on a new stream and reports how the host answered: a frame, a clean end, or a reset. */
async function probe (stream: Stream, bytes: Uint8Array): Promise<'answered' | 'ended' | 'reset'> {
  const reader = new StreamReader(stream)
  stream.send(bytes)
  await stream.close().catch(() => {})
  try {
    return (await reader.readFrame(1024 * 1024, AbortSignal.timeout(30_000))) === null ? 'ended' : 'answered'
  } catch {
    return 'reset'
  }
}

test('malformed and oversized gossip and requests are dropped, counted, and the node keeps working', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const goodHead = head('n2', 'd')
  const host = await startHost(scratch, { name: 'victim' })
  const hostId = peerIdFromString(host.peerId)
  const friend = await startHost(scratch, { name: 'friend', bootstrap: host.multiaddrs(), localHeads: () => [goodHead] })
  const bad = await startRawPeer(scratch)
  await bad.dial(multiaddr(host.multiaddrs()[0]))
  await waitUntil(() => host.peers().some(p => p.peerId === bad.peerId.toString()), 'the bad peer to connect')

  await t.test('malformed gossip is dropped, counted and not relayed; a valid announcement after it is delivered and relayed', async () => {
    const garbage = [
      encoder.encode('not json'),
      encoder.encode(JSON.stringify({ nodeId: 'x', commit: 'ZZZ', hlc: { wallMs: 1, counter: 0, node: 'x' } })),
      encoder.encode(JSON.stringify({ ...head('x', '1'), extra: true })),
      encoder.encode(JSON.stringify({ ...head('x', '2'), nodeId: 'a'.repeat(2000) })),
      new Uint8Array([0xff, 0xfe, 0xfd])
    ]
    const valid = head('bad', '7')
    const delivered = waitForHead(host, valid.commit, 'gossip')
    const relayed = waitForHead(friend, valid.commit, 'gossip')
    let done = false
    void delivered.then(() => { done = true })
    // The mesh forms after the connection; until then publishes reach nobody, so repeat the round.
    while (!done) {
      for (const bytes of garbage) await bad.services.pubsub.publish(headsTopic, bytes).catch(() => {})
      await bad.services.pubsub.publish(headsTopic, encodeHeadAnnouncement(valid)).catch(() => {})
      await Promise.race([delivered, new Promise(resolve => setTimeout(resolve, 200))])
    }
    assert.equal((await delivered).from, bad.peerId.toString())
    assert.ok(host.counters().gossipMalformedDropped >= garbage.length, `dropped ${host.counters().gossipMalformedDropped}`)
    // The friend is connected to the victim only (the bad peer speaks none of our protocols, so nobody learns it).
    assert.equal((await relayed).from, bad.peerId.toString(), 'the valid message is relayed with its publisher')
    assert.equal(friend.counters().gossipMalformedDropped, 0, 'the garbage never reached the friend')
  })

  await t.test('a malformed heads request is refused with a reset and counted', async () => {
    const before = host.counters().headsMalformedDropped
    const outcome = await probe(await bad.dialProtocol(hostId, headsProtocol), encodeFrame(encoder.encode('{"heads": 5}')))
    assert.equal(outcome, 'reset')
    assert.equal(host.counters().headsMalformedDropped, before + 1)
  })

  await t.test('an oversized heads request is refused before it is read', async () => {
    // Only the length prefix is sent: the host must refuse on the declared size, not wait for 100 MB.
    const outcome = await probe(await bad.dialProtocol(hostId, headsProtocol), encodeVarint(100 * 1024 * 1024))
    assert.equal(outcome, 'reset')
  })

  await t.test('a malformed peer list is refused and counted, and teaches the node nothing', async () => {
    const known = host.knownPeers().length
    const list = { peers: [{ peerId: '12D3KooWInvalidInvalidInvalidInvalidInvalidInvalid', addrs: ['/ip4/127.0.0.1/tcp/1'] }], more: 1 }
    const outcome = await probe(await bad.dialProtocol(hostId, peersProtocol), encodeFrame(encoder.encode(JSON.stringify(list))))
    assert.equal(outcome, 'reset')
    assert.ok(host.counters().peerListsMalformedDropped >= 1)
    assert.equal(host.knownPeers().length, known)
  })

  await t.test('a malformed fetch request gets an error frame and is counted', async () => {
    const outcome = await probe(await bad.dialProtocol(hostId, fetchProtocol), encodeFrame(encoder.encode('{"want": ["nope"]}')))
    assert.equal(outcome, 'answered')
    assert.equal(host.counters().fetchMalformedDropped, 1)
  })

  await t.test('an oversized raft message is refused and counted', async () => {
    const outcome = await probe(await bad.dialProtocol(hostId, raftProtocol), encodeVarint(64 * 1024 * 1024))
    assert.equal(outcome, 'reset')
    assert.equal(host.counters().raftMalformedDropped, 1)
  })

  await t.test('after all that, the node still exchanges heads with a well-behaved peer', async () => {
    const event = await waitForHead(host, goodHead.commit, 'anti-entropy')
    assert.equal(event.from, friend.peerId)
    assert.ok(host.peers().some(p => p.peerId === friend.peerId))
  })
})
