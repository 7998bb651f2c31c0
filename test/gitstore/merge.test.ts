import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { Operation, Version } from '../../src/types.js'
import { compareEntries, encodeMeta, type TreeEntry } from '../../src/gitstore/entry.js'
import { HybridLogicalClock, formatVersion } from '../../src/gitstore/hlc.js'
import {
  compareEntriesTotal, diffStates, expireDue, expiryTombstone, isExpired, isWellFormedEntry, liveEntry, mergeCommitMeta,
  mergeStates, sameEntry, type KeyState
} from '../../src/gitstore/merge.js'

// fast-check draws from its own generator, seeded here so every run is reproducible; on failure it prints the seed
// and the counterexample path. Replay with FC_SEED=<seed>, or explore with a fresh seed the same way.
const seed = Number(process.env.FC_SEED ?? 20261126)
const runs = { seed, numRuns: Number(process.env.FC_RUNS ?? 400) }

// ---- Generators ---------------------------------------------------------------------------------------------

const keys = ['/a', '/b', '/c', '/d', '/e/f']
const nodes = ['n1', 'n2', 'n3']

const versionArb: fc.Arbitrary<Version> = fc.record({
  wallMs: fc.integer({ min: 1, max: 30 }),
  counter: fc.integer({ min: 0, max: 2 }),
  node: fc.constantFrom(...nodes)
})

/**
 * What an honest cluster would hold for a given key and version: exactly one write per version (the version names
 * its node), so its op, value, deadline and author are functions of (key, version). The entry is that write or, when
 * it has a deadline, possibly the expiry tombstone every node derives from it.
 */
function honestWrite (key: string, v: Version): TreeEntry {
  const h = (v.wallMs * 7 + v.counter * 3 + nodes.indexOf(v.node) + key.length) % 5
  const op: Operation = h === 0 ? 'delete' : 'set'
  const expiresAtMs = op === 'set' && h >= 3 ? v.wallMs + 5 * (h - 2) : null
  return {
    meta: { op, version: v, expiresAtMs, author: `client-${v.node}`, raftIndex: null },
    valueOid: op === 'delete' ? null : `blob:${key}:${formatVersion(v)}`
  }
}

const honestEntryArb = (key: string): fc.Arbitrary<TreeEntry> =>
  fc.tuple(versionArb, fc.boolean()).map(([v, expired]) => {
    const w = honestWrite(key, v)
    return expired && w.meta.expiresAtMs !== null ? expiryTombstone(w) : w
  })

const honestStateArb: fc.Arbitrary<Map<string, TreeEntry>> =
  fc.subarray(keys).chain(ks => fc.tuple(...ks.map(k => honestEntryArb(k).map(e => [k, e] as const))))
    .map(pairs => new Map(pairs))

/** Anything a corrupt or hostile peer could send: equal versions with different ops, values, deadlines, authors. */
const hostileEntryArb: fc.Arbitrary<TreeEntry> = fc.record({
  op: fc.constantFrom<Operation>('set', 'delete', 'expire', 'cas', 'rollback'),
  version: fc.record({ wallMs: fc.integer({ min: 1, max: 3 }), counter: fc.constant(0), node: fc.constantFrom('n1', 'n2') }),
  expiresAtMs: fc.option(fc.integer({ min: 1, max: 4 })),
  author: fc.constantFrom('x', 'y'),
  raftIndex: fc.option(fc.integer({ min: 1, max: 2 })),
  value: fc.option(fc.constantFrom('o1', 'o2'))
}).map(({ value, ...meta }) => ({ meta, valueOid: value }))

const hostileStateArb: fc.Arbitrary<Map<string, TreeEntry>> =
  fc.array(fc.tuple(fc.constantFrom('/a', '/b'), hostileEntryArb), { maxLength: 4 }).map(pairs => new Map(pairs))

const stateArbs = { honest: honestStateArb, hostile: hostileStateArb }

/** A state as comparable data: sorted [key, meta text, value id] triples. */
function canon (state: KeyState): Array<[string, string, string | null]> {
  return [...state].map(([k, e]): [string, string, string | null] => [k, encodeMeta(e.meta), e.valueOid])
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
}

// ---- Algebra ------------------------------------------------------------------------------------------------

