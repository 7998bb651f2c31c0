// Table tests of the log's rules, and a random test of RaftLog + MemoryStorage against a plain array.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RaftLog } from '../../src/raft/log.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import { MajorityConfig } from '../../src/raft/quorum.js'
import type { Entry } from '../../src/raft/types.js'
import { SimRandom } from '../sim/random.js'

const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index & 255]) })

function logOf (terms: readonly number[], committed = 0): RaftLog {
  const s = new MemoryStorage()
  s.append(terms.map((t, i) => ent(i + 1, t)))
  const l = new RaftLog(s, Infinity)
  l.committed = committed
  return l
}

test('maybeAppend (Raft §5.3 receiver rules), table', () => {
  // Existing log terms [1, 2, 3] (indexes 1..3), committed 1.
  const rows: Array<{ index: number, logTerm: number, commit: number, ents: Entry[], want: number | undefined, wantCommit: number, wantTerms: number[] }> = [
    { index: 3, logTerm: 2, commit: 3, ents: [], want: undefined, wantCommit: 1, wantTerms: [1, 2, 3] }, // prev term mismatch
    { index: 4, logTerm: 3, commit: 3, ents: [], want: undefined, wantCommit: 1, wantTerms: [1, 2, 3] }, // prev beyond log
    { index: 3, logTerm: 3, commit: 3, ents: [], want: 3, wantCommit: 3, wantTerms: [1, 2, 3] }, // heartbeat-like
    { index: 3, logTerm: 3, commit: 9, ents: [ent(4, 4)], want: 4, wantCommit: 4, wantTerms: [1, 2, 3, 4] }, // commit capped at last new
    { index: 2, logTerm: 2, commit: 2, ents: [ent(3, 3)], want: 3, wantCommit: 2, wantTerms: [1, 2, 3] }, // already have it
    { index: 1, logTerm: 1, commit: 2, ents: [ent(2, 4)], want: 2, wantCommit: 2, wantTerms: [1, 4] }, // conflict truncates
    { index: 2, logTerm: 2, commit: 0, ents: [ent(3, 3), ent(4, 4)], want: 4, wantCommit: 1, wantTerms: [1, 2, 3, 4] }
  ]
  for (const r of rows) {
    const l = logOf([1, 2, 3], 1)
    assert.equal(l.maybeAppend(r.index, r.logTerm, r.commit, r.ents), r.want, JSON.stringify(r))
    assert.equal(l.committed, r.wantCommit, JSON.stringify(r))
    assert.deepEqual(l.entriesFrom(1).map(e => e.term), r.wantTerms, JSON.stringify(r))
  }
})

test('findConflictByTerm: the last index at or below `index` with a term at or below `term`', () => {
  const l = logOf([1, 1, 2, 2, 4, 4, 5])
  const rows: Array<[number, number, number, number]> = [
    // index, term -> index, term
    [7, 5, 7, 5], [7, 4, 6, 4], [7, 3, 4, 2], [7, 1, 2, 1], [7, 0, 0, 0], [3, 9, 3, 2], [99, 2, 4, 2]
  ]
  for (const [i, t, wi, wt] of rows) assert.deepEqual(l.findConflictByTerm(i, t), { index: wi, term: wt }, `${i},${t}`)
})

test('isUpToDate (Raft §5.4.1), table', () => {
  const l = logOf([1, 2, 2])
  assert.equal(l.isUpToDate(3, 2), true)
  assert.equal(l.isUpToDate(2, 2), false)
  assert.equal(l.isUpToDate(1, 3), true)
  assert.equal(l.isUpToDate(9, 1), false)
})

test('majority commit index and vote results, table', () => {
  const q = new MajorityConfig(['a', 'b', 'c', 'd', 'e'])
  const match = new Map([['a', 9], ['b', 7], ['c', 5], ['d', 3], ['e', 1]])
  assert.equal(q.committedIndex(id => match.get(id)), 5)
  assert.equal(new MajorityConfig(['a', 'b', 'c', 'd']).committedIndex(id => match.get(id)), 5)
  assert.equal(new MajorityConfig(['a']).committedIndex(id => match.get(id)), 9)
  assert.equal(q.voteResult(new Map([['a', true], ['b', true]])), 'pending')
  assert.equal(q.voteResult(new Map([['a', true], ['b', true], ['c', true]])), 'won')
  assert.equal(q.voteResult(new Map([['a', false], ['b', false], ['c', false]])), 'lost')
})

test('random operations on RaftLog + MemoryStorage agree with a plain array (reference model)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new SimRandom(seed)
    const storage = new MemoryStorage()
    const log = new RaftLog(storage, Infinity)
    let model: Entry[] = [] // model[i] is the entry at index i+1
    let term = 1
    let compactedTo = 0
    for (let step = 0; step < 300; step++) {
      const op = rng.int(0, 9)
      if (op < 4) {
        // Leader-style append, possibly truncating an uncommitted suffix.
        const from = rng.int(log.committed + 1, model.length + 1)
        if (from <= compactedTo) continue
        if (rng.chance(0.3)) term++
        const n = rng.int(1, 4)
        const ents = Array.from({ length: n }, (_, i) => ent(from + i, term))
        log.append(ents)
        model = model.slice(0, from - 1).concat(ents)
      } else if (op < 6) {
        // Persist what is unstable (the host loop's step 1 + advance).
        const unstable = log.unstableEntries()
        storage.append(unstable)
        if (unstable.length > 0) log.stableTo(unstable[unstable.length - 1].index, unstable[unstable.length - 1].term)
      } else if (op < 7) {
        if (model.length > log.committed) log.commitTo(rng.int(log.committed, model.length))
      } else if (op < 8) {
        // Compact a prefix of what is committed and persisted (storage entries at or after the unstable offset
        // are about to be overwritten, as the host only compacts what it applied after persisting).
        const upTo = Math.min(log.committed, storage.lastIndex(), log.unstable.offset - 1)
        if (upTo > compactedTo) {
          const at = rng.int(compactedTo + 1, upTo)
          storage.createSnapshot(at, { voters: ['a'], learners: [] }, new Uint8Array(0))
          storage.compact(at)
          compactedTo = at
        }
      }
      // Observable behaviour matches the model.
      assert.equal(log.lastIndex(), model.length, `seed ${seed} step ${step}`)
      assert.equal(log.firstIndex(), compactedTo + 1)
      const i = rng.int(compactedTo + 1, Math.max(compactedTo + 1, model.length))
      if (i <= model.length) {
        assert.equal(log.term(i), model[i - 1].term, `term(${i}) seed ${seed} step ${step}`)
        assert.deepEqual(log.slice(i, model.length + 1, Infinity), model.slice(i - 1))
      }
      if (compactedTo > 0) assert.equal(log.slice(compactedTo, model.length + 1, Infinity), undefined)
    }
  }
})
