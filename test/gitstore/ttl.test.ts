import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { GitConfigStore } from '../../src/index.js'
import { encodeMeta } from '../../src/gitstore/entry.js'
import { expiryTombstone } from '../../src/gitstore/merge.js'
import { FakeClock, eventually, expirePassAfterNow, git, onCleanup, openTempStore, tempDir, text } from './helpers.js'

test('with a fake clock: a read never returns an expired value, and expiry becomes an expire commit', async (t) => {
  const clock = new FakeClock()
  const { store } = await openTempStore(t, { clock: clock.read })
  const { version } = await store.set('/lease', 'held', { ttlMs: 5000 })
  await store.set('/forever', 'x')
  const kv = await store.get('/lease')
  assert.equal(kv?.expiresAtMs, version.wallMs + 5000)
  clock.advance(4999)
  assert.equal(text((await store.get('/lease'))?.value), 'held')
  clock.advance(1)
  // Expired from this instant, before any expire commit exists.
  assert.equal(await store.get('/lease'), null)
  assert.deepEqual((await store.list('/', { recursive: true })).map((e) => e.key), ['/forever'])
  assert.equal(await store.cas('/lease', null, 'mine'), true, 'an expired key counts as absent for CAS')
  const ops = (await store.history('/lease')).map((h) => h.op)
  assert.ok(ops.includes('set') && ops.includes('cas'))
})

test('the expire commit is the shared expiry tombstone of the write it expires (same on every node)', async (t) => {
  const clock = new FakeClock()
  const { store, dir } = await openTempStore(t, { clock: clock.read })
  const { version, commit } = await store.set('/k', 'v', { ttlMs: 100, author: 'svc-1' })
  const write = (await store.readTree(commit)).get('/k')
  assert.ok(write !== undefined)
  clock.advance(100)
  await expirePassAfterNow(store)
  const [expire] = await store.history('/k')
  assert.equal(expire.op, 'expire')
  assert.deepEqual(expire.version, version)
  assert.equal(expire.author, 'svc-1')
  assert.equal(git(dir, 'show', `${expire.commit}:k/.meta`), encodeMeta(expiryTombstone(write).meta))
  assert.throws(() => git(dir, 'show', `${expire.commit}:k/.value`))
})

test('renewal is a new write and moves the deadline; the old deadline expires nothing', async (t) => {
  const clock = new FakeClock()
  const { store } = await openTempStore(t, { clock: clock.read })
  await store.set('/svc/a', 'up', { ttlMs: 1000 })
  // A control key with the same first deadline, never renewed: its expiry shows that the pass below ran at a time
  // past that deadline and decided on every key due then, /svc/a's old deadline among them.
  await store.set('/svc/b', 'up', { ttlMs: 1000 })
  clock.advance(800)
  await store.set('/svc/a', 'up', { ttlMs: 1000 })
  clock.advance(400) // past the first deadline, before the second
  await expirePassAfterNow(store)
  assert.deepEqual((await store.history('/svc/b')).map((h) => h.op), ['expire', 'set'], 'the pass ran past the first deadline')
  assert.equal(text((await store.get('/svc/a'))?.value), 'up')
  assert.deepEqual((await store.history('/svc/a')).map((h) => h.op), ['set', 'set'], 'the old deadline expired nothing')
  // The renewal's own deadline still expires the key: the pass above left /svc/a for a reason, not by not looking.
  clock.advance(600)
  await expirePassAfterNow(store)
  assert.deepEqual((await store.history('/svc/a')).map((h) => h.op), ['expire', 'set', 'set'])
})

test('keys that expired while the store was closed are expired at open', async (t) => {
  const clock = new FakeClock()
  const dir = join(await tempDir(t), 'repo')
  const first = await GitConfigStore.open(dir, { clock: clock.read, maintenance: false })
  await first.set('/tmp/x', 'v', { ttlMs: 60_000 })
  await first.close()
  clock.advance(61_000)
  const second = await GitConfigStore.open(dir, { clock: clock.read, maintenance: false })
  onCleanup(t, () => second.close())
  assert.equal((await second.history('/tmp/x'))[0].op, 'expire')
})

test('real time: a 300 ms TTL reads as absent after it and is committed as expired within a second', async (t) => {
  const { store } = await openTempStore(t)
  const { version } = await store.set('/real', 'v', { ttlMs: 300 })
  const deadline = version.wallMs + 300
  // On a loaded machine the read can come after the deadline; assert only what the instants around it decide (the
  // fake-clock tests above pin the instant exactly).
  const readFrom = Date.now()
  const early = text((await store.get('/real'))?.value)
  const readUntil = Date.now()
  if (readUntil < deadline) assert.equal(early, 'v', 'read before the deadline')
  if (readFrom >= deadline) assert.equal(early, null, 'read after the deadline')
  const start = Date.now()
  const expire = await eventually(async () => {
    const h = await store.history('/real', { limit: 1 })
    return h[0].op === 'expire' ? h[0] : undefined
  })
  assert.equal(await store.get('/real'), null)
  // Hang guard only, generous for a loaded machine: the design target is within 1 s of the deadline.
  assert.ok(Date.now() - start < 15_000)
  assert.equal(expire.op, 'expire')
})

test('scenario 8: service instances register with a TTL and heartbeat; list shows only live ones; the dead one expires', async (t) => {
  const clock = new FakeClock()
  const { store } = await openTempStore(t, { clock: clock.read })
  const ttlMs = 10_000
  const live = async (): Promise<string[]> => (await store.list('/services/api/', { recursive: true })).map((e) => e.key)
  await store.set('/services/api/10.0.0.1:8080', 'up', { ttlMs })
  await store.set('/services/api/10.0.0.2:8080', 'up', { ttlMs })
  await store.set('/services/web/10.0.0.9:80', 'up', { ttlMs })
  for (let beat = 0; beat < 3; beat++) { // only instance 1 keeps sending heartbeats (a re-set with a fresh TTL)
    clock.advance(6000)
    await store.set('/services/api/10.0.0.1:8080', 'up', { ttlMs })
  }
  // 18 s in: instance 2 missed its deadline (10 s) and is gone from list and get at once, expiry commit or not.
  assert.deepEqual(await live(), ['/services/api/10.0.0.1:8080'])
  assert.equal(await store.get('/services/api/10.0.0.2:8080'), null)
  await expirePassAfterNow(store)
  assert.equal((await store.history('/services/api/10.0.0.2:8080'))[0].op, 'expire')
  assert.deepEqual((await store.history('/services/api/10.0.0.1:8080')).map((h) => h.op), ['set', 'set', 'set', 'set'])
  clock.advance(ttlMs) // instance 1 stops beating too
  assert.deepEqual(await live(), [])
})
