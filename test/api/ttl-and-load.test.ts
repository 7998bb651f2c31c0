import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { startNode, type NodeFixture } from '../support/node-fixture.js'

let f: NodeFixture
before(async () => { f = await startNode() })
after(async () => { await f.close() })

test('TTL over HTTP: the key reads until its deadline, never after, and the expiry shows in history', async () => {
  const res = await fetch(f.url + '/keys/sessions/abc123?ttl=2', { method: 'POST', body: '{"user_id":123,"role":"admin"}' })
  assert.equal(res.status, 200)
  const got = await fetch(f.url + '/keys/sessions/abc123')
  assert.equal(got.status, 200)
  assert.equal(await got.text(), '{"user_id":123,"role":"admin"}')
  const deadline = Number(got.headers.get('x-gitconfig-expires-at'))
  assert.ok(deadline > Date.now() - 2000 && deadline <= Date.now() + 2000, String(deadline))

  await delay(Math.max(0, deadline - Date.now()) + 5)
  assert.equal((await fetch(f.url + '/keys/sessions/abc123')).status, 404, 'a read after the deadline never returns the value')
  const list = await (await fetch(f.url + '/list?prefix=/sessions/&recursive=true')).json() as { entries: unknown[] }
  assert.deepEqual(list.entries, [])

  const hangGuard = Date.now() + 10_000
  let ops: string[] = []
  while (Date.now() < hangGuard) {
    ops = (await (await fetch(f.url + '/history/sessions/abc123')).json() as Array<{ op: string }>).map(h => h.op)
    if (ops[0] === 'expire') break
    await delay(100)
  }
  assert.deepEqual(ops, ['expire', 'set'])
})

test('TTL over HTTP: re-setting with a new TTL extends the key', async () => {
  await fetch(f.url + '/keys/sessions/renew?ttl=1', { method: 'POST', body: 'a' })
  const renewed = await fetch(f.url + '/keys/sessions/renew?ttl=60', { method: 'POST', body: 'b' })
  assert.equal(renewed.status, 200)
  await delay(1300)
  const got = await fetch(f.url + '/keys/sessions/renew')
  assert.equal(got.status, 200)
  assert.equal(await got.text(), 'b')
})

test('200 parallel POSTs are all acknowledged and every one is in history', async () => {
  const writes = Array.from({ length: 200 }, async (_, i) => {
    const key = i % 2 === 0 ? `/load/k${i}` : '/load/shared'
    const res = await fetch(f.url + '/keys' + key, { method: 'POST', body: `v${i}`, headers: { 'x-gitconfig-author': `client-${i}` } })
    assert.equal(res.status, 200)
    const body = await res.json() as { key: string, commit: string }
    return { key: body.key, commit: body.commit, i }
  })
  const acknowledged = await Promise.all(writes)
  assert.equal(acknowledged.length, 200)
  for (const w of acknowledged.filter(a => a.i % 2 === 0)) {
    const hist = await (await fetch(f.url + '/history' + w.key)).json() as Array<{ commit: string }>
    assert.deepEqual(hist.map(h => h.commit), [w.commit], w.key)
    assert.equal(await (await fetch(f.url + '/keys' + w.key)).text(), `v${w.i}`)
  }
  const shared = await (await fetch(f.url + '/history/load/shared?limit=1000')).json() as Array<{ commit: string, author: string }>
  const sharedWrites = acknowledged.filter(a => a.i % 2 === 1)
  assert.equal(shared.length, sharedWrites.length, 'one history entry per acknowledged write of the shared key')
  const historyCommits = new Set(shared.map(h => h.commit))
  for (const w of sharedWrites) assert.ok(historyCommits.has(w.commit), `commit ${w.commit} of write ${w.i} is in history`)
  const authors = new Set(shared.map(h => h.author))
  for (const w of sharedWrites) assert.ok([...authors].some(a => new RegExp(`(^|\\W)client-${w.i}(\\W|$)`).test(a)), `author of write ${w.i}`)
})
