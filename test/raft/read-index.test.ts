// ReadIndex (Raft dissertation §6.4): linearizable reads without writing to the log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster } from './cluster-helper.js'
import type { ReadState } from '../../src/raft/types.js'
import { drain, entry, makeLeader, message, newRaft, storageWith } from './raft-helper.js'

const ctx = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Runs a cluster and collects the read states each node receives. */
function collectReads (c: TestCluster): Map<string, ReadState[]> {
  const reads = new Map<string, ReadState[]>()
  for (const [id, n] of c.nodes) {
    reads.set(id, [])
    const node = n.node
    const ready = node.ready.bind(node)
    node.ready = () => {
      const rd = ready()
      reads.get(id)?.push(...rd.readStates)
      return rd
    }
  }
  return reads
}

test('the leader answers a read with its commit index after a heartbeat quorum', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'x')
  const reads = collectReads(c)
  const heartbeatsBefore = c.delivered.filter(m => m.type === 'heartbeat').length
  c.get('a').node.readIndex(ctx('r1'))
  c.settle()
  const got = reads.get('a') ?? []
  assert.equal(got.length, 1)
  assert.equal(got[0].index, c.raft('a').log.committed)
  assert.deepEqual([...got[0].context], [...ctx('r1')])
  assert.ok(c.delivered.filter(m => m.type === 'heartbeat').length > heartbeatsBefore, 'leadership was confirmed by heartbeats')
})

test('a follower\'s read is forwarded to the leader and answered with the leader\'s commit index', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'x')
  const reads = collectReads(c)
  c.get('c').node.readIndex(ctx('r2'))
  c.settle()
  assert.deepEqual(reads.get('c')?.map(r => r.index), [c.raft('a').log.committed])
})

test('a leader cut off from the majority never answers a read (it might be deposed)', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('a')
  const reads = collectReads(c)
  c.get('a').node.readIndex(ctx('r3'))
  c.tick(['a'], 5)
  assert.deepEqual(reads.get('a'), [])
})

test('a new leader answers reads only after committing an entry of its own term', () => {
  const r = newRaft('a', storageWith(['a', 'b', 'c'], [entry(2, 1, 'x')], 1))
  makeLeader(r, ['b'])
  r.readIndex(ctx('r4'))
  assert.deepEqual(drain(r).filter(m => m.type === 'heartbeat'), [], 'held back until the no-op commits')
  r.step(message({ type: 'appResp', from: 'b', to: 'a', term: r.term, index: r.log.lastIndex() }))
  const hb = drain(r).filter(m => m.type === 'heartbeat' && m.context !== null)
  assert.equal(hb.length, 2, 'the read now rides a heartbeat round')
  assert.equal(r.readStates.length, 0)
  r.step(message({ type: 'heartbeatResp', from: 'c', to: 'a', term: r.term, context: ctx('r4') }))
  const states: ReadState[] = r.readStates
  assert.deepEqual(states.map(s => s.index), [3])
})
