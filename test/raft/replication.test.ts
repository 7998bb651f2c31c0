// Log replication (Raft §5.3), the commitment rule of §5.4.2 (Figure 8), and fast backtracking.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster, texts } from './cluster-helper.js'
import { drain, entry, makeLeader, message, newRaft, storageWith } from './raft-helper.js'
import { Raft } from '../../src/raft/raft.js'
import { bugFactories } from '../sim/buggy-raft.js'
import { validate } from '../../src/raft/config.js'

test('§5.3: the leader replicates proposals; every node applies them in the same order', () => {
  const c = new TestCluster(['a', 'b', 'c', 'd', 'e'])
  c.elect('a')
  for (const t of ['1', '2', '3']) c.propose('a', t)
  c.propose('d', '4') // forwarded by a follower
  for (const id of ['a', 'b', 'c', 'd', 'e']) assert.deepEqual(texts(c.get(id).applied), ['1', '2', '3', '4'])
})

test('§5.3: a minority cannot commit; the entries commit once a majority is back', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('b')
  c.isolate('c')
  c.propose('a', 'x')
  assert.deepEqual(texts(c.get('a').applied), [])
  c.heal()
  c.tick(['a'], 2)
  for (const id of ['a', 'b', 'c']) assert.deepEqual(texts(c.get(id).applied), ['x'])
})

test('§5.3: a follower\'s conflicting uncommitted suffix is replaced by the leader\'s entries', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'committed')
  c.isolate('a')
  c.propose('a', 'lost-1') // only on a
  c.propose('a', 'lost-2')
  c.tick(['b', 'c'], 40) // b and c stop hearing from a and elect one of them
  const leader = c.leader()
  assert.ok(leader === 'b' || leader === 'c', `leader ${leader}`)
  c.propose(leader, 'kept')
  c.heal()
  c.tick(undefined, 3)
  for (const id of ['a', 'b', 'c']) assert.deepEqual(texts(c.get(id).applied), ['committed', 'kept'], id)
  assert.equal(c.raft('a').log.lastIndex(), c.raft('b').log.lastIndex())
})

test('§5.4.2 (Figure 8): a leader does not commit an entry of an earlier term by counting replicas', () => {
  // a holds index 2 from term 2 and leads term 4 with a no-op at index 3.
  for (const [ctor, expectBug] of [[Raft, false], [null, true]] as const) {
    const storage = storageWith(['a', 'b', 'c'], [entry(2, 2, 'old')], 3)
    const r = ctor !== null
      ? newRaft('a', storage)
      : bugFactories.unsafeCommitPreviousTermByCounting(validate({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0 }), storage)
    makeLeader(r, ['b'])
    assert.equal(r.term, 4)
    assert.equal(r.log.lastIndex(), 3)
    // b acknowledges index 2 (the old entry) but not yet the no-op: a majority stores index 2.
    r.step(message({ type: 'appResp', from: 'b', to: 'a', term: 4, index: 2 }))
    if (expectBug) {
      assert.equal(r.log.committed, 2, 'the injected bug commits by counting (the test can fail)')
      continue
    }
    assert.equal(r.log.committed, 1, 'index 2 is from term 2: not committed by counting')
    r.step(message({ type: 'appResp', from: 'b', to: 'a', term: 4, index: 3 }))
    assert.equal(r.log.committed, 3, 'committing the no-op of term 4 commits index 2 with it')
  }
})

test('fast backtracking: a follower with a long divergent suffix is repaired in few round trips', () => {
  // Follower b has 50 entries from term 2 that the leader (term 3, from term 1 history) never had.
  const divergent = Array.from({ length: 50 }, (_, i) => entry(i + 2, 2, `b${i}`))
  const leaderLog = Array.from({ length: 10 }, (_, i) => entry(i + 2, 3, `a${i}`))
  const a = newRaft('a', storageWith(['a', 'b', 'c'], leaderLog, 3))
  const b = newRaft('b', storageWith(['a', 'b', 'c'], divergent, 3))
  makeLeader(a, ['c'])
  let rounds = 0
  // b answers a heartbeat: the leader learns it is behind and probes it.
  a.step(message({ type: 'heartbeatResp', from: 'b', to: 'a', term: a.term }))
  for (; rounds < 20; rounds++) {
    const toB = drain(a).filter(m => m.to === 'b' && m.type === 'app')
    if (toB.length === 0) break
    for (const m of toB) b.step(m)
    for (const m of drain(b)) a.step(m)
  }
  assert.ok(rounds <= 3, `took ${rounds} round trips`)
  assert.equal(b.log.lastIndex(), a.log.lastIndex())
  assert.equal(b.log.term(2), 3)
})

test('a follower never lets an append truncate its committed entries', () => {
  const b = newRaft('b', storageWith(['a', 'b', 'c'], [entry(2, 2, 'x'), entry(3, 2, 'y')], 2))
  b.step(message({ type: 'app', from: 'a', to: 'b', term: 2, index: 3, logTerm: 2, commit: 3 }))
  assert.equal(b.log.committed, 3)
  drain(b)
  // A forged append from a later term that conflicts at index 2 (committed): rejected, log unchanged.
  b.step(message({ type: 'app', from: 'c', to: 'b', term: 3, index: 1, logTerm: 1, entries: [entry(2, 3, 'z')], commit: 2 }))
  assert.equal(b.log.term(2), 2)
  assert.equal(b.log.committed, 3)
})

test('a heartbeat commit index beyond the follower\'s log is clamped, not trusted', () => {
  const b = newRaft('b', storageWith(['a', 'b', 'c'], [entry(2, 2)], 2))
  b.step(message({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 99 }))
  assert.equal(b.log.committed, 2)
})

test('flow control: a leader keeps at most inflightMessagesMax appends unacknowledged per follower', () => {
  const a = newRaft('a', storageWith(['a', 'b', 'c']), { inflightMessagesMax: 3 })
  makeLeader(a, ['b'])
  a.step(message({ type: 'appResp', from: 'b', to: 'a', term: a.term, index: a.log.lastIndex() }))
  drain(a)
  for (let i = 0; i < 10; i++) a.propose([entry(0, 0, `p${i}`)])
  const toB = drain(a).filter(m => m.to === 'b' && m.type === 'app' && m.entries.length > 0)
  assert.equal(toB.length, 3)
})

test('a full window of lost appends does not stall replication: the next heartbeat answer recovers it', () => {
  const c = new TestCluster(['a', 'b', 'c'], { config: { inflightMessagesMax: 2 } })
  c.elect('a')
  c.propose('a', 'warm-up') // b and c reach the replicate state
  c.cut.add('a->b')
  for (const t of ['1', '2', '3']) c.propose('a', t) // appends to b are lost and fill its window
  assert.equal(c.raft('a').trk.progress.get('b')?.isPaused(), true)
  c.heal()
  c.tick(['a'], 4) // heartbeats; b's answers reveal it is behind
  assert.deepEqual(texts(c.get('b').applied), ['warm-up', '1', '2', '3'])
})