for (const [name, arb] of Object.entries(stateArbs)) {
  test(`merge is commutative (${name} states)`, () => {
    fc.assert(fc.property(arb, arb, (a, b) => {
      assert.deepEqual(canon(mergeStates(a, b)), canon(mergeStates(b, a)))
    }), runs)
  })

  test(`merge is associative (${name} states)`, () => {
    fc.assert(fc.property(arb, arb, arb, (a, b, c) => {
      assert.deepEqual(canon(mergeStates(mergeStates(a, b), c)), canon(mergeStates(a, mergeStates(b, c))))
    }), runs)
  })

  test(`merge is idempotent (${name} states)`, () => {
    fc.assert(fc.property(arb, arb, (a, b) => {
      assert.deepEqual(canon(mergeStates(a, a)), canon(a))
      const ab = mergeStates(a, b)
      assert.deepEqual(canon(mergeStates(ab, b)), canon(ab))
      assert.deepEqual(canon(mergeStates(ab, a)), canon(ab))
    }), runs)
  })

  test(`merge keeps, per key, an entry one side had and that no entry of either side beats (${name} states)`, () => {
    fc.assert(fc.property(arb, arb, (a, b) => {
      const merged = mergeStates(a, b)
      assert.deepEqual([...merged.keys()], [...new Set([...a.keys(), ...b.keys()])].sort())
      for (const [key, m] of merged) {
        const sides = [a.get(key), b.get(key)].filter((e): e is TreeEntry => e !== undefined)
        assert.ok(sides.some(e => sameEntry(e, m)), `merge invented an entry for ${key}`)
        for (const e of sides) assert.ok(compareEntriesTotal(m, e) >= 0, `merge kept a losing entry for ${key}`)
      }
    }), runs)
  })
}

test('no write is lost unless a higher version of the same key supersedes it', () => {
  fc.assert(fc.property(honestStateArb, honestStateArb, (a, b) => {
    const merged = mergeStates(a, b)
    for (const side of [a, b]) {
      for (const [key, e] of side) {
        const m = merged.get(key)
        assert.ok(m !== undefined, `key ${key} vanished`)
        if (sameEntry(m, e)) continue
        // Superseded: by a strictly higher version, or by the expiry tombstone of this very write.
        const byExpiry = m.meta.op === 'expire' && formatVersion(m.meta.version) === formatVersion(e.meta.version)
        assert.ok(compareEntries(m, e) > 0 && (byExpiry || formatVersion(m.meta.version) !== formatVersion(e.meta.version)),
          `${key}: ${encodeMeta(e.meta)} replaced by ${encodeMeta(m.meta)}`)
      }
    }
  }), runs)
})

test('equal versions with different content merge the same way in both orders', () => {
  const v = { wallMs: 5, counter: 0, node: 'n1' }
  const set: TreeEntry = { meta: { op: 'set', version: v, expiresAtMs: null, author: 'a', raftIndex: null }, valueOid: 'o1' }
  const other: TreeEntry = { ...set, valueOid: 'o2' }
  const del: TreeEntry = { meta: { ...set.meta, op: 'delete' }, valueOid: null }
  for (const [x, y] of [[set, other], [set, del], [other, del]]) {
    const ab = mergeStates(new Map([['/k', x]]), new Map([['/k', y]]))
    const ba = mergeStates(new Map([['/k', y]]), new Map([['/k', x]]))
    assert.deepEqual(canon(ab), canon(ba))
  }
})

// ---- Tombstones and TTL -------------------------------------------------------------------------------------

const orderedVersionsArb = fc.tuple(versionArb, versionArb)
  .filter(([x, y]) => formatVersion(x) !== formatVersion(y))
  .map(([x, y]) => (compareEntries(honestWrite('/k', x), honestWrite('/k', y)) < 0 ? [x, y] : [y, x]))

function entry (op: Operation, version: Version, expiresAtMs: number | null = null): TreeEntry {
  return { meta: { op, version, expiresAtMs, author: 'client', raftIndex: null }, valueOid: op === 'set' ? `oid-${formatVersion(version)}` : null }
}

test('a tombstone beats an older set in either order, and the older set cannot resurrect the key later', () => {
  fc.assert(fc.property(orderedVersionsArb, ([older, newer]) => {
    const set = new Map([['/k', entry('set', older)]])
    const del = new Map([['/k', entry('delete', newer)]])
    for (const merged of [mergeStates(set, del), mergeStates(del, set), mergeStates(mergeStates(del, set), set)]) {
      assert.equal(merged.get('/k')?.meta.op, 'delete')
      assert.equal(liveEntry(merged.get('/k'), 0), null)
    }
  }), runs)
})

