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

test('the book is bounded in peers and addresses and ignores itself', () => {
  let now = 0
  const book = new PeerBook('self', () => now)
  assert.equal(book.add('self', [addr(1)], 'learned'), false)
  book.add('boot', [addr(1)], 'bootstrap')
  for (let i = 0; book.size < p2pKnownPeersMax; i++) {
    now++
    assert.equal(book.add(`p${i}`, [addr(2)], 'learned'), true)
    book.markConnected(`p${i}`)
  }
  assert.equal(book.add('one-too-many', [addr(3)], 'learned'), false, 'full of bootstrap and connected peers: refused')
  book.add('p0', Array.from({ length: 40 }, (_, i) => addr(100 + i)), 'learned')
  assert.equal(book.get('p0')!.addrs.length, p2pAddrsPerPeerMax)
  assert.equal(book.get('p0')!.addrs[0].toString(), addr(100).toString(), 'newest addresses first')
})

test('when full, a new peer replaces the learned peer unreachable for longest, never a bootstrap or connected one', () => {
  let now = 0
  const book = new PeerBook('self', () => now)
  book.add('boot', [addr(1)], 'bootstrap')
  book.markDialFailed('boot')
  for (let i = 0; book.size < p2pKnownPeersMax; i++) {
    now++
    book.add(`p${i}`, [addr(2)], 'learned')
  }
  book.markConnected('p0')
  now++
  assert.equal(book.add('newcomer', [addr(3)], 'learned'), true)
  assert.equal(book.size, p2pKnownPeersMax)
  assert.equal(book.get('p1'), undefined, 'the oldest unreachable learned peer made room')
  for (const kept of ['boot', 'p0', 'p2', 'newcomer']) assert.ok(book.get(kept) !== undefined, kept)
})

test('learned peers that stay unreachable are forgotten; bootstrap and connected peers are kept', () => {
  let now = 0
  const book = new PeerBook('self', () => now)
  book.add('boot', [addr(1)], 'bootstrap')
  book.add('never-answers', [addr(2)], 'learned')
  book.add('went-away', [addr(3)], 'learned')
  book.add('here', [addr(4)], 'learned')
  book.markDialFailed('boot')
  book.markConnected('went-away')
  book.markConnected('here')
  now = 1000
  book.markDisconnected('went-away')
  now = p2pLearnedPeerForgetMs
  assert.equal(book.forgetStale(), 1)
  assert.equal(book.get('never-answers'), undefined)
  assert.ok(book.get('went-away') !== undefined, 'unreachable for less than the limit')
  now = 1000 + p2pLearnedPeerForgetMs
  assert.equal(book.forgetStale(), 1)
  assert.equal(book.get('went-away'), undefined)
  assert.ok(book.get('boot') !== undefined && book.get('here') !== undefined)
})
