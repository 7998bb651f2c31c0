// The boundary: malformed, misaddressed or hostile messages are dropped by RawNode.step() and never throw; the
// codec round-trips every message type; the config is validated once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TestCluster } from './cluster-helper.js'
import { decodeMessage, encodeMessage, parseMessage } from '../../src/raft/codec.js'
import { message, messageTypes } from '../../src/raft/types.js'
import type { Message } from '../../src/raft/types.js'
import { validate } from '../../src/raft/config.js'
import { GitConfigError } from '../../src/errors.js'
import { SimRandom } from '../sim/random.js'

function sampleMessages (): Message[] {
  const data = new Uint8Array([1, 2, 255])
  return messageTypes.map(type => message({
    type,
    from: 'a',
    to: 'b',
    term: type === 'prop' || type === 'readIndex' || type === 'transferLeader' ? 0 : 3,
    index: 4,
    logTerm: 2,
    commit: 4,
    entries: type === 'app' ? [{ term: 3, index: 5, type: 'normal', data }] : type === 'prop' ? [{ term: 0, index: 0, type: 'confChange', data }] : [],
    snapshot: type === 'snap' ? { metadata: { index: 9, term: 3, confState: { voters: ['a', 'b'], learners: ['c'] } }, data } : null,
    context: type === 'readIndex' || type === 'readIndexResp' || type === 'heartbeat' ? new Uint8Array([7]) : null,
    reject: type === 'appResp',
    rejectHint: type === 'appResp' ? 2 : 0,
    transfer: type === 'vote'
  }))
}

test('codec: every message type survives encode/decode unchanged', () => {
  for (const m of sampleMessages()) {
    assert.deepEqual(parseMessage(m), m, `${m.type} passes validation`)
    assert.deepEqual(decodeMessage(encodeMessage(m)), m, `${m.type} round-trips`)
  }
})

test('codec: garbage bytes decode to undefined', () => {
  const rng = new SimRandom(7)
  for (let i = 0; i < 200; i++) {
    const bytes = new Uint8Array(rng.int(0, 64)).map(() => rng.int(0, 255))
    assert.equal(decodeMessage(bytes), undefined)
  }
  assert.equal(decodeMessage(new TextEncoder().encode('{"type":"app"}')), undefined)
  assert.equal(decodeMessage(new TextEncoder().encode('null')), undefined)
})

test('validation: malformed shapes are rejected', () => {
  const good = message({ type: 'app', from: 'a', to: 'b', term: 2, index: 1, logTerm: 1, entries: [{ term: 2, index: 2, type: 'normal', data: new Uint8Array(0) }] })
  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['array', []],
    ['unknown type', { ...good, type: 'bogus' }],
    ['negative term', { ...good, term: -1 }],
    ['fractional index', { ...good, index: 1.5 }],
    ['huge index', { ...good, index: 2 ** 60 }],
    ['empty from', { ...good, from: '' }],
    ['from == to', { ...good, to: 'a' }],
    ['reject not boolean', { ...good, reject: 'no' }],
    ['entries not array', { ...good, entries: {} }],
    ['entry data not bytes', { ...good, entries: [{ term: 2, index: 2, type: 'normal', data: 'x' }] }],
    ['entries not contiguous', { ...good, entries: [{ term: 2, index: 3, type: 'normal', data: new Uint8Array(0) }] }],
    ['entry term above message term', { ...good, entries: [{ term: 5, index: 2, type: 'normal', data: new Uint8Array(0) }] }],
    ['entry term below prev term', { ...good, logTerm: 2, entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(0) }] }],
    ['term-less app', { ...good, term: 0 }],
    ['prop with a term', { ...good, type: 'prop', term: 3 }],
    ['snap without snapshot', { ...good, type: 'snap', entries: [] }],
    ['snapshot of wrong shape', { ...good, type: 'snap', entries: [], snapshot: { metadata: { index: 'x' } } }],
    ['too many voters', { ...good, type: 'snap', entries: [], snapshot: { metadata: { index: 3, term: 1, confState: { voters: ['1', '2', '3', '4', '5', '6'], learners: [] } }, data: new Uint8Array(0) } }],
    ['readIndex without context', { ...good, type: 'readIndex', term: 0, entries: [] }],
    ['entries on a vote', { ...good, type: 'vote' }]
  ]
  for (const [why, value] of bad) assert.equal(parseMessage(value), undefined, why)
})

