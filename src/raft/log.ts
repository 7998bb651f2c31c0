// The Raft log as the state machine sees it: persisted entries (storage) followed by unstable ones, plus the
// commit and applied indexes. Invariant: applied <= committed <= lastIndex().
import type { RaftStorage } from './storage.js'
import { UnstableLog } from './log-unstable.js'
import { limitSize } from './types.js'
import type { Entry, Snapshot } from './types.js'

export class RaftLog {
  readonly storage: RaftStorage
  readonly unstable: UnstableLog
  committed: number
  applied: number
  /** Byte budget of committed entries handed out per Ready. */
  private readonly committedBytesMax: number

  constructor (storage: RaftStorage, committedBytesMax: number) {
    this.storage = storage
    this.committedBytesMax = committedBytesMax
    const first = storage.firstIndex()
    const last = storage.lastIndex()
    this.unstable = new UnstableLog(last + 1)
    this.committed = first - 1
    this.applied = first - 1
  }

  firstIndex (): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex()
  }

  lastIndex (): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex()
  }

  /** Term of entry i, or undefined when it is compacted or beyond the log. */
  term (i: number): number | undefined {
    const dummy = this.firstIndex() - 1
    if (i < dummy || i > this.lastIndex()) return undefined
    return this.unstable.maybeTerm(i) ?? this.storage.term(i)
  }

  lastTerm (): number {
    return this.term(this.lastIndex()) ?? 0
  }

  matchTerm (i: number, term: number): boolean {
    return this.term(i) === term
  }

  /**
   * Raft §5.3 receiver rules: if the entry at `index` has `logTerm`, append `entries` (after dropping a conflicting
   * suffix) and advance the commit index to min(leaderCommit, index of the last new entry).
   * Returns the last index now known to match the leader, or undefined when the consistency check fails.
   */
  maybeAppend (index: number, logTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined
    const lastNew = index + entries.length
    const conflict = this.findConflict(entries)
    if (conflict !== 0) {
      // Raft §5.3 rule 3: never truncate committed entries; a leader asking for that is a bug or a forgery.
      if (conflict <= this.committed) return undefined
      this.append(entries.slice(conflict - (index + 1)))
    }
    this.commitTo(Math.min(leaderCommit, lastNew))
    return lastNew
  }

  append (entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex()
    if (entries[0].index - 1 < this.committed) {
      throw new Error(`append at ${entries[0].index} would overwrite committed index ${this.committed}`)
    }
    this.unstable.truncateAndAppend(entries)
    return this.lastIndex()
  }

  /** Index of the first entry whose term differs from ours (or that we lack); 0 when all match. */
  findConflict (entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index
    }
    return 0
  }

  /**
   * Fast backtracking (Raft §5.3, the optimisation at the end; etcd's findConflictByTerm): the largest index
   * <= `index` whose term is <= `term`, with that term. Entries above it cannot match an entry of `term`.
   */
  findConflictByTerm (index: number, term: number): { index: number, term: number } {
    let i = Math.min(index, this.lastIndex())
    for (; i >= 0; i--) {
      const t = this.term(i)
      if (t === undefined) return { index: i, term: 0 }
      if (t <= term) return { index: i, term: t }
    }
    return { index: 0, term: 0 }
  }

  unstableEntries (): Entry[] {
    return this.unstable.entries.slice()
  }

  /** Committed entries not yet handed to the application, within the per-Ready byte budget. */
  nextCommittedEntries (): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex())
    const hi = this.committed + 1
    if (lo >= hi) return []
    return this.slice(lo, hi, this.committedBytesMax) ?? []
  }

  hasNextCommittedEntries (): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1)
  }

  /** The pending snapshot to persist, if any. */
  unstableSnapshot (): Snapshot | null {
    return this.unstable.snapshot
  }

  /** The latest snapshot, for a follower that needs one. */
  snapshot (): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot()
  }

  commitTo (index: number): void {
    if (index <= this.committed) return
    if (index > this.lastIndex()) throw new Error(`commit ${index} beyond lastIndex ${this.lastIndex()}`)
    this.committed = index
  }

  appliedTo (index: number): void {
    if (index === 0) return
    if (index > this.committed || index < this.applied) {
      throw new Error(`applied(${index}) outside [prev applied ${this.applied}, committed ${this.committed}]`)
    }
    this.applied = index
  }

  stableTo (index: number, term: number): void { this.unstable.stableTo(index, term) }
  stableSnapTo (index: number): void { this.unstable.stableSnapTo(index) }

  /**
   * Raft §5.4.1: the candidate's log is at least as up-to-date as ours when its last term is higher, or equal with
   * an index at least ours.
   */
  isUpToDate (lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm()
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * Raft §5.4.2 (Figure 8): a leader commits by counting replicas only for an entry of its current term; earlier
   * entries are committed indirectly with it.
   */
  maybeCommit (maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex)
      return true
    }
    return false
  }

  restore (snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index
    this.unstable.restore(snapshot)
  }

  /** Entries in [lo, hi) within maxBytes (at least one), or undefined when lo is compacted. */
  slice (lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    if (lo >= hi) return []
    if (lo < this.firstIndex()) return undefined
    if (hi > this.lastIndex() + 1) throw new Error(`slice [${lo}, ${hi}) beyond lastIndex ${this.lastIndex()}`)
    let result: Entry[] = []
    const unstableFrom = this.unstable.offset
    if (lo < unstableFrom) {
      const stored = this.storage.entries(lo, Math.min(hi, unstableFrom), maxBytes)
      if (stored === undefined) return undefined
      // Storage trimmed by size: stop here.
      if (stored.length < Math.min(hi, unstableFrom) - lo) return stored
      result = stored
    }
    if (hi > unstableFrom) {
      result = result.concat(this.unstable.slice(Math.max(lo, unstableFrom), hi))
    }
    return limitSize(result, maxBytes)
  }

  /** All entries from i on (tests and invariant checks). */
  entriesFrom (i: number): Entry[] {
    return this.slice(i, this.lastIndex() + 1, Number.MAX_SAFE_INTEGER) ?? []
  }
}
