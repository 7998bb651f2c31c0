// One behavioural suite for the ConfigStore contract, run against every implementation (the embedded store and
// GitConfigClient over HTTP), so "switch between embedded and remote with one line" is checked, not hoped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ConfigStore, WatchEvent } from '../../src/types.js'

export interface StoreUnderTest {
  readonly store: ConfigStore
  close (): Promise<void>
}

const text = (v: Uint8Array | null | undefined): string | null => v === null || v === undefined ? null : Buffer.from(v).toString('utf8')

async function rejectsWith (p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, err.message)
    return true
  })
}

export function configStoreSuite (name: string, open: () => Promise<StoreUnderTest>): void {
  const withStore = (title: string, body: (s: ConfigStore) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const sut = await open()
      try { await body(sut.store) } finally { await sut.close() }
    })
  }

  withStore('set/get round-trips text and binary values; absent keys read as null', async (s) => {
    const w = await s.set('/suite/text', 'hello')
    assert.equal(w.key, '/suite/text')
    const kv = await s.get('/suite/text')
    assert.equal(text(kv?.value), 'hello')
    assert.equal(kv?.commit, w.commit)
    assert.deepEqual(kv?.version, w.version)
    assert.equal(kv?.expiresAtMs, null)
    const bytes = new Uint8Array([0, 1, 2, 255, 254, 10, 13])
    await s.set('/suite/bin', bytes)
    assert.deepEqual((await s.get('/suite/bin'))?.value, bytes)
    assert.equal(await s.get('/suite/none'), null)
  })

  withStore('TTL sets an absolute deadline', async (s) => {
    const before = Date.now()
    await s.set('/suite/ttl', 'x', { ttlMs: 60_000 })
    const kv = await s.get('/suite/ttl')
    assert.ok(kv?.expiresAtMs !== null && kv?.expiresAtMs !== undefined)
    assert.ok(kv.expiresAtMs >= before + 60_000 - 5 && kv.expiresAtMs <= Date.now() + 60_000 + 5)
  })

  withStore('delete reports whether it deleted', async (s) => {
    await s.set('/suite/del', 'x')
    const d = await s.delete('/suite/del')
    assert.equal(d.deleted, true)
    assert.match(d.commit ?? '', /^[0-9a-f]{40}$/)
    assert.deepEqual(await s.delete('/suite/del'), { key: '/suite/del', deleted: false, commit: null })
  })

  withStore('cas: null and empty expected mean absent; a mismatch returns the current value', async (s) => {
    assert.equal(await s.cas('/suite/lock', '', 'a'), true)
    assert.equal(await s.cas('/suite/lock', null, 'b'), false)
    const miss = await s.compareAndSwap('/suite/lock', 'zzz', 'c')
    assert.equal(miss.swapped, false)
    assert.equal(text(miss.current), 'a')
    const hit = await s.compareAndSwap('/suite/lock', 'a', new Uint8Array([0, 200]))
    assert.equal(hit.swapped, true)
    assert.match(hit.commit ?? '', /^[0-9a-f]{40}$/)
    assert.deepEqual((await s.compareAndSwap('/suite/lock', 'a', 'd')).current, new Uint8Array([0, 200]))
  })

  withStore('list: children with hasChildren, recursive keys with values', async (s) => {
    await s.set('/suite/env/prod/db/host', 'h')
    await s.set('/suite/env/prod/mode', 'm')
    const flat = await s.list('/suite/env/prod/')
    assert.deepEqual(flat.map(e => [e.key, e.hasChildren === true]), [['/suite/env/prod/db', true], ['/suite/env/prod/mode', false]])
    const deep = await s.list('/suite/env/', { recursive: true, values: true })
    assert.deepEqual(deep.map(e => [e.key, text(e.value)]), [['/suite/env/prod/db/host', 'h'], ['/suite/env/prod/mode', 'm']])
  })

  withStore('history, get at a commit and rollback', async (s) => {
    const c1 = await s.set('/suite/flag', 'on', { author: 'alice' })
    await s.set('/suite/flag', 'off', { author: 'bob' })
    const hist = await s.history('/suite/flag')
    assert.deepEqual(hist.map(h => h.op), ['set', 'set'])
    assert.ok(hist[1].author.includes('alice'))
    assert.equal(hist[1].commit, c1.commit)
    assert.equal(text((await s.get('/suite/flag', { commit: c1.commit }))?.value), 'on')
    const rb = await s.rollback('/suite/flag', c1.commit)
    assert.equal(text((await s.get('/suite/flag'))?.value), 'on')
    assert.deepEqual((await s.history('/suite/flag', { limit: 1 })).map(h => [h.op, h.commit]), [['rollback', rb.commit]])
  })

  withStore('errors are typed: bad key, unknown commit', async (s) => {
    await rejectsWith(s.set('/a/../b', 'x'), 'INVALID_KEY')
    await rejectsWith(s.get('/ok', { commit: 'f'.repeat(40) }), 'UNKNOWN_COMMIT')
  })

  withStore('watch: replays from a commit, then delivers live changes, with values and ops', async (s) => {
    const start = await s.set('/suite/w/seed', '0')
    const w1 = await s.set('/suite/w/a', '1')
    const controller = new AbortController()
    const seen: WatchEvent[] = []
    const reader = (async () => {
      for await (const ev of s.watch('/suite/w/', { recursive: true, since: start.commit, signal: controller.signal })) {
        seen.push(ev)
        if (seen.length === 3) break
      }
    })()
    const w2 = await s.set('/suite/w/b', '2')
    const d = await s.delete('/suite/w/a')
    await reader
    controller.abort()
    assert.deepEqual(seen.map(e => [e.key, e.op, text(e.value), e.commit]), [
      ['/suite/w/a', 'set', '1', w1.commit],
      ['/suite/w/b', 'set', '2', w2.commit],
      ['/suite/w/a', 'delete', null, d.commit]
    ])
  })
}
