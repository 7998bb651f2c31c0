// In-memory Raft storage: used by the simulator, the tests and the benchmark, and as the in-memory cache of
// LevelStorage. Like etcd's MemoryStorage, `ents[0]` is a placeholder holding the snapshot's index and term, so
// term(firstIndex()-1) is always answerable.
import type { WritableRaftStorage, InitialState } from './storage.js'
import { emptyHardState, emptySnapshot, limitSize } from './types.js'
import type { ConfState, Entry, HardState, Snapshot } from './types.js'

export class MemoryStorage implements WritableRaftStorage {
  private hardState: HardState = emptyHardState
  private snap: Snapshot = emptySnapshot
  private ents: Entry[] = [{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]

  initialState (): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState }
  }

  entries (lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const offset = this.ents[0].index
    if (lo <= offset) return undefined
    if (hi > this.lastIndex() + 1) throw new Error(`entries(${lo}, ${hi}) beyond lastIndex ${this.lastIndex()}`)
    if (lo >= hi) return []
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes)
  }

  term (i: number): number | undefined {
    const offset = this.ents[0].index
    if (i < offset || i > this.lastIndex()) return undefined
    return this.ents[i - offset].term
  }

  firstIndex (): number { return this.ents[0].index + 1 }
  lastIndex (): number { return this.ents[0].index + this.ents.length - 1 }
  snapshot (): Snapshot { return this.snap }

  setHardState (hs: HardState): void {
    this.hardState = hs
  }

  append (entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const first = this.firstIndex()
    const last = entries[0].index + entries.length - 1
    if (last < first) return // entirely compacted already
    // Entries before our first index are already in the snapshot.
    const fresh = first > entries[0].index ? entries.slice(first - entries[0].index) : entries
    const offset = fresh[0].index - this.ents[0].index
    if (offset > this.ents.length) {
      throw new Error(`missing log entry: last ${this.lastIndex()}, appending at ${fresh[0].index}`)
    }
    if (offset === this.ents.length) {
      // The common case, appending at the end: amortised O(entries appended).
      for (const e of fresh) this.ents.push(e)
    } else {
      this.ents = this.ents.slice(0, offset).concat(fresh)
    }
  }

  applySnapshot (snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index) return
    this.snap = snapshot
    this.ents = [{ term: snapshot.metadata.term, index: snapshot.metadata.index, type: 'normal', data: new Uint8Array(0) }]
  }

  createSnapshot (index: number, confState: ConfState, data: Uint8Array): void {
    if (index <= this.snap.metadata.index) return
    const term = this.term(index)
    if (term === undefined) throw new Error(`snapshot index ${index} outside the log [${this.firstIndex()}, ${this.lastIndex()}]`)
    this.snap = { metadata: { index, term, confState }, data }
  }

  compact (index: number): void {
    const offset = this.ents[0].index
    if (index <= offset) return
    if (index > this.snap.metadata.index) throw new Error(`compact(${index}) beyond the snapshot at ${this.snap.metadata.index}`)
    const term = this.ents[index - offset].term
    // Keep a placeholder at `index` so term(firstIndex()-1) stays answerable.
    const placeholder: Entry = { term, index, type: 'normal', data: new Uint8Array(0) }
    this.ents = [placeholder].concat(this.ents.slice(index - offset + 1))
  }

  /** Loads persisted state at start-up (LevelStorage). */
  load (hardState: HardState, snapshot: Snapshot, first: { index: number, term: number }, entries: readonly Entry[]): void {
    this.hardState = hardState
    this.snap = snapshot
    this.ents = [{ term: first.term, index: first.index, type: 'normal', data: new Uint8Array(0) }]
    this.append(entries)
  }
}
