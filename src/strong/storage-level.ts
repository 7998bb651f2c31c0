// Raft storage on LevelDB (`level`): hard state, log entries and the latest snapshot, for the daemon.
// The retained log (bounded by compaction) is also kept in a MemoryStorage, which answers the state machine's
// synchronous reads; every write goes to LevelDB first, as one atomic batch with `sync`, and to memory after it
// succeeded. A crash therefore loses at most the write in progress, which Raft treats as never having happened.
//
// Layout (utf8 keys, byte values encoded by codec.ts):
//   hs               hard state
//   snap             latest snapshot
//   first            index and term of the entry before the first retained one (the compaction point)
//   e/<index:16>     one log entry, index zero-padded so keys sort numerically
import { Level } from 'level'
import { GitConfigError } from '../errors.js'
import {
  decodeEntry, decodeHardState, decodeSnapshot, encodeEntry, encodeHardState, encodeSnapshot
} from '../raft/codec.js'
import { MemoryStorage } from '../raft/storage-memory.js'
import type { InitialState, WritableRaftStorage } from '../raft/storage.js'
import { emptyHardState, emptySnapshot } from '../raft/types.js'
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js'

const entryPrefix = 'e/'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

function entryKey (index: number): string {
  return entryPrefix + index.toString().padStart(16, '0')
}

type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

function corrupt (what: string): never {
  throw new GitConfigError('INTERNAL', `raft storage: ${what} is corrupt`)
}

export class LevelStorage implements WritableRaftStorage {
  private readonly cache = new MemoryStorage()

  private constructor (private readonly db: Level<string, Uint8Array>) {}

  /** Opens (creating if needed) the Raft store at `location` and loads the retained log. */
  static async open (location: string): Promise<LevelStorage> {
    const db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const storage = new LevelStorage(db)
    try {
      await storage.load()
    } catch (err) {
      await db.close()
      throw err
    }
    return storage
  }

  private async load (): Promise<void> {
    const hsBytes = await this.db.get('hs')
    const snapBytes = await this.db.get('snap')
    const firstBytes = await this.db.get('first')
    const hs = hsBytes === undefined ? emptyHardState : (decodeHardState(hsBytes) ?? corrupt('hard state'))
    const snap = snapBytes === undefined ? emptySnapshot : (decodeSnapshot(snapBytes) ?? corrupt('snapshot'))
    // Without a compaction point the log starts at index 1 (a snapshot alone does not drop entries).
    let first = { index: 0, term: 0 }
    if (firstBytes !== undefined) {
      const parsed: unknown = JSON.parse(decoder.decode(firstBytes))
      if (typeof parsed !== 'object' || parsed === null) corrupt('compaction point')
      const { index, term } = parsed as Record<string, unknown>
      if (typeof index !== 'number' || typeof term !== 'number') corrupt('compaction point')
      first = { index, term }
    }
    const entries: Entry[] = []
    for await (const [key, value] of this.db.iterator({ gt: entryKey(first.index), lt: entryPrefix + '~' })) {
      const e = decodeEntry(value) ?? corrupt(`entry ${key}`)
      if (e.index !== first.index + 1 + entries.length) corrupt(`log (gap before ${e.index})`)
      entries.push(e)
    }
    this.cache.load(hs, snap, first, entries)
  }

  async close (): Promise<void> { await this.db.close() }

  initialState (): InitialState { return this.cache.initialState() }
  entries (lo: number, hi: number, maxBytes: number): Entry[] | undefined { return this.cache.entries(lo, hi, maxBytes) }
  term (i: number): number | undefined { return this.cache.term(i) }
  firstIndex (): number { return this.cache.firstIndex() }
  lastIndex (): number { return this.cache.lastIndex() }
  snapshot (): Snapshot { return this.cache.snapshot() }

  private async write (ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops, { sync: true })
  }

  async setHardState (hs: HardState): Promise<void> {
    await this.write([{ type: 'put', key: 'hs', value: encodeHardState(hs) }])
    this.cache.setHardState(hs)
  }

  async append (entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return
    const ops: BatchOp[] = []
    const first = this.cache.firstIndex()
    const newLast = entries[entries.length - 1].index
    for (const e of entries) if (e.index >= first) ops.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) })
    // A conflicting suffix longer than the new entries is deleted, as in MemoryStorage.append.
    for (let i = newLast + 1; i <= this.cache.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) })
    await this.write(ops)
    this.cache.append(entries)
  }

  async applySnapshot (snapshot: Snapshot): Promise<void> {
    if (snapshot.metadata.index <= this.cache.snapshot().metadata.index) return
    const ops: BatchOp[] = [
      { type: 'put', key: 'snap', value: encodeSnapshot(snapshot) },
      { type: 'put', key: 'first', value: encoder.encode(JSON.stringify({ index: snapshot.metadata.index, term: snapshot.metadata.term })) }
    ]
    for (let i = this.cache.firstIndex(); i <= this.cache.lastIndex(); i++) ops.push({ type: 'del', key: entryKey(i) })
    await this.write(ops)
    this.cache.applySnapshot(snapshot)
  }

  async createSnapshot (index: number, confState: ConfState, data: Uint8Array): Promise<void> {
    if (index <= this.cache.snapshot().metadata.index) return
    const term = this.cache.term(index)
    if (term === undefined) throw new Error(`snapshot index ${index} outside the log`)
    const snapshot: Snapshot = { metadata: { index, term, confState }, data }
    await this.write([{ type: 'put', key: 'snap', value: encodeSnapshot(snapshot) }])
    this.cache.createSnapshot(index, confState, data)
  }

  async compact (index: number): Promise<void> {
    const from = this.cache.firstIndex()
    if (index < from) return
    if (index > this.cache.snapshot().metadata.index) throw new Error(`compact(${index}) beyond the snapshot`)
    const term = this.cache.term(index)
    if (term === undefined) throw new Error(`compact(${index}) outside the log`)
    const ops: BatchOp[] = [{ type: 'put', key: 'first', value: encoder.encode(JSON.stringify({ index, term })) }]
    for (let i = from; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) })
    await this.write(ops)
    this.cache.compact(index)
  }
}
