// The part of the log not yet persisted: entries (and possibly an incoming snapshot) that the next Ready hands to
// the host to write. `offset` is the index of entries[0]. Once the host has persisted them, advance() calls
// stableTo()/stableSnapTo() and they are dropped from here (the storage answers for them from then on).
import type { Entry, Snapshot } from './types.js'

export class UnstableLog {
  snapshot: Snapshot | null = null
  entries: Entry[] = []
  offset: number

  constructor (offset: number) {
    this.offset = offset
  }

  /** First index held here, only when a snapshot is pending (then the log starts after it). */
  maybeFirstIndex (): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1
  }

  maybeLastIndex (): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1
    if (this.snapshot !== null) return this.snapshot.metadata.index
    return undefined
  }

  maybeTerm (i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== null && this.snapshot.metadata.index === i) return this.snapshot.metadata.term
      return undefined
    }
    const last = this.maybeLastIndex()
    if (last === undefined || i > last) return undefined
    return this.entries[i - this.offset].term
  }

  /** The host persisted entries up to (index, term); drop them unless they were replaced meanwhile. */
  stableTo (index: number, term: number): void {
    const t = this.maybeTerm(index)
    if (t === undefined || t !== term || index < this.offset) return
    this.entries = this.entries.slice(index + 1 - this.offset)
    this.offset = index + 1
  }

  stableSnapTo (index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) this.snapshot = null
  }

  restore (snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1
    this.entries = []
    this.snapshot = snapshot
  }

  truncateAndAppend (ents: readonly Entry[]): void {
    const from = ents[0].index
    if (from === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents)
    } else if (from <= this.offset) {
      // Replaces everything held here; the storage is told to truncate by the index of the first appended entry.
      this.offset = from
      this.entries = ents.slice()
    } else {
      this.entries = this.entries.slice(0, from - this.offset).concat(ents)
    }
  }

  /** Entries in [lo, hi), which the caller has checked lie within this unstable log. */
  slice (lo: number, hi: number): Entry[] {
    if (lo > hi || lo < this.offset || hi > this.offset + this.entries.length) {
      throw new Error(`unstable slice [${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length})`)
    }
    return this.entries.slice(lo - this.offset, hi - this.offset)
  }
}
