// Audit export (scenario 10): changes by prefix and date range, oldest first, paged by cursor, the same after the
// index is rebuilt from git, and bad filters refused without touching the repository.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError, GitConfigStore, type AuditEntry, type AuditOptions } from '../../src/index.js'
import { FakeClock, git, onCleanup, openTempStore } from './helpers.js'

const hour = 3_600_000

async function auditAll (store: GitConfigStore, prefix: string, opts: AuditOptions = {}): Promise<AuditEntry[]> {
  const out: AuditEntry[] = []
  let after: string | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.audit(prefix, { ...opts, after })
    out.push(...page.entries)
    if (page.next === null) return out
    after = page.next
  }
  assert.fail('audit paging did not end')
}

test('audit exports the changes below a prefix within a date range, oldest first, with author and operation', async (t) => {
  const clock = new FakeClock(Date.parse('2026-11-01T09:00:00Z'))
  const { store } = await openTempStore(t, { clock: clock.read, nodeId: 'n1' })
  await store.set('/env/prod/db/host', 'old-db', { author: 'alice' }) // 09:00, before the range
  clock.advance(hour)
  const inRange1 = await store.set('/env/prod/db/host', 'new-db', { author: 'bob' }) // 10:00
  await store.set('/env/dev/db/host', 'dev-db', { author: 'bob' }) // other prefix
  await store.set('/env/production/x', 'y') // shares the string prefix but is not below /env/prod/
  clock.advance(hour)
  const inRange2 = await store.set('/env/prod', 'the prefix key itself', { author: 'carol' }) // 11:00
  const del = await store.delete('/env/prod/db/host', { author: 'dave' })
  clock.advance(hour)
  await store.set('/env/prod/db/port', '5432') // 12:00, at `until`: excluded

  const entries = await auditAll(store, '/env/prod/', { since: '2026-11-01T10:00:00Z', until: '2026-11-01T12:00:00Z' })
  assert.deepEqual(entries.map((e) => [e.key, e.op, e.author, e.commit]), [
    ['/env/prod/db/host', 'set', 'bob', inRange1.commit],
    ['/env/prod', 'set', 'carol', inRange2.commit],
    ['/env/prod/db/host', 'delete', 'dave', del.commit]
  ])
  assert.equal(entries[0].date, '2026-11-01T10:00:00.000Z')
  // Each entry is the key's own history row: the same commit, date, message and version.
  const hostHistory = await store.history('/env/prod/db/host')
  assert.deepEqual(entries[2], { ...hostHistory[0], key: '/env/prod/db/host' })

  // Without a range: everything below the prefix; the root: every key; a date alone means midnight UTC.
  assert.equal((await auditAll(store, '/env/prod')).length, 5)
  assert.equal((await auditAll(store, '/')).length, 7)
  assert.equal((await auditAll(store, '/', { since: '2026-11-02' })).length, 0)
  assert.equal((await auditAll(store, '/', { until: '2026-11-01T10:00' })).length, 1)
})

test('audit pages through a group commit of many changes with one date, without gaps or repeats', async (t) => {
  const { store, dir } = await openTempStore(t, { clock: new FakeClock().read })
  const keys = Array.from({ length: 57 }, (_, i) => `/svc/app/k${String(i).padStart(2, '0')}`)
  const results = await Promise.all(keys.map(async (k) => await store.set(k, 'v')))
  assert.ok(new Set(results.map((r) => r.commit)).size < keys.length, 'the sets shared commits')
  const pages: number[] = []
  const seen: AuditEntry[] = []
  let after: string | undefined
  do {
    const page = await store.audit('/svc', { limit: 10, after })
    pages.push(page.entries.length)
    seen.push(...page.entries)
    after = page.next ?? undefined
  } while (after !== undefined)
  assert.deepEqual(pages, [10, 10, 10, 10, 10, 7])
  assert.deepEqual(seen.map((e) => e.key).sort(), keys)
  const all = (await store.audit('/svc')).entries
  assert.deepEqual(seen, all)

  // The export is derived from git: the same after the index is deleted and rebuilt.
  await store.close()
  await rm(join(dir, 'gitconfig', 'index'), { recursive: true })
  const reopened = await GitConfigStore.open(dir, { maintenance: false })
  onCleanup(t, () => reopened.close())
  assert.deepEqual((await reopened.audit('/svc')).entries, all)
})

test('bad audit filters are refused with INVALID_ARGUMENT and change nothing', async (t) => {
  const { store, dir } = await openTempStore(t)
  await store.set('/a/b', 'c')
  const head = git(dir, 'rev-parse', 'main')
  const bad: Array<[string, AuditOptions]> = [
    ['/a', { since: 'yesterday' }],
    ['/a', { until: '2026-13-45' }],
    ['/a', { since: '2026-11-02', until: '2026-11-01' }],
    ['/a', { limit: 0 }],
    ['/a', { limit: 1.5 }],
    ['/a', { after: 'not-a-cursor' }],
    ['/a', { after: Buffer.from('[1,2,3]').toString('base64url') }]
  ]
  for (const [prefix, opts] of bad) {
    await assert.rejects(store.audit(prefix, opts), (err: unknown) => err instanceof GitConfigError && err.code === 'INVALID_ARGUMENT',
      JSON.stringify(opts))
  }
  await assert.rejects(store.audit('/a/../b'), (err: unknown) => err instanceof GitConfigError && err.code === 'INVALID_KEY')
  assert.equal(git(dir, 'rev-parse', 'main'), head)
})
