import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster, texts } from './cluster-helper.js'

test('smoke: three nodes elect a leader and replicate', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  assert.equal(c.elect('a'), 'a')
  c.propose('a', 'x')
  c.propose('b', 'y')
  for (const id of ['a', 'b', 'c']) assert.deepEqual(texts(c.get(id).applied), ['x', 'y'])
})
