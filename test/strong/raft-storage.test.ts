// One compliance suite for every Raft storage implementation (STYLE.md). A Raft host restarted on LevelDB is tested
// in host.test.ts.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import { LevelStorage } from '../../src/strong/storage-level.js'
import type { WritableRaftStorage } from '../../src/raft/storage.js'
import type { Entry } from '../../src/raft/types.js'

function ent (index: number, term: number, text = `e${index}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) }
}

interface Impl {
  name: string
  /** Opens storage; `reopen` opens the same persisted state again (memory: the same object). */
  open (): Promise<{ storage: WritableRaftStorage, reopen (): Promise<WritableRaftStorage>, cleanup (): Promise<void> }>
}

const impls: Impl[] = [
  {
    name: 'MemoryStorage',
    async open () {
      const storage = new MemoryStorage()
      return { storage, reopen: async () => storage, cleanup: async () => {} }
    }
  },
  {
    name: 'LevelStorage',
    async open () {
      const dir = mkdtempSync(join(tmpdir(), 'raft-level-'))
      let current = await LevelStorage.open(dir)
      return {
        storage: current,
        async reopen () {
          await current.close()
          current = await LevelStorage.open(dir)
          return current
        },
        async cleanup () {
          await current.close()
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
  }
]

for (const impl of impls) {
  describe(`raft storage compliance: ${impl.name}`, () => {
    test('starts empty', async () => {
      const { storage, cleanup } = await impl.open()
      assert.equal(storage.firstIndex(), 1)
      assert.equal(storage.lastIndex(), 0)
      assert.equal(storage.term(0), 0)
      assert.equal(storage.term(1), undefined)
      assert.deepEqual(storage.initialState().hardState, { term: 0, vote: '', commit: 0 })
      await cleanup()
    })

    test('append, truncate a conflicting suffix, and survive reopening', async () => {
      const { storage, reopen, cleanup } = await impl.open()
      await storage.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)])
      await storage.setHardState({ term: 2, vote: 'a', commit: 2 })
      await storage.append([ent(3, 3, 'new3')])
      const again = await reopen()
      assert.equal(again.lastIndex(), 3)
      assert.equal(again.term(3), 3)
      assert.deepEqual(again.entries(1, 4, Infinity)?.map(e => new TextDecoder().decode(e.data)), ['e1', 'e2', 'new3'])
      assert.deepEqual(again.initialState().hardState, { term: 2, vote: 'a', commit: 2 })
      await cleanup()
    })

    test('entries respects the byte limit but returns at least one entry', async () => {
      const { storage, cleanup } = await impl.open()
      await storage.append([ent(1, 1, 'x'.repeat(100)), ent(2, 1, 'y'.repeat(100)), ent(3, 1)])
      assert.equal(storage.entries(1, 4, 1)?.length, 1)
      assert.equal(storage.entries(1, 4, 260)?.length, 2)
      assert.equal(storage.entries(1, 4, Infinity)?.length, 3)
      await cleanup()
    })

    test('snapshot and compaction drop old entries and keep the compaction term', async () => {
      const { storage, reopen, cleanup } = await impl.open()
      await storage.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)])
      const cs = { voters: ['a', 'b', 'c'], learners: [] }
      await storage.createSnapshot(4, cs, new TextEncoder().encode('state@4'))
      assert.equal(storage.firstIndex(), 1, 'a snapshot alone keeps the log')
      await storage.compact(3)
      const again = await reopen()
      assert.equal(again.firstIndex(), 4)
      assert.equal(again.term(3), 2)
      assert.equal(again.term(2), undefined)
      assert.equal(again.entries(3, 5, Infinity), undefined, 'compacted entries are reported as such')
      assert.deepEqual(again.entries(4, 6, Infinity)?.map(e => e.index), [4, 5])
      assert.equal(again.snapshot().metadata.index, 4)
      assert.deepEqual(again.snapshot().metadata.confState, cs)
      assert.deepEqual(again.initialState().confState, cs)
      await cleanup()
    })

    test('applySnapshot replaces the log; an older snapshot is ignored', async () => {
      const { storage, reopen, cleanup } = await impl.open()
      await storage.append([ent(1, 1), ent(2, 1)])
      const cs = { voters: ['a'], learners: ['b'] }
      await storage.applySnapshot({ metadata: { index: 10, term: 4, confState: cs }, data: new Uint8Array([1, 2]) })
      await storage.applySnapshot({ metadata: { index: 5, term: 3, confState: cs }, data: new Uint8Array([9]) })
      const again = await reopen()
      assert.equal(again.firstIndex(), 11)
      assert.equal(again.lastIndex(), 10)
      assert.equal(again.term(10), 4)
      assert.deepEqual([...again.snapshot().data], [1, 2])
      await again.append([ent(11, 4)])
      assert.equal(again.lastIndex(), 11)
      await cleanup()
    })
  })
}
