// Leadership transfer (Raft dissertation §3.10): catch the transferee up, then TimeoutNow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster, texts } from './cluster-helper.js'

test('transfer to an up-to-date follower: it leads the next term at once', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'x')
  const term = c.raft('a').term
  c.get('a').node.transferLeader('c')
  c.settle()
  assert.equal(c.leader(), 'c')
  assert.equal(c.raft('c').term, term + 1)
  assert.equal(c.raft('a').role, 'follower')
  assert.ok(c.delivered.some(m => m.type === 'timeoutNow' && m.to === 'c'))
})

test('transfer to a lagging follower: the leader first brings it up to date', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('c')
  c.propose('a', 'x')
  c.propose('a', 'y')
  c.heal()
  c.get('a').node.transferLeader('c')
  c.settle()
  assert.equal(c.leader(), 'c')
  c.propose('c', 'z')
  for (const id of ['a', 'b', 'c']) assert.deepEqual(texts(c.get(id).applied), ['x', 'y', 'z'])
})

test('a follower forwards a transfer request to the leader', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.get('b').node.transferLeader('b')
  c.settle()
  assert.equal(c.leader(), 'b')
})

test('proposals are refused while a transfer is in progress, and the transfer is abandoned after a timeout', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('c') // c never answers, so the transfer cannot finish
  c.get('a').node.transferLeader('c')
  c.settle()
  assert.equal(c.get('a').node.propose(new TextEncoder().encode('during')), 'dropped')
  c.tick(['a', 'b'], 12)
  assert.equal(c.leader(), 'a')
  assert.equal(c.raft('a').leadTransferee, '')
  assert.equal(c.get('a').node.propose(new TextEncoder().encode('after')), 'proposed')
})

test('a transfer to a third node requested at a follower reaches the leader with the right transferee', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.get('c').node.transferLeader('b')
  c.settle()
  assert.equal(c.leader(), 'b')
})

test('asking a follower to transfer leadership to the current leader sends nothing malformed', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.get('b').node.transferLeader('a')
  const rd = c.get('b').node.ready()
  assert.deepEqual(rd.messages.filter(m => m.type === 'transferLeader'), [])
  c.get('b').node.advance(rd)
  assert.equal(c.leader(), 'a')
})
