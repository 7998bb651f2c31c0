import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerBook } from '../../src/p2p/peer-book.js'
import { p2pAddrsPerPeerMax, p2pKnownPeersMax, p2pLearnedPeerForgetMs, p2pRedialBackoffMsMax, p2pRedialBackoffMsMin } from '../../src/limits.js'

const addr = (port: number): ReturnType<typeof multiaddr> => multiaddr(`/ip4/127.0.0.1/tcp/${port}`)

test('failed dials back off exponentially up to the cap; a disconnect retries soon', () => {
  let now = 0
  const book = new PeerBook('self', () => now)
  book.add('p', [addr(1)], 'bootstrap')
  assert.deepEqual(book.dueForDial().map(e => e.peerId), ['p'])
  const delays: number[] = []
  for (let i = 0; i < 10; i++) {
    book.markDialFailed('p')
    delays.push(book.get('p')!.nextDialAtMs - now)
  }
  assert.deepEqual(delays.slice(0, 3), [p2pRedialBackoffMsMin, 2 * p2pRedialBackoffMsMin, 4 * p2pRedialBackoffMsMin])
  assert.equal(delays.at(-1), p2pRedialBackoffMsMax)
  assert.deepEqual(book.dueForDial(), [])
  book.markConnected('p')
  now = 1_000_000
  book.markDisconnected('p')
  assert.equal(book.get('p')!.nextDialAtMs, now + p2pRedialBackoffMsMin)
})

test('the book is bounded in peers and addresses, ignores itself, and forgets only stale learned peers', () => {
  let now = 0
  const book = new PeerBook('self', () => now)
  assert.equal(book.add('self', [addr(1)], 'learned'), false)
  book.add('boot', [addr(1)], 'bootstrap')
  for (let i = 0; book.size < p2pKnownPeersMax; i++) assert.equal(book.add(`p${i}`, [addr(2)], 'learned'), true)
  assert.equal(book.add('one-too-many', [addr(3)], 'learned'), false)
  book.add('p0', Array.from({ length: 40 }, (_, i) => addr(100 + i)), 'learned')
  assert.equal(book.get('p0')!.addrs.length, p2pAddrsPerPeerMax)
  assert.equal(book.get('p0')!.addrs[0].toString(), addr(100).toString(), 'newest addresses first')

  book.markDialFailed('boot')
  book.markDialFailed('p1')
  book.markConnected('p2')
  now = p2pLearnedPeerForgetMs
  assert.equal(book.forgetStale(), 1)
  assert.equal(book.get('p1'), undefined, 'an unreachable learned peer is forgotten')
  assert.ok(book.get('boot') !== undefined, 'bootstrap peers are kept')
  assert.ok(book.get('p2') !== undefined, 'connected peers are kept')
})
