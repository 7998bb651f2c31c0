// Single-server membership changes (Raft dissertation §4.1): add and promote a learner, add and remove voters.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster, texts } from './cluster-helper.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'

function addNode (c: TestCluster, id: string): void {
  const storage = new MemoryStorage()
  c.nodes.set(id, { id, node: c.makeNode(id, storage), storage, applied: [] })
}

test('a learner receives the log but does not vote; once promoted it counts in the quorum', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'x')
  addNode(c, 'd')
  c.get('a').node.proposeConfChange({ type: 'addLearner', nodeId: 'd' })
  c.settle()
  c.tick(['a'], 2)
  assert.deepEqual(c.raft('a').trk.confState(), { voters: ['a', 'b', 'c'], learners: ['d'] })
  assert.deepEqual(texts(c.get('d').applied), ['x'], 'the learner caught up')
  // With b and c gone, a and the learner d are not a quorum.
  c.isolate('b')
  c.isolate('c')
  c.propose('a', 'y')
  assert.deepEqual(texts(c.get('a').applied), ['x'])
  c.heal()
  c.settle()
  c.tick(['a'], 2)
  c.get('a').node.proposeConfChange({ type: 'addVoter', nodeId: 'd' })
  c.settle()
  assert.deepEqual(c.raft('a').trk.confState(), { voters: ['a', 'b', 'c', 'd'], learners: [] })
  // Now a, d and one of b/c make a quorum of four.
  c.isolate('c')
  c.propose('a', 'z')
  assert.deepEqual(texts(c.get('d').applied), ['x', 'y', 'z'])
})

test('removing a follower shrinks the quorum; removing the leader makes it step down', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.get('a').node.proposeConfChange({ type: 'removeNode', nodeId: 'c' })
  c.settle()
  c.isolate('c')
  c.propose('a', 'two-of-two')
  assert.deepEqual(texts(c.get('b').applied), ['two-of-two'])
  c.heal()
  c.get('a').node.proposeConfChange({ type: 'removeNode', nodeId: 'a' })
  c.settle()
  assert.equal(c.raft('a').role, 'follower')
  c.tick(['b'], 25)
  assert.equal(c.leader(), 'b', 'b alone is the whole cluster now')
  c.propose('b', 'solo')
  assert.deepEqual(texts(c.get('b').applied), ['two-of-two', 'solo'])
})

test('only one membership change is pending at a time', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('b')
  c.isolate('c') // the first change cannot commit
  assert.equal(c.get('a').node.proposeConfChange({ type: 'addLearner', nodeId: 'x' }), 'proposed')
  assert.equal(c.get('a').node.proposeConfChange({ type: 'addLearner', nodeId: 'y' }), 'dropped')
})

test('membership stays within the voter limit (DESIGN.md: up to 5 voters, the rest learners)', () => {
  const c = new TestCluster(['a', 'b', 'c', 'd', 'e'])
  c.elect('a')
  assert.equal(c.get('a').node.proposeConfChange({ type: 'addVoter', nodeId: 'f' }), 'dropped')
  assert.equal(c.get('a').node.proposeConfChange({ type: 'addLearner', nodeId: 'f' }), 'proposed')
})
