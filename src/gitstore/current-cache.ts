// Bounded in-memory cache of current entries in front of the LevelDB index, so hot reads cost a Map lookup.
// Evicts the oldest-written (or oldest-loaded) entries first, by entry count and by value bytes (limits.ts).
import type { CurrentEntry } from './index-db.js'

export class CurrentCache {
  private readonly entries = new Map<string, CurrentEntry>()
  private bytes = 0

  constructor (private readonly entriesMax: number, private readonly bytesMax: number) {}

  get size (): number { return this.entries.size }

  get (key: string): CurrentEntry | undefined {
    // No recency refresh on reads: moving the entry (delete + set) halved get throughput, and an entry evicted while
    // hot costs one LevelDB read to come back. Eviction is therefore in order of last write or load.
    return this.entries.get(key)
  }

  set (entry: CurrentEntry): void {
    this.delete(entry.key)
    const size = entry.value?.length ?? 0
    if (size > this.bytesMax) return
    this.entries.set(entry.key, entry)
    this.bytes += size
    while (this.entries.size > this.entriesMax || this.bytes > this.bytesMax) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.delete(oldest.value)
    }
  }

  delete (key: string): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    this.bytes -= e.value?.length ?? 0
  }

  clear (): void {
    this.entries.clear()
    this.bytes = 0
  }
}
