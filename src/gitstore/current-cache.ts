// Bounded in-memory cache of current entries in front of the LevelDB index, so hot reads cost a Map lookup.
// Least-recently-used eviction by entry count and by value bytes (both limits in limits.ts).
import type { CurrentEntry } from './index-db.js'

export class CurrentCache {
  private readonly entries = new Map<string, CurrentEntry>()
  private bytes = 0

  constructor (private readonly entriesMax: number, private readonly bytesMax: number) {}

  get size (): number { return this.entries.size }

  get (key: string): CurrentEntry | undefined {
    const e = this.entries.get(key)
    if (e !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the least recently used.
      this.entries.delete(key)
      this.entries.set(key, e)
    }
    return e
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