test('a renewal beats the expiry tombstone of the write it renews, whichever arrives first', () => {
  fc.assert(fc.property(orderedVersionsArb, fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: 1, max: 50 })),
    ([older, newer], ttlMs, renewTtlMs) => {
      const write = entry('set', older, older.wallMs + ttlMs)
      const renewal = entry('set', newer, renewTtlMs === null ? null : newer.wallMs + renewTtlMs)
      const deadline = older.wallMs + ttlMs
      // One node expired the write at its deadline; another renewed it (possibly before the deadline).
      const expiredThere = mergeStates(new Map([['/k', write]]), expireDue(new Map([['/k', write]]), deadline))
      assert.equal(expiredThere.get('/k')?.meta.op, 'expire')
      const renewedHere = new Map([['/k', renewal]])
      for (const merged of [mergeStates(expiredThere, renewedHere), mergeStates(renewedHere, expiredThere)]) {
        assert.ok(sameEntry(merged.get('/k') as TreeEntry, renewal))
      }
    }), runs)
})

/** What a node does at time t: expire everything due. */
function expireAt (state: KeyState, nowMs: number): Map<string, TreeEntry> {
  return mergeStates(state, expireDue(state, nowMs))
}

test('expiry then merge converges whichever node expires first, and at whatever times', () => {
  fc.assert(fc.property(honestStateArb, honestStateArb, fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }),
    (s1, s2, t1, t2) => {
      const [early, late] = t1 <= t2 ? [t1, t2] : [t2, t1]
      const reference = canon(expireAt(mergeStates(s1, s2), late))
      assert.deepEqual(canon(expireAt(mergeStates(expireAt(s1, early), s2), late)), reference)
      assert.deepEqual(canon(expireAt(mergeStates(s1, expireAt(s2, early)), late)), reference)
      assert.deepEqual(canon(expireAt(mergeStates(expireAt(s1, late), expireAt(s2, early)), late)), reference)
      // Expiring again changes nothing; and nothing readable is expired.
      const done = expireAt(mergeStates(s1, s2), late)
      assert.equal(expireDue(done, late).size, 0)
      for (const e of done.values()) assert.equal(isExpired(e, late), false)
    }), runs)
})

test('expiry tombstones are derived from the write alone, at the deadline and not before', () => {
  const v = { wallMs: 100, counter: 2, node: 'n2' }
  const write = entry('set', v, 150)
  assert.deepEqual(expiryTombstone(write), {
    meta: { op: 'expire', version: v, expiresAtMs: 150, author: 'client', raftIndex: null }, valueOid: null
  })
  const state = new Map([['/k', write], ['/never', entry('set', v)], ['/gone', entry('delete', v)]])
  assert.equal(expireDue(state, 149).size, 0)
  assert.equal(liveEntry(write, 149), write)
  assert.deepEqual([...expireDue(state, 150).keys()], ['/k'])
  assert.equal(liveEntry(write, 150), null)
  // Keys written through Raft expire through Raft, not here; reads still hide them.
  const strong: TreeEntry = { ...write, meta: { ...write.meta, raftIndex: 7 } }
  assert.equal(expireDue(new Map([['/locks/x', strong]]), 1000).size, 0)
  assert.equal(liveEntry(strong, 1000), null)
})

// ---- Diverged replicas --------------------------------------------------------------------------------------

interface PlannedWrite { readonly replica: number, readonly key: string, readonly op: 'set' | 'delete', readonly ttlMs: number | null, readonly advanceMs: number }

const plannedWriteArb: fc.Arbitrary<PlannedWrite> = fc.record({
  replica: fc.integer({ min: 0, max: 2 }),
  key: fc.constantFrom(...keys),
  op: fc.constantFrom<'set' | 'delete'>('set', 'set', 'delete'),
  ttlMs: fc.option(fc.integer({ min: 1, max: 20 })),
  advanceMs: fc.integer({ min: 0, max: 3 })
})

test('diverged replicas merge to one state in every order, keeping every write not superseded', () => {
  fc.assert(fc.property(honestStateArb, fc.array(plannedWriteArb, { maxLength: 30 }), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }),
    (base, plan, skewsMs) => {
      let wallMs = 40
      const clocks = [0, 1, 2].map(i => new HybridLogicalClock(`r${i}`, () => wallMs + skewsMs[i]))
      const replicas = [0, 1, 2].map(() => new Map(base))
      const written: Array<{ key: string, entry: TreeEntry }> = []
      for (const w of plan) {
        wallMs += w.advanceMs
        const version = clocks[w.replica].now()
        const e = entry(w.op, version, w.op === 'set' && w.ttlMs !== null ? version.wallMs + w.ttlMs : null)
        replicas[w.replica] = mergeStates(replicas[w.replica], new Map([[w.key, e]]))
        written.push({ key: w.key, entry: e })
      }
      const [r0, r1, r2] = replicas
      const reference = canon(mergeStates(mergeStates(r0, r1), r2))
      for (const order of [[r0, r2, r1], [r1, r0, r2], [r1, r2, r0], [r2, r0, r1], [r2, r1, r0]]) {
        assert.deepEqual(canon(mergeStates(mergeStates(order[0], order[1]), order[2])), reference)
      }
      const merged = mergeStates(mergeStates(r0, r1), r2)
      for (const { key, entry: e } of written) {
        const m = merged.get(key) as TreeEntry
        assert.ok(sameEntry(m, e) || compareEntries(m, e) > 0, `write to ${key} lost`)
      }
    }), runs)
})

