// Log compaction and InstallSnapshot (Raft §7).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster, texts } from './cluster-helper.js'
import { drain, entry, message, newRaft, storageWith } from './raft-helper.js'

test('a follower behind the leader\'s compacted log gets a snapshot and then the rest of the log', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.isolate('c')
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`)
  const a = c.get('a')
  const applied = c.raft('a').log.applied
  a.storage.createSnapshot(applied, c.raft('a').trk.confState(), new TextEncoder().encode('state-of-a'))
  a.storage.compact(applied)
  c.propose('a', 'after-snapshot')
  c.heal()
  c.tick(['a'], 3)
  const cs = c.get('c')
  assert.equal(cs.storage.snapshot().metadata.index, applied)
  assert.deepEqual([...cs.storage.snapshot().data], [...new TextEncoder().encode('state-of-a')])
  assert.ok(c.delivered.some(m => m.type === 'snap' && m.to === 'c'))
  assert.deepEqual(texts(cs.applied), ['after-snapshot'], 'entries after the snapshot are applied from the log')
  assert.equal(c.raft('c').log.lastIndex(), c.raft('a').log.lastIndex())
})

test('a snapshot older than the follower\'s commit index is ignored', () => {
  const r = newRaft('b', storageWith(['a', 'b', 'c'], [entry(2, 2), entry(3, 2)], 2))
  r.step(message({ type: 'app', from: 'a', to: 'b', term: 2, index: 3, logTerm: 2, commit: 3 }))
  drain(r)
  r.step(message({
    type: 'snap', from: 'a', to: 'b', term: 2,
    snapshot: { metadata: { index: 2, term: 2, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: new Uint8Array(0) }
  }))
  assert.equal(r.log.unstableSnapshot(), null)
  assert.deepEqual(drain(r).map(m => [m.type, m.index]), [['appResp', 3]])
})

test('a snapshot whose last entry the follower already has only advances the commit index', () => {
  const r = newRaft('b', storageWith(['a', 'b', 'c'], [entry(2, 2), entry(3, 2), entry(4, 2)], 2))
  r.step(message({
    type: 'snap', from: 'a', to: 'b', term: 2,
    snapshot: { metadata: { index: 3, term: 2, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: new Uint8Array(0) }
  }))
  assert.equal(r.log.unstableSnapshot(), null)
  assert.equal(r.log.committed, 3)
  assert.equal(r.log.lastIndex(), 4, 'entries after the snapshot are kept')
})
