import { test } from 'node:test'
import assert from 'node:assert/strict'
import { git, openTempStore, text } from './helpers.js'
import { keyToTreeDir, valueFileName } from '../../src/gitstore/keys.js'

test('1,000 concurrent sets are all acknowledged, all in history, none lost', async (t) => {
  const { store, dir } = await openTempStore(t)
  const n = 1000
  const results = await Promise.all(Array.from({ length: n }, (_, i) => store.set(`/load/k${i}`, `v${i}`, { author: `client-${i % 3}` })))
  const commits = new Set(results.map((r) => r.commit))
  assert.ok(commits.size < n, 'concurrent writes were grouped into fewer commits')
  for (let i = 0; i < n; i++) {
    assert.equal(text((await store.get(`/load/k${i}`))?.value), `v${i}`)
    const [h] = await store.history(`/load/k${i}`)
    assert.equal(h.commit, results[i].commit)
    assert.equal(h.author, `client-${i % 3}`)
  }
  assert.equal((await store.list('/load', { recursive: true })).length, n)
  // Every change is attributable in git itself: one trailer per key.
  const trailers = git(dir, 'log', '--format=%b', 'main').split('\n').filter((l) => l.startsWith('GitConfig-Change: '))
  assert.equal(trailers.length, n)
  assert.equal(Number(git(dir, 'rev-list', '--count', 'main').trim()), commits.size)
})

test('in-process CAS race on an absent key: exactly one winner', async (t) => {
  const { store } = await openTempStore(t)
  const contenders = 64
  const results = await Promise.all(Array.from({ length: contenders }, (_, i) => store.compareAndSwap('/leader', null, `node-${i}`)))
  const winners = results.flatMap((r, i) => (r.swapped ? [i] : []))
  assert.equal(winners.length, 1)
  const current = text((await store.get('/leader'))?.value)
  assert.equal(current, `node-${winners[0]}`)
  for (const r of results) if (!r.swapped) assert.equal(text(r.current), current)
  assert.deepEqual((await store.history('/leader')).map((h) => h.op), ['cas'])
})

test('CAS chains decided against queued writes: each value is swapped exactly once', async (t) => {
  const { store } = await openTempStore(t)
  await store.set('/counter', '0')
  // Every contender tries to move 0->1, 1->2, ...: with linearizable CAS each step has exactly one winner.
  const steps = 20
  const attempts: Array<Promise<boolean>> = []
  for (let step = 0; step < steps; step++) {
    for (let c = 0; c < 4; c++) attempts.push(store.cas('/counter', String(step), String(step + 1)))
  }
  const outcome = await Promise.all(attempts)
  assert.equal(outcome.filter(Boolean).length, steps)
  assert.equal(text((await store.get('/counter'))?.value), String(steps))
  assert.equal(await store.cas('/counter', '', 'x'), false, "'' means absent, and the key exists")
  const r = await store.compareAndSwap('/counter', 'wrong', 'x')
  assert.deepEqual({ swapped: r.swapped, current: text(r.current) }, { swapped: false, current: String(steps) })
})

test('concurrent deletes of one key: one deletes, the others find it gone', async (t) => {
  const { store } = await openTempStore(t)
  await store.set('/gone', 'v')
  const results = await Promise.all(Array.from({ length: 10 }, () => store.delete('/gone')))
  assert.equal(results.filter((r) => r.deleted).length, 1)
})

test('writes arriving while a commit is in flight keep their values across fast-import restarts', async (t) => {
  // Blobs are sent to fast-import ahead of their commit (group-commit.ts). With a maintenance window after every
  // commit, writes made as a commit becomes durable (here: from its onCommit listener, which runs before the window)
  // are sent to a process that is gone by the time their own commit goes out, so that commit must carry the data
  // itself: a stale mark would kill fast-import and fail the writes.
  const { store, dir } = await openTempStore(t, { maintenance: true, maintenanceCommits: 1 })
  const writes: Array<Promise<{ key: string, value: string, commit: string }>> = []
  const write = (i: number): void => {
    const key = `/ahead/k${i % 37}`
    const value = i % 5 === 0 ? `binary-${i}-\u0000\u00ff` : `v${i}`
    writes.push(store.set(key, value).then((r) => ({ key, value, commit: r.commit })))
  }
  const total = 300
  store.onCommit(() => {
    for (let n = 0; n < 7 && writes.length < total; n++) write(writes.length)
  })
  write(0)
  while (writes.length < total) await Promise.all(writes)
  const done = await Promise.all(writes)
  assert.equal(done.length, total)
  assert.ok(new Set(done.map((w) => w.commit)).size >= total / 7, 'each commit carried the writes made as the previous one landed')
  for (const w of done) assert.equal(text((await store.get(w.key, { commit: w.commit }))?.value), w.value, `${w.key} at ${w.commit}`)
  const finals = new Map<string, string | null>()
  for (let k = 0; k < 37; k++) finals.set(`/ahead/k${k}`, text((await store.get(`/ahead/k${k}`))?.value))
  await store.maintenanceSettled()
  git(dir, 'fsck', '--full', '--strict', '--no-dangling')
  for (const [key, value] of finals) assert.equal(git(dir, 'show', `main:${keyToTreeDir(key)}/${valueFileName}`), value)
})
