// The linearizability checker and the strong-operation models on known good and bad histories.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkLinearizable } from './checker.js'
import { strongOpsModel } from './models.js'
import type { SimHistoryOp, SimInput, SimOutput } from './models.js'

function op (clientId: number, input: SimInput, output: SimOutput | undefined, callTime: number, returnTime: number): SimHistoryOp {
  return { clientId, input, output, callTime, returnTime }
}
const put = (key: string, value: string): SimInput => ({ kind: 'put', key, value })
const get = (key: string): SimInput => ({ kind: 'get', key })
const got = (value: string | null): SimOutput => ({ kind: 'get', value })
const done: SimOutput = { kind: 'put' }

test('sequential put then get is linearizable; a stale get after it is not', () => {
  assert.deepEqual(checkLinearizable(strongOpsModel, [op(1, put('k', 'a'), done, 0, 10), op(2, get('k'), got('a'), 11, 12)]), { ok: true })
  const bad = checkLinearizable(strongOpsModel, [op(1, put('k', 'a'), done, 0, 10), op(2, get('k'), got(null), 11, 12)])
  assert.equal(bad.ok, false)
})

test('a read concurrent with a write may see either value, but reads cannot go back in time', () => {
  const w = op(1, put('k', 'a'), done, 0, 100)
  assert.equal(checkLinearizable(strongOpsModel, [w, op(2, get('k'), got(null), 10, 20)]).ok, true)
  assert.equal(checkLinearizable(strongOpsModel, [w, op(2, get('k'), got('a'), 10, 20)]).ok, true)
  // Once a read saw 'a', a later read must not see the old value.
  const r = checkLinearizable(strongOpsModel, [w, op(2, get('k'), got('a'), 10, 20), op(3, get('k'), got(null), 30, 40)])
  assert.equal(r.ok, false)
})

test('a write with an unknown outcome may or may not have happened', () => {
  const unknown = op(1, put('k', 'a'), undefined, 0, Infinity)
  assert.equal(checkLinearizable(strongOpsModel, [unknown, op(2, get('k'), got(null), 10, 20)]).ok, true)
  assert.equal(checkLinearizable(strongOpsModel, [unknown, op(2, get('k'), got('a'), 10, 20)]).ok, true)
  assert.equal(checkLinearizable(strongOpsModel, [unknown, op(2, get('k'), got('b'), 10, 20)]).ok, false)
})

test('cas: two clients cannot both swap from the same expected value', () => {
  const cas = (c: number, value: string, swapped: boolean, t: number): SimHistoryOp =>
    op(c, { kind: 'cas', key: 'k', expected: null, value }, { kind: 'cas', swapped, current: null }, t, t + 50)
  assert.equal(checkLinearizable(strongOpsModel, [cas(1, 'a', true, 0), cas(2, 'b', true, 10)]).ok, false)
  const ok = checkLinearizable(strongOpsModel, [
    cas(1, 'a', true, 0),
    op(2, { kind: 'cas', key: 'k', expected: null, value: 'b' }, { kind: 'cas', swapped: false, current: 'a' }, 10, 60)
  ])
  assert.equal(ok.ok, true)
})

test('locks: a second live grant and a non-increasing token are both rejected', () => {
  const lock = (c: number, token: number, nowMs: number, t: number): SimHistoryOp =>
    op(c, { kind: 'lock', name: 'L', holder: `c${c}`, ttlMs: 100, nowMs }, { kind: 'lock', granted: true, token, deadlineMs: nowMs + 100, holder: '' }, t, t + 5)
  assert.equal(checkLinearizable(strongOpsModel, [lock(1, 5, 1000, 0), lock(2, 9, 1050, 10)]).ok, false, 'still held at 1050')
  assert.equal(checkLinearizable(strongOpsModel, [lock(1, 5, 1000, 0), lock(2, 9, 1100, 10)]).ok, true, 'expired at 1100')
  assert.equal(checkLinearizable(strongOpsModel, [lock(1, 5, 1000, 0), lock(2, 5, 1200, 10)]).ok, false, 'token must increase')
})

test('partitions are checked independently: a violation on one key is found among others', () => {
  const history = [
    op(1, put('x', '1'), done, 0, 10), op(2, get('x'), got('1'), 20, 30),
    op(1, put('y', '1'), done, 0, 10), op(2, get('y'), got('2'), 20, 30)
  ]
  const r = checkLinearizable(strongOpsModel, history)
  assert.equal(r.ok, false)
})
