// Leader election (Raft §5.2, §5.4.1), PreVote (dissertation §9.6), CheckQuorum and the leader lease (§6.2, §4.2.3).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster } from './cluster-helper.js'
import { drain, entry, message, newRaft, storageWith } from './raft-helper.js'

test('§5.2: a node that times out is elected by a majority and leads a new term', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.tick(['a'], 25) // only a ticks: it times out first
  assert.equal(c.leader(), 'a')
  assert.equal(c.raft('a').term, 2)
  assert.equal(c.raft('b').lead, 'a')
  assert.equal(c.raft('c').lead, 'a')
})

test('§5.2: a node grants at most one vote per term', () => {
  const r = newRaft('a', storageWith(['a', 'b', 'c']))
  r.step(message({ type: 'vote', from: 'b', to: 'a', term: 5, index: 1, logTerm: 1 }))
  r.step(message({ type: 'vote', from: 'c', to: 'a', term: 5, index: 1, logTerm: 1 }))
  const resps = drain(r).filter(m => m.type === 'voteResp')
  assert.deepEqual(resps.map(m => [m.to, m.reject]), [['b', false], ['c', true]])
  assert.equal(r.vote, 'b')
  // Asking again (a retransmission) from the same candidate is granted again.
  r.step(message({ type: 'vote', from: 'b', to: 'a', term: 5, index: 1, logTerm: 1 }))
  assert.equal(drain(r)[0].reject, false)
})

test('§5.4.1: a vote is refused to a candidate whose log is less up to date', () => {
  const table: Array<{ index: number, logTerm: number, granted: boolean }> = [
    { index: 3, logTerm: 2, granted: true }, // same last entry
    { index: 4, logTerm: 2, granted: true }, // longer, same last term
    { index: 2, logTerm: 3, granted: true }, // higher last term wins even when shorter
    { index: 2, logTerm: 2, granted: false }, // shorter with the same last term
    { index: 9, logTerm: 1, granted: false } // longer but older last term
  ]
  for (const row of table) {
    const r = newRaft('a', storageWith(['a', 'b', 'c'], [entry(2, 2), entry(3, 2)], 2))
    r.step(message({ type: 'vote', from: 'b', to: 'a', term: 3, index: row.index, logTerm: row.logTerm }))
    const resp = drain(r).find(m => m.type === 'voteResp')
    assert.equal(resp?.reject, !row.granted, JSON.stringify(row))
  }
})

test('§5.2: a candidate that hears from a leader of its term becomes its follower', () => {
  const r = newRaft('a', storageWith(['a', 'b', 'c']), { preVote: false })
  r.becomeCandidate()
  r.step(message({ type: 'app', from: 'b', to: 'a', term: r.term, index: 1, logTerm: 1 }))
  assert.equal(r.role, 'follower')
  assert.equal(r.lead, 'b')
})

test('§5.2: randomised election timeouts lie in [electionTicks, 2*electionTicks)', () => {
  const seen = new Set<number>()
  for (let v = 0; v < 10; v++) {
    const r = newRaft('a', storageWith(['a', 'b', 'c']), { random: n => (v % n) })
    seen.add(r.randomizedElectionTimeout)
  }
  assert.deepEqual([...seen].sort((x, y) => x - y), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
})

test('§5.1: a message from an older term is not applied; a stale leader is told the current term', () => {
  const r = newRaft('a', storageWith(['a', 'b', 'c'], [], 5))
  r.step(message({ type: 'app', from: 'b', to: 'a', term: 3, index: 1, logTerm: 1, entries: [entry(2, 3, 'x')], commit: 2 }))
  assert.equal(r.log.lastIndex(), 1)
  const out = drain(r)
  assert.deepEqual(out.map(m => [m.type, m.term, m.to]), [['appResp', 5, 'b']])
})

test('PreVote: an isolated node does not inflate its term, and rejoining does not depose the leader', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  const term = c.raft('a').term
  c.isolate('c')
  c.tick(['c'], 100)
  assert.equal(c.raft('c').term, term, 'pre-votes fail without raising the term')
  c.heal()
  c.tick(undefined, 5)
  assert.equal(c.leader(), 'a')
  assert.equal(c.raft('a').term, term)
})

test('without PreVote an isolated node does raise its term (the disruption PreVote prevents)', () => {
  const c = new TestCluster(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } })
  c.elect('a')
  const term = c.raft('a').term
  c.isolate('c')
  c.tick(['c'], 100)
  assert.ok(c.raft('c').term > term)
})

test('CheckQuorum: a leader that cannot hear from a majority steps down within two election timeouts', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('a')
  c.tick(['a'], 21)
  assert.equal(c.raft('a').role, 'follower')
})

test('leader lease (§4.2.3): while a follower hears from its leader, it ignores vote requests of higher terms', () => {
  const r = newRaft('a', storageWith(['a', 'b', 'c']))
  r.step(message({ type: 'heartbeat', from: 'b', to: 'a', term: 2 }))
  drain(r)
  r.step(message({ type: 'vote', from: 'c', to: 'a', term: 3, index: 5, logTerm: 2 }))
  assert.equal(r.term, 2)
  assert.deepEqual(drain(r), [])
  // ...unless the vote comes from a leadership transfer.
  r.step(message({ type: 'vote', from: 'c', to: 'a', term: 3, index: 5, logTerm: 2, transfer: true }))
  assert.equal(r.term, 3)
  assert.equal(r.vote, 'c')
})

test('a single-voter cluster elects itself at once', () => {
  const c = new TestCluster(['solo'])
  assert.equal(c.elect('solo'), 'solo')
})

test('learners never campaign', () => {
  const r = newRaft('l', storageWith(['a', 'b', 'c'], [], 1, ['l']))
  for (let i = 0; i < 100; i++) r.tick()
  assert.equal(r.role, 'follower')
  assert.deepEqual(drain(r), [])
})
