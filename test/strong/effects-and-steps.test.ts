// The effects handed to the git store (effectOf) and the step runner that lets one host loop run synchronously in
// the simulator and asynchronously in the daemon (runSteps).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { effectOf } from '../../src/strong/effects-port.js'
import { KvStateMachine, encodeCommand } from '../../src/strong/kv-state-machine.js'
import type { KvOp } from '../../src/strong/kv-state-machine.js'
import { runSteps, type Steps } from '../../src/strong/steps.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Applies commands of client `c` at consecutive indexes and returns each one's effect kind (or null). */
function kinds (ops: ReadonlyArray<KvOp | { retry: true }>): Array<string | null> {
  const sm = new KvStateMachine()
  let index = 0
  let seq = 0
  let last: KvOp | null = null
  return ops.map(o => {
    const op = 'retry' in o ? last : o
    if (op === null) throw new Error('nothing to retry')
    if (!('retry' in o)) seq++
    last = op
    const applied = sm.applyEntry(++index, encodeCommand({ clientId: 'c', seq, nowMs: 1_000 + index, op }))
    return effectOf(index, applied)?.kind ?? null
  })
}

test('only commands that changed the state have an effect; a retried command has none the second time', () => {
  assert.deepEqual(kinds([
    { op: 'put', key: 'k', value: b('1') },
    { retry: true },
    { op: 'cas', key: 'k', expected: b('nope'), value: b('2') },
    { op: 'cas', key: 'k', expected: b('1'), value: b('2') },
    { op: 'get', key: 'k' },
    { op: 'delete', key: 'k' },
    { op: 'delete', key: 'k' },
    { op: 'lock', name: 'L', holder: 'h', ttlMs: 100 },
    { op: 'lock', name: 'L', holder: 'other', ttlMs: 100 },
    { op: 'renew', name: 'L', token: 8, ttlMs: 100 },
    { op: 'unlock', name: 'L', token: 8 },
    { retry: true },
    { op: 'unlock', name: 'L', token: 8 }
  ]), ['set', null, null, 'set', null, 'delete', null, 'lockGranted', null, null, 'lockReleased', null, null])
})

test('an effect carries the Raft index, the command\'s stamp and its author (a lock\'s holder)', () => {
  const sm = new KvStateMachine()
  const put = sm.applyEntry(7, encodeCommand({ clientId: 'alice', seq: 1, nowMs: 42, op: { op: 'put', key: 'k', value: b('v') } }))
  assert.deepEqual(effectOf(7, put), { raftIndex: 7, stampMs: 42, author: 'alice', kind: 'set', key: 'k', value: b('v') })
  const grant = sm.applyEntry(8, encodeCommand({ clientId: 'alice', seq: 2, nowMs: 50, op: { op: 'lock', name: 'L', holder: 'worker-1', ttlMs: 10 } }))
  assert.deepEqual(effectOf(8, grant), { raftIndex: 8, stampMs: 50, author: 'worker-1', kind: 'lockGranted', name: 'L', token: 8, deadlineMs: 60 })
  assert.equal(effectOf(9, sm.applyEntry(9, b('not a command'))), null)
})

function * recorder (log: string[], steps: ReadonlyArray<void | Promise<void>>): Steps {
  for (const [i, s] of steps.entries()) {
    log.push(`step ${i}`)
    yield s
  }
  log.push('end')
}

test('runSteps runs synchronous steps before it returns, and awaits from the first promise on', async () => {
  const sync: string[] = []
  assert.equal(runSteps(recorder(sync, [undefined, undefined])), undefined)
  assert.deepEqual(sync, ['step 0', 'step 1', 'end'])

  const mixed: string[] = []
  const done = runSteps(recorder(mixed, [undefined, new Promise<void>(resolve => { setImmediate(resolve) }), undefined]))
  assert.ok(done instanceof Promise)
  assert.deepEqual(mixed, ['step 0', 'step 1'], 'the sequence waits at the first promise')
  await done
  assert.deepEqual(mixed, ['step 0', 'step 1', 'step 2', 'end'])
})

test('runSteps ends with the error of a step that throws or rejects', async () => {
  function * throwing (): Steps {
    yield
    throw new Error('sync failure')
  }
  assert.throws(() => runSteps(throwing()), /sync failure/)
  const rejected = runSteps(recorder([], [Promise.reject(new Error('write failed'))]))
  await assert.rejects(async () => { await rejected }, /write failed/)
})
