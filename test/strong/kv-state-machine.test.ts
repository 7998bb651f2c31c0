// The strong-operations state machine: cas/put/delete/get, locks with fencing tokens and stamped-time TTLs,
// duplicate detection, snapshots.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KvStateMachine, encodeCommand, decodeCommand } from '../../src/strong/kv-state-machine.js'
import type { KvOp, KvResult } from '../../src/strong/kv-state-machine.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const s = (v: Uint8Array | null): string | null => v === null ? null : new TextDecoder().decode(v)

/** Applies commands at consecutive indexes, each from a new sequence number of client `c`. */
class Driver {
  readonly sm = new KvStateMachine()
  index = 0
  private seq = 0
  apply (op: KvOp, nowMs = 1000, clientId = 'c', seq = ++this.seq): KvResult {
    return this.sm.apply(++this.index, encodeCommand({ clientId, seq, nowMs, op }))
  }
}

test('put, get, delete', () => {
  const d = new Driver()
  assert.deepEqual(d.apply({ op: 'put', key: '/k', value: b('v') }), { op: 'put' })
  const got = d.apply({ op: 'get', key: '/k' })
  assert.equal(got.op === 'get' ? s(got.value) : 'wrong', 'v')
  assert.deepEqual(d.apply({ op: 'delete', key: '/k' }), { op: 'delete', deleted: true })
  assert.deepEqual(d.apply({ op: 'delete', key: '/k' }), { op: 'delete', deleted: false })
  assert.equal(d.sm.read('/k'), null)
})

test('cas swaps only on the expected value; null expects absence; a failed cas returns the current value', () => {
  const d = new Driver()
  assert.deepEqual(d.apply({ op: 'cas', key: '/k', expected: null, value: b('1') }), { op: 'cas', swapped: true, current: null })
  const miss = d.apply({ op: 'cas', key: '/k', expected: null, value: b('2') })
  assert.equal(miss.op === 'cas' && !miss.swapped ? s(miss.current) : 'wrong', '1')
  assert.equal((d.apply({ op: 'cas', key: '/k', expected: b('1'), value: b('2') }) as { swapped: boolean }).swapped, true)
  assert.equal(s(d.sm.read('/k')), '2')
})

test('locks: the fencing token is the grant\'s index; a live lock is refused to others; tokens increase', () => {
  const d = new Driver()
  const g1 = d.apply({ op: 'lock', name: 'L', holder: 'alice', ttlMs: 100 }, 1000)
  assert.deepEqual(g1, { op: 'lock', granted: true, token: 1, deadlineMs: 1100 })
  const denied = d.apply({ op: 'lock', name: 'L', holder: 'bob', ttlMs: 100 }, 1050)
  assert.deepEqual(denied, { op: 'lock', granted: false, holder: 'alice', deadlineMs: 1100 })
  const g2 = d.apply({ op: 'lock', name: 'L', holder: 'bob', ttlMs: 100 }, 1100) // expired exactly at the deadline
  assert.deepEqual(g2, { op: 'lock', granted: true, token: 3, deadlineMs: 1200 })
  // alice's stale token no longer renews or unlocks.
  assert.equal((d.apply({ op: 'renew', name: 'L', token: 1, ttlMs: 100 }, 1110) as { ok: boolean }).ok, false)
  assert.deepEqual(d.apply({ op: 'unlock', name: 'L', token: 1 }, 1110), { op: 'unlock', ok: false })
  assert.deepEqual(d.apply({ op: 'renew', name: 'L', token: 3, ttlMs: 500 }, 1150), { op: 'renew', ok: true, deadlineMs: 1650 })
  assert.deepEqual(d.apply({ op: 'unlock', name: 'L', token: 3 }, 1160), { op: 'unlock', ok: true })
  assert.equal((d.apply({ op: 'lock', name: 'L', holder: 'carol', ttlMs: 1 }, 1170) as { token: number }).token, 8)
})

test('lock deadlines come from stamped times: a late or early apply changes nothing, and the clock never goes back', () => {
  const d = new Driver()
  d.apply({ op: 'lock', name: 'L', holder: 'alice', ttlMs: 100 }, 1000)
  // A command stamped later by a skewed proposer moves the lock clock to 1200: alice's lock is now expired...
  assert.equal((d.apply({ op: 'renew', name: 'L', token: 1, ttlMs: 100 }, 1200) as { ok: boolean }).ok, false)
  // ...and a later entry stamped earlier (another proposer's clock) does not bring it back to life.
  const g = d.apply({ op: 'lock', name: 'L', holder: 'bob', ttlMs: 100 }, 1050)
  assert.deepEqual(g, { op: 'lock', granted: true, token: 3, deadlineMs: 1300 })
})

test('duplicate detection: a retried command applies once and returns the first result; older ones are refused', () => {
  const d = new Driver()
  const first = d.apply({ op: 'cas', key: '/k', expected: null, value: b('1') }, 1000, 'c1', 7)
  const retry = d.apply({ op: 'cas', key: '/k', expected: null, value: b('1') }, 1000, 'c1', 7)
  assert.deepEqual(retry, first)
  assert.equal((first as { swapped: boolean }).swapped, true)
  const lock = d.apply({ op: 'lock', name: 'L', holder: 'c1', ttlMs: 100 }, 1000, 'c1', 8)
  assert.deepEqual(d.apply({ op: 'lock', name: 'L', holder: 'c1', ttlMs: 100 }, 1000, 'c1', 8), lock, 'same token, not a second grant')
  assert.equal(d.apply({ op: 'put', key: '/k', value: b('old') }, 1000, 'c1', 7).op, 'error')
  assert.equal(s(d.sm.read('/k')), '1')
})

test('snapshot and restore give a state machine that behaves identically', () => {
  const d = new Driver()
  d.apply({ op: 'put', key: '/a', value: new Uint8Array([0, 255, 10]) })
  d.apply({ op: 'lock', name: 'L', holder: 'x', ttlMs: 100 }, 1000, 'x', 1)
  const copy = new KvStateMachine()
  copy.restore(d.sm.snapshot())
  assert.deepEqual(copy.snapshot(), d.sm.snapshot())
  assert.deepEqual([...(copy.read('/a') ?? [])], [0, 255, 10])
  assert.deepEqual(copy.lockState('L'), d.sm.lockState('L'))
  // The dedup table came along: a retry on the copy returns the first result.
  const again = copy.apply(10, encodeCommand({ clientId: 'x', seq: 1, nowMs: 1000, op: { op: 'lock', name: 'L', holder: 'x', ttlMs: 100 } }))
  assert.deepEqual(again, { op: 'lock', granted: true, token: 2, deadlineMs: 1100 })
})

test('malformed command data yields an error result and changes nothing', () => {
  const sm = new KvStateMachine()
  assert.equal(sm.apply(1, b('not json')).op, 'error')
  assert.equal(sm.apply(2, b('{"clientId":"c","seq":1,"nowMs":1,"op":{"op":"explode"}}')).op, 'error')
  assert.equal(decodeCommand(b('{"clientId":"","seq":1,"nowMs":1,"op":{"op":"get","key":"k"}}')), undefined)
  assert.equal(sm.keyCount(), 0)
})
