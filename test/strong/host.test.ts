// The Raft host (src/strong/host.ts) on asynchronous storage, as the daemon runs it: the loop's order (persist, then
// send; effects recorded before advance), restart from LevelDB, and the request API (results, NO_QUORUM, abort,
// stop). The simulator runs the same host on synchronous storage (test/sim).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isGitConfigError } from '../../src/errors.js'
import type { WritableRaftStorage } from '../../src/raft/storage.js'
import type { NodeId } from '../../src/raft/types.js'
import { createRaftHost } from '../../src/strong/host.js'
import type { RaftHost, RaftHostInit } from '../../src/strong/host.js'
import type { KvOp } from '../../src/strong/kv-state-machine.js'
import { LevelStorage } from '../../src/strong/storage-level.js'
import { ManualClock, MemoryNetwork, RecordingEffects, SlowStorage, eventually, text, untext } from './host-helpers.js'

interface Harness {
  readonly clock: ManualClock
  readonly network: MemoryNetwork
}

function newHarness (): Harness {
  return { clock: new ManualClock(), network: new MemoryNetwork() }
}

function hostOn (h: Harness, id: NodeId, storage: WritableRaftStorage, extra: Partial<RaftHostInit> = {}): RaftHost {
  return createRaftHost({
    id,
    raft: { electionTicks: 10, heartbeatTicks: 1, random: () => 0 },
    storage,
    transport: h.network.transport(id),
    clock: h.clock,
    compaction: { everyEntries: 1000, retainEntries: 10 },
    ...extra
  })
}

/** Waits until the host applied what it holds committed (at start: the bootstrap membership, before which Raft refuses to campaign). */
async function settled (host: RaftHost): Promise<void> {
  await eventually(() => {
    const s = host.status()
    return s !== null && s.applied >= s.commit
  }, `${host.id} applied its committed entries`)
}

async function leaderOf (host: RaftHost): Promise<void> {
  await settled(host)
  host.campaign()
  await eventually(() => host.status()?.role === 'leader', `${host.id} leads`)
}

let seq = 0
function command (op: KvOp, clientId = 'client', nowMs = 1_000): { clientId: string, seq: number, nowMs: number, op: KvOp } {
  return { clientId, seq: ++seq, nowMs, op }
}

