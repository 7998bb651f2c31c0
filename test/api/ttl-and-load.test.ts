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
  const deadline = (await res.json() as { version: { wallMs: number } }).version.wallMs + 2000
  // On a loaded machine the read can come after the deadline: assert what the instants around it decide.
  const readFromMs = Date.now()
  const got = await fetch(f.url + '/keys/sessions/abc123')
  const body = await got.text()
  const readUntilMs = Date.now()
  if (readUntilMs < deadline) {
    assert.equal(got.status, 200)
    assert.equal(body, '{"user_id":123,"role":"admin"}')
    assert.equal(Number(got.headers.get('x-gitconfig-expires-at')), deadline)
  } else if (readFromMs >= deadline) {
    assert.equal(got.status, 404)
  }

  // Waits for the deadline itself to pass on the node's clock (this process's): the condition is the time.
  await delay(Math.max(0, deadline - Date.now()) + 5)
  assert.equal((await fetch(f.url + '/keys/sessions/abc123')).status, 404, 'a read after the deadline never returns the value')
  const list = await (await fetch(f.url + '/list?prefix=/sessions/&recursive=true')).json() as { entries: unknown[] }
  assert.deepEqual(list.entries, [])
  assert.deepEqual(await untilExpired('/sessions/abc123'), ['expire', 'set'])
})

test('TTL over HTTP: re-setting with a new TTL extends the key', async () => {
  assert.equal((await fetch(f.url + '/keys/sessions/renew?ttl=1', { method: 'POST', body: 'a' })).status, 200)
  // A control key written after the first write, with the same TTL and never renewed: its deadline is the same or
  // later, so once its expiry is committed the node has passed the first deadline and run an expiry pass over it.
  assert.equal((await fetch(f.url + '/keys/sessions/control?ttl=1', { method: 'POST', body: 'c' })).status, 200)
  const renewed = await fetch(f.url + '/keys/sessions/renew?ttl=60', { method: 'POST', body: 'b' })
  assert.equal(renewed.status, 200)
  await untilExpired('/sessions/control')
  const got = await fetch(f.url + '/keys/sessions/renew')
  assert.equal(got.status, 200)
  assert.equal(await got.text(), 'b')
  assert.deepEqual(await historyOps('/sessions/renew'), ['set', 'set'], 'the first deadline expired nothing')
})

async function historyOps (key: string): Promise<string[]> {
  return (await (await fetch(f.url + '/history' + key)).json() as Array<{ op: string }>).map(h => h.op)
}

/** Polls the key's history until its newest change is an expiry; the limit is a hang guard only. */
async function untilExpired (key: string): Promise<string[]> {
  const hangGuard = Date.now() + 60_000
  while (true) {
    const ops = await historyOps(key)
    if (ops[0] === 'expire') return ops
    if (Date.now() > hangGuard) assert.fail(`${key} was not expired in history: ${ops.join(', ')}`)
    await delay(100)
  }
}

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
