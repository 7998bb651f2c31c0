import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeFetchRequest, decodeHeadAnnouncement, decodeHeads, decodePeerList, encodeFetchRequest, encodeHeadAnnouncement,
  encodeHeads, encodePeerList, isValidFetchRequest, type HeadAnnouncement
} from '../../src/p2p/messages.js'
import { p2pFetchWantMax, p2pHeadAnnouncementBytesMax, p2pHeadsPerExchangeMax } from '../../src/limits.js'

const encoder = new TextEncoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const good: HeadAnnouncement = { nodeId: 'node-1', commit: '0123456789abcdef0123456789abcdef01234567', hlc: { wallMs: 1_700_000_000_000, counter: 3, node: 'node-1' } }

test('head announcements round-trip and every malformed variant is rejected', () => {
  assert.deepEqual(decodeHeadAnnouncement(encodeHeadAnnouncement(good)), good)
  const bad: unknown[] = [
    null, 5, 'x', [],
    { ...good, commit: good.commit.toUpperCase() },
    { ...good, commit: good.commit.slice(1) },
    { ...good, nodeId: '' },
    { ...good, nodeId: 'has space' },
    { ...good, hlc: { ...good.hlc, wallMs: -1 } },
    { ...good, hlc: { ...good.hlc, counter: 1.5 } },
    { ...good, hlc: { wallMs: 1, counter: 0 } },
    { ...good, extra: 1 },
    { nodeId: good.nodeId, commit: good.commit }
  ]
  for (const value of bad) assert.equal(decodeHeadAnnouncement(json(value)), null, JSON.stringify(value))
  assert.equal(decodeHeadAnnouncement(Uint8Array.of(0xc3, 0x28)), null, 'invalid UTF-8')
  assert.equal(decodeHeadAnnouncement(encoder.encode('{')), null, 'invalid JSON')
  const padded = encoder.encode(JSON.stringify(good).replace('{', '{' + ' '.repeat(p2pHeadAnnouncementBytesMax)))
  assert.equal(decodeHeadAnnouncement(padded), null, 'valid JSON over the size limit')
})

test('heads exchanges are bounded in count', () => {
  assert.deepEqual(decodeHeads(encodeHeads([good, good])), [good, good])
  const tooMany = Array.from({ length: p2pHeadsPerExchangeMax + 1 }, () => good)
  assert.equal(decodeHeads(json({ heads: tooMany })), null)
  assert.equal(decodeHeads(encodeHeads(tooMany))?.length, p2pHeadsPerExchangeMax, 'the encoder truncates rather than sending what the peer would refuse')
  assert.equal(decodeHeads(json({ heads: [good], more: [] })), null)
})

test('peer lists validate PeerIds and addresses loosely here, strictly where they are used', () => {
  const peers = [{ peerId: '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', addrs: ['/ip4/127.0.0.1/tcp/4001'] }]
  assert.deepEqual(decodePeerList(encodePeerList(peers)), peers)
  assert.equal(decodePeerList(json({ peers: [{ peerId: 'not base58 0OIl', addrs: [] }] })), null)
  assert.equal(decodePeerList(json({ peers: [{ peerId: peers[0].peerId, addrs: Array(17).fill('/ip4/1.2.3.4/tcp/1') }] })), null)
  assert.equal(decodePeerList(json({ peers: [{ peerId: peers[0].peerId, addrs: ['x'.repeat(300)] }] })), null)
})

test('fetch requests need at least one wanted commit and stay within their bounds', () => {
  const request = { want: [good.commit], have: [] }
  assert.deepEqual(decodeFetchRequest(encodeFetchRequest(request)), request)
  assert.equal(isValidFetchRequest(request), true)
  assert.equal(isValidFetchRequest({ want: [], have: [] }), false)
  assert.equal(isValidFetchRequest({ want: Array(p2pFetchWantMax + 1).fill(good.commit), have: [] }), false)
  assert.equal(decodeFetchRequest(json({ want: ['HEAD'], have: [] })), null)
  assert.equal(decodeFetchRequest(json({ want: [good.commit] })), null)
})