test('one node on LevelDB: proposals answer with the state machine result, and effects reach the port in Raft order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-host-'))
  const storage = await LevelStorage.open(dir)
  const effects = new RecordingEffects()
  const host = hostOn(newHarness(), 'a', storage, { effects })
  try {
    host.start(['a'])
    await leaderOf(host)
    assert.deepEqual(await host.propose(command({ op: 'put', key: 'k', value: text('v1') })), { op: 'put' })
    const cas = await host.propose(command({ op: 'cas', key: 'k', expected: text('v1'), value: text('v2') }, 'client', 2_000))
    assert.deepEqual(cas, { op: 'cas', swapped: true, current: null })
    const refused = await host.propose(command({ op: 'cas', key: 'k', expected: null, value: text('v3') }))
    assert.equal(refused.op === 'cas' && refused.swapped, false)
    const lock = await host.propose(command({ op: 'lock', name: 'L', holder: 'alice', ttlMs: 5_000 }, 'client', 3_000))
    assert.ok(lock.op === 'lock' && lock.granted)
    await eventually(() => effects.effects.length === 3, 'three effects are recorded')
    assert.deepEqual(effects.effects.map(e => [e.kind, e.author, e.stampMs]), [
      ['set', 'client', 1_000], ['set', 'client', 2_000], ['lockGranted', 'alice', 3_000]
    ], 'the refused CAS has no effect; stamps and authors come from the commands')
    const indexes = effects.effects.map(e => e.raftIndex)
    assert.deepEqual(indexes, [...indexes].sort((x, y) => x - y))
    assert.equal(lock.op === 'lock' && lock.granted ? lock.token : -1, indexes[2], 'the fencing token is the grant\'s Raft index')
  } finally {
    await host.stop()
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a host restarted on the same LevelDB continues: term, log and state machine, committed entries applied again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-host-restart-'))
  let storage = await LevelStorage.open(dir)
  const h = newHarness()
  // A snapshot every 4 applied entries, so the restart restores part of the state from a snapshot and the rest by
  // applying the log after it again.
  const compaction = { everyEntries: 4, retainEntries: 1 }
  let host = hostOn(h, 'solo', storage, { compaction })
  host.start(['solo'])
  await leaderOf(host)
  for (let i = 1; i <= 6; i++) await host.propose(command({ op: 'put', key: `k${i}`, value: text(`v${i}`) }))
  const before = host.status()
  assert.ok(before !== null)
  await eventually(() => storage.snapshot().metadata.index > 0, 'a snapshot is taken')
  const snapIndex = storage.snapshot().metadata.index
  await host.stop()
  await storage.close()

  storage = await LevelStorage.open(dir)
  const effects = new RecordingEffects()
  host = hostOn(h, 'solo', storage, { compaction, effects })
  try {
    host.start()
    await eventually(() => host.stateMachine.appliedIndex >= before.commit, 'the log is applied again')
    const after = host.status()
    assert.equal(after?.term, before.term)
    assert.equal(after?.vote, 'solo')
    assert.equal(after?.lastIndex, before.lastIndex)
    for (let i = 1; i <= 6; i++) assert.equal(untext(host.stateMachine.read(`k${i}`)), `v${i}`)
    assert.ok(effects.effects.every(e => e.raftIndex > snapIndex), 'only entries after the snapshot are applied again')
    assert.ok(effects.effects.length > 0, 'the port sees them again (it must skip what it already recorded)')
    await leaderOf(host)
    assert.ok((host.status()?.term ?? 0) > before.term, 'it campaigns in a later term')
    assert.deepEqual(await host.propose(command({ op: 'put', key: 'k7', value: text('v7') })), { op: 'put' })
  } finally {
    await host.stop()
    await storage.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('persist, then send: no message leaves a host while one of its writes is still in flight', async () => {
  const h = newHarness()
  const storages = { a: new SlowStorage(3), b: new SlowStorage(3) }
  const violations: string[] = []
  let sent = 0
  const hosts = (['a', 'b'] as const).map(id => hostOn(h, id, storages[id], {
    transport: h.network.transport(id, m => {
      sent++
      if (storages[id].writesInFlight > 0) violations.push(`${id} sent ${m.type} with a write in flight`)
    })
  }))
  try {
    for (const host of hosts) host.start(['a', 'b'])
    await leaderOf(hosts[0])
    const results = await Promise.all([1, 2, 3].map(async i => await hosts[0].propose(command({ op: 'put', key: `k${i}`, value: text('v') }))))
    assert.deepEqual(results, [{ op: 'put' }, { op: 'put' }, { op: 'put' }])
    await eventually(() => hosts[1].stateMachine.appliedIndex >= hosts[0].stateMachine.appliedIndex, 'the follower applies')
    assert.ok(sent > 5)
    assert.deepEqual(violations, [])
  } finally {
    await Promise.all(hosts.map(async host => { await host.stop() }))
  }
})

test('the loop waits for the effects port: entries count as applied only once the store recorded their effects', async () => {
  const effects = new RecordingEffects()
  let open: () => void = () => {}
  effects.gate = new Promise(resolve => { open = resolve })
  const host = hostOn(newHarness(), 'a', new SlowStorage(1), { effects })
  try {
    host.start(['a'])
    await leaderOf(host)
    await settled(host)
    const appliedBefore = host.status()?.applied ?? 0
    // The proposer is answered at apply (the acknowledgement); the store gets the effect right after.
    const result = await host.propose(command({ op: 'put', key: 'k', value: text('v') }))
    assert.deepEqual(result, { op: 'put' })
    await eventually(() => effects.calls === 1, 'the port is called')
    assert.equal(host.status()?.applied, appliedBefore, 'advance waits for the port')
    open()
    await eventually(() => (host.status()?.applied ?? 0) > appliedBefore, 'applied moves once the port answered')
    assert.equal(effects.effects.length, 1)
  } finally {
    await host.stop()
  }
})

test('requests that cannot be served: NO_QUORUM without a leader, the signal\'s reason on abort, UNAVAILABLE on stop', async () => {
  const h = newHarness()
  const a = hostOn(h, 'a', new SlowStorage(1))
  const b = hostOn(h, 'b', new SlowStorage(1))
  try {
    a.start(['a', 'b'])
    b.start(['a', 'b'])
    await assert.rejects(a.propose(command({ op: 'get', key: 'k' })), (err: unknown) => isGitConfigError(err) && err.code === 'NO_QUORUM')
    await leaderOf(a)
    h.network.cut.add('b')
    // The leader accepts the proposal but cannot commit it without b.
    const controller = new AbortController()
    const pending = a.propose(command({ op: 'put', key: 'k', value: text('v') }), { signal: controller.signal })
    controller.abort(new Error('deadline'))
    await assert.rejects(pending, /deadline/)
    const unavailable = (err: unknown): boolean => isGitConfigError(err) && err.code === 'UNAVAILABLE'
    const stranded = assert.rejects(a.propose(command({ op: 'put', key: 'k2', value: text('v') })), unavailable)
    const read = assert.rejects(a.readIndex(text('ctx-1')), unavailable)
    await a.stop()
    await stranded
    await read
    await assert.rejects(a.propose(command({ op: 'get', key: 'k' })), unavailable)
  } finally {
    await a.stop()
    await b.stop()
  }
})

test('a ReadIndex read resolves once the state machine has applied the read index', async () => {
  const h = newHarness()
  const hosts = ['a', 'b', 'c'].map(id => hostOn(h, id, new SlowStorage(1)))
  try {
    for (const host of hosts) host.start(['a', 'b', 'c'])
    await leaderOf(hosts[0])
    await hosts[0].propose(command({ op: 'put', key: 'k', value: text('v') }))
    // A follower forwards the read to the leader and serves it from its own state machine.
    const index = await hosts[1].readIndex(text('read-1'))
    assert.ok(hosts[1].stateMachine.appliedIndex >= index)
    assert.equal(untext(hosts[1].stateMachine.read('k')), 'v')
  } finally {
    await Promise.all(hosts.map(async host => { await host.stop() }))
  }
})

test('a failed write stops the host and is reported through the failed hook', async () => {
  const storage = new SlowStorage(1)
  const failures: unknown[] = []
  const host = hostOn(newHarness(), 'a', storage, { hooks: { failed: err => { failures.push(err) } } })
  host.start(['a'])
  await leaderOf(host)
  storage.failNextWrite = new Error('disk full')
  const pending = host.propose(command({ op: 'put', key: 'k', value: text('v') }))
  await assert.rejects(pending, (err: unknown) => isGitConfigError(err) && err.code === 'UNAVAILABLE')
  await eventually(() => host.state === 'stopped', 'the host stops')
  assert.equal(failures.length, 1)
  assert.match(String(failures[0]), /disk full/)
})

test('ticks drive elections: a lone voter elects itself after an election timeout', async () => {
  const h = newHarness()
  const host = hostOn(h, 'a', new SlowStorage(1))
  try {
    host.start(['a'])
    await settled(host)
    h.clock.tick(25)
    await eventually(() => host.status()?.role === 'leader', 'a leads')
  } finally {
    await host.stop()
  }
})

test('bad compaction settings are refused at creation with INVALID_ARGUMENT', () => {
  const h = newHarness()
  assert.throws(() => hostOn(h, 'a', new SlowStorage(), { compaction: { everyEntries: 0, retainEntries: 1 } }),
    (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
  assert.throws(() => hostOn(h, 'a', new SlowStorage(), { compaction: { everyEntries: 10, retainEntries: -1 } }),
    (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
})
