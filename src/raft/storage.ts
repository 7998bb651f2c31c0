// The storage interface of the Raft core. Reads are synchronous because the state machine is: an implementation
// keeps the retained log in memory (bounded by compaction) and writes through to disk. Writes may be asynchronous;
// the host loop awaits them before it sends the messages of the same Ready (persist, then send).
import type { ConfState, Entry, HardState, Snapshot } from './types.js'

export interface InitialState {
  readonly hardState: HardState
  readonly confState: ConfState
}

/** What the state machine reads. */
export interface RaftStorage {
  initialState (): InitialState
  /**
   * Entries in [lo, hi), trimmed to `maxBytes` (at least one entry). Returns undefined when lo is compacted away.
   * Asking beyond lastIndex()+1 is a programming error.
   */
  entries (lo: number, hi: number, maxBytes: number): Entry[] | undefined
  /** Term of entry i, for firstIndex()-1 <= i <= lastIndex(); undefined outside that range. */
  term (i: number): number | undefined
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex (): number
  lastIndex (): number
  /** The latest snapshot (the empty snapshot when none). */
  snapshot (): Snapshot
}

/** What the host loop writes. MemoryStorage completes synchronously, LevelStorage asynchronously. */
export interface WritableRaftStorage extends RaftStorage {
  setHardState (hs: HardState): void | Promise<void>
  /** Appends entries, replacing any existing entries from entries[0].index on (a conflicting suffix). */
  append (entries: readonly Entry[]): void | Promise<void>
  /** Replaces the whole log with a snapshot received from the leader. Older snapshots are ignored. */
  applySnapshot (snapshot: Snapshot): void | Promise<void>
  /** Records a snapshot of the application state at `index` (<= applied); the log is kept. */
  createSnapshot (index: number, confState: ConfState, data: Uint8Array): void | Promise<void>
  /** Drops the entries up to `index` (<= the snapshot's index); followers further behind get the snapshot. */
  compact (index: number): void | Promise<void>
}