test('step() drops malformed and misaddressed messages without throwing or changing state', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  c.propose('a', 'x')
  const b = c.get('b').node
  const before = JSON.stringify(b.status())
  const rng = new SimRandom(99)
  const junk: unknown[] = [undefined, 0, 'app', {}, { type: 'app' }, new Uint8Array(3)]
  for (const m of sampleMessages()) {
    junk.push({ ...m, to: 'zz' }) // misaddressed
    for (const field of Object.keys(m)) {
      junk.push({ ...m, [field]: rng.pick([null, -1, 'x', {}, [], NaN, Infinity, 2 ** 53]) })
    }
  }
  let dropped = 0
  for (const j of junk) {
    assert.doesNotThrow(() => { if (!b.step(j)) dropped++ })
  }
  assert.ok(dropped > junk.length / 2)
  // Whatever was accepted was well-formed and from the past or harmless; the node is still a healthy follower.
  c.settle()
  c.propose('a', 'y')
  assert.equal(b.status().commit, c.raft('a').log.committed)
  assert.equal(JSON.parse(before).role, 'follower')
})

test('well-formed messages with out-of-range indexes are answered per the paper, not applied', () => {
  const c = new TestCluster(['a', 'b', 'c'])
  c.elect('a')
  const b = c.get('b').node
  const term = c.raft('a').term
  const last = c.raft('b').log.lastIndex()
  // An append far beyond b's log: rejected with a hint, nothing appended.
  b.step(message({ type: 'app', from: 'a', to: 'b', term, index: last + 100, logTerm: term, commit: last + 200, entries: [{ term, index: last + 101, type: 'normal', data: new Uint8Array(0) }] }))
  assert.equal(c.raft('b').log.lastIndex(), last)
  const rd = b.ready()
  assert.ok(rd.messages.some(m => m.type === 'appResp' && m.reject && m.rejectHint <= last))
  b.advance(rd)
  // An ack from a node that is not a member is ignored by the leader.
  assert.equal(c.get('a').node.step(message({ type: 'appResp', from: 'stranger', to: 'a', term, index: 1_000_000 })), true)
  assert.equal(c.raft('a').log.committed <= c.raft('a').log.lastIndex(), true)
})

test('validate() rejects bad settings and fills defaults', () => {
  const random = (): number => 0
  const d = validate({ id: 'a', random })
  assert.equal(d.electionTicks, 10)
  assert.equal(d.heartbeatTicks, 1)
  assert.equal(d.preVote, true)
  assert.equal(d.checkQuorum, true)
  assert.ok(Object.isFrozen(d))
  const bad = [
    { id: '', random },
    { id: 'a', random, electionTicks: 1, heartbeatTicks: 1 },
    { id: 'a', random, electionTicks: 0 },
    { id: 'a', random, heartbeatTicks: 1.5 },
    { id: 'a', random, applied: -1 },
    { id: 'a', random, preVote: 'yes' },
    { id: 'a', random, unknownSetting: 1 },
    { id: 'a' }
  ]
  for (const b of bad) {
    assert.throws(() => validate(b as never), (e: unknown) => e instanceof GitConfigError && e.code === 'INVALID_ARGUMENT', JSON.stringify(b))
  }
})

test('fuzz: random well-formed messages with arbitrary terms and indexes never make step() throw', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new SimRandom(seed)
    const c = new TestCluster(['a', 'b', 'c'], { seed })
    c.elect('a')
    c.propose('a', 'x')
    const ids = ['a', 'b', 'c', 'stranger']
    for (let i = 0; i < 200; i++) {
      const type = rng.pick(messageTypes)
      const termless = type === 'prop' || type === 'readIndex' || type === 'transferLeader'
      const term = termless ? 0 : rng.int(1, 6)
      const index = rng.int(0, 12)
      const logTerm = rng.int(0, term === 0 ? 3 : term)
      const entries = type === 'app'
        ? Array.from({ length: rng.int(0, 3) }, (_, k) => ({ term: Math.max(logTerm, 1, Math.min(term, logTerm + k)), index: index + 1 + k, type: 'normal' as const, data: new Uint8Array([k]) }))
        : type === 'prop' ? [{ term: 0, index: 0, type: rng.pick(['normal', 'confChange'] as const), data: new Uint8Array([1]) }] : []
      const to = rng.pick(['a', 'b', 'c'])
      const from = rng.pick(ids.filter(x => x !== to))
      const m = message({
        type, from, to, term, index, logTerm, entries,
        commit: rng.int(0, 15),
        reject: rng.chance(0.5),
        rejectHint: rng.int(0, 12),
        snapshot: type === 'snap' ? { metadata: { index: rng.int(1, 12), term: rng.int(1, term), confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: new Uint8Array(0) } : null,
        context: type === 'readIndex' || type === 'readIndexResp' || rng.chance(0.3) ? new Uint8Array([rng.int(0, 3)]) : null,
        transfer: rng.chance(0.1)
      })
      assert.notEqual(parseMessage(m), undefined, `generated message must be well-formed: ${JSON.stringify(m)}`)
      assert.doesNotThrow(() => {
        c.get(to).node.step(m)
        c.settle()
        if (rng.chance(0.2)) c.tick(undefined, 1)
      }, `seed ${seed} message ${i}: ${m.type}`)
    }
  }
})