// ---- Diff ---------------------------------------------------------------------------------------------------

test('diffStates lists exactly the keys a merge changed, and replaying it rebuilds the result', () => {
  fc.assert(fc.property(honestStateArb, honestStateArb, (before, incoming) => {
    const after = mergeStates(before, incoming)
    const changes = diffStates(before, after)
    assert.deepEqual(diffStates(after, after), [])
    const rebuilt = new Map(before)
    for (const c of changes) {
      assert.ok(c.before === null || c.after === null || !sameEntry(c.before, c.after))
      if (c.after === null) rebuilt.delete(c.key)
      else rebuilt.set(c.key, c.after)
    }
    assert.deepEqual(canon(rebuilt), canon(after))
    const changedKeys = changes.map(c => c.key)
    assert.deepEqual(changedKeys, [...changedKeys].sort())
  }), runs)
  const e = entry('set', { wallMs: 1, counter: 0, node: 'n1' })
  assert.deepEqual(diffStates(new Map([['/k', e]]), new Map()), [{ key: '/k', before: e, after: null }])
  // A copy is not a change.
  assert.deepEqual(diffStates(new Map([['/k', e]]), new Map([['/k', { ...e, meta: { ...e.meta } }]])), [])
})

// ---- Merge commit metadata ----------------------------------------------------------------------------------

test('merge commit metadata depends only on the two heads, not on which node merges', () => {
  const commitArb = fc.stringMatching(/^[0-9a-f]{40}$/)
  const parentArb = fc.record({ commit: commitArb, authorTimeSec: fc.integer({ min: 0, max: 2_000_000_000 }) })
  fc.assert(fc.property(parentArb, parentArb, (a, b) => {
    fc.pre(a.commit !== b.commit)
    const ab = mergeCommitMeta(a, b)
    assert.deepEqual(mergeCommitMeta(b, a), ab)
    assert.ok(ab.parents[0] < ab.parents[1])
    assert.deepEqual([...ab.parents].sort(), [a.commit, b.commit].sort())
    assert.equal(ab.author.timeSec, Math.max(a.authorTimeSec, b.authorTimeSec))
    assert.deepEqual(ab.committer, ab.author)
    assert.ok(ab.message.includes(a.commit) && ab.message.includes(b.commit))
  }), runs)
  const c1 = { commit: 'a'.repeat(40), authorTimeSec: 10 }
  const c2 = { commit: 'b'.repeat(64), authorTimeSec: 5 }
  assert.deepEqual(mergeCommitMeta(c2, c1).parents, [c1.commit, c2.commit])
  assert.throws(() => mergeCommitMeta(c1, c1), /with itself/)
  assert.throws(() => mergeCommitMeta(c1, { commit: 'HEAD', authorTimeSec: 1 }), /commit id/)
  assert.throws(() => mergeCommitMeta(c1, { commit: 'c'.repeat(40), authorTimeSec: -1 }), /invalid date/)
})

test('entries whose op and value disagree are recognised as corrupt', () => {
  const v = { wallMs: 1, counter: 0, node: 'n1' }
  assert.equal(isWellFormedEntry(entry('set', v)), true)
  assert.equal(isWellFormedEntry(entry('delete', v)), true)
  assert.equal(isWellFormedEntry(expiryTombstone(entry('set', v, 5))), true)
  assert.equal(isWellFormedEntry({ ...entry('set', v), valueOid: null }), false)
  assert.equal(isWellFormedEntry({ ...entry('delete', v), valueOid: 'oid' }), false)
  assert.equal(isWellFormedEntry({ ...expiryTombstone(entry('set', v, 5)), valueOid: 'oid' }), false)
  // A rollback may restore a value or restore absence.
  assert.equal(isWellFormedEntry({ ...entry('rollback', v), valueOid: null }), true)
  assert.equal(isWellFormedEntry({ ...entry('rollback', v), valueOid: 'oid' }), true)
  fc.assert(fc.property(honestStateArb, s => [...s.values()].every(isWellFormedEntry)), runs)
})
