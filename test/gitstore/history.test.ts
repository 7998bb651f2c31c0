import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock, expirePassAfterNow, openTempStore, text } from './helpers.js'

test('history lists every operation newest first, and get at each commit shows the value then', async (t) => {
  const clock = new FakeClock()
  const { store } = await openTempStore(t, { clock: clock.read, nodeId: 'n1' })
  const k = '/svc/flag'
  const steps: Array<{ commit: string, op: string, value: string | null }> = []
  const s1 = await store.set(k, 'one', { author: 'alice' })
  steps.push({ commit: s1.commit, op: 'set', value: 'one' })
  assert.equal(await store.cas(k, 'one', 'two', { author: 'carol' }), true)
  const afterCas = await store.get(k)
  steps.push({ commit: afterCas?.commit ?? '', op: 'cas', value: 'two' })
  const del = await store.delete(k, { author: 'bob' })
  assert.ok(del.deleted && del.commit !== null)
  steps.push({ commit: del.commit, op: 'delete', value: null })
  const rb = await store.rollback(k, s1.commit, { author: 'dave' })
  steps.push({ commit: rb.commit, op: 'rollback', value: 'one' })
  await store.set(k, 'short-lived', { ttlMs: 1000 })
  const s5 = await store.get(k)
  steps.push({ commit: s5?.commit ?? '', op: 'set', value: 'short-lived' })
  clock.advance(1001)
  await expirePassAfterNow(store)
  const [expired] = await store.history(k, { limit: 1 })
  assert.equal(expired.op, 'expire', 'the expiry pass after the deadline committed the expiry')
  steps.push({ commit: expired.commit, op: 'expire', value: null })

  const history = await store.history(k)
  assert.deepEqual(history.map((h) => h.op), steps.map((s) => s.op).reverse())
  assert.deepEqual(history.map((h) => h.commit), steps.map((s) => s.commit).reverse())
  assert.deepEqual(history.map((h) => h.author).slice(-4), ['dave', 'bob', 'carol', 'alice'])
  assert.equal(history[history.length - 1].message, 'set /svc/flag')
  assert.equal(history[0].node, 'n1')
  assert.equal(history[0].date, new Date(Math.floor(clock.nowMs / 1000) * 1000).toISOString())
  for (const s of steps) {
    const at = await store.get(k, { commit: s.commit })
    assert.equal(text(at?.value), s.value, `${s.op} at ${s.commit}`)
    if (at !== null) assert.equal(at.commit, s.commit)
  }
  // An abbreviated id works too; the limit is honoured.
  assert.equal(text((await store.get(k, { commit: s1.commit.slice(0, 8) }))?.value), 'one')
  assert.equal((await store.history(k, { limit: 2 })).length, 2)
  assert.deepEqual(await store.history('/never'), [])
})

test('get at a commit where the key did not exist yet, and at a later unrelated commit', async (t) => {
  const { store } = await openTempStore(t)
  const first = await store.set('/a', '1')
  const second = await store.set('/b', '2')
  assert.equal(await store.get('/b', { commit: first.commit }), null)
  const atSecond = await store.get('/a', { commit: second.commit })
  assert.equal(text(atSecond?.value), '1')
  assert.equal(atSecond?.commit, first.commit, 'reports the commit that last changed the key')
})

test('rollback to a commit where the key was absent deletes it with a rollback commit', async (t) => {
  const { store } = await openTempStore(t)
  const before = await store.set('/other', 'x')
  await store.set('/k', 'v')
  const rb = await store.rollback('/k', before.commit)
  assert.equal(await store.get('/k'), null)
  const [h] = await store.history('/k', { limit: 1 })
  assert.equal(h.op, 'rollback')
  assert.equal(h.commit, rb.commit)
})

test('writing the same key twice while a commit is open gives two commits, each in history', async (t) => {
  const { store } = await openTempStore(t)
  const [a, b, c] = await Promise.all([store.set('/same', '1'), store.set('/same', '2'), store.set('/other', 'o')])
  assert.notEqual(a.commit, b.commit)
  assert.equal(c.commit, b.commit, 'the repeated key closed the first batch; later writes join the next commit')
  assert.deepEqual((await store.history('/same')).map((h) => h.commit), [b.commit, a.commit])
  assert.equal(text((await store.get('/same'))?.value), '2')
})
