import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GitConfigError, type WatchEvent } from '../../src/index.js'
import { watchQueueEventsMax } from '../../src/limits.js'
import { openTempStore, take, text } from './helpers.js'

test('watch yields live changes of a key or a prefix in commit order with op, value and commit', async (t) => {
  const { store } = await openTempStore(t)
  const prefixWatch = store.watch('/app', { recursive: true })[Symbol.asyncIterator]()
  const keyWatch = store.watch('/app/a')[Symbol.asyncIterator]()
  const a = await store.set('/app/a', '1')
  await store.set('/elsewhere', 'x')
  const b = await store.set('/app/b/c', '2')
  const d = await store.delete('/app/a')
  const got = await take(prefixWatch, 3)
  assert.deepEqual(got.map((e) => [e.key, e.op, text(e.value), e.commit]), [
    ['/app/a', 'set', '1', a.commit], ['/app/b/c', 'set', '2', b.commit], ['/app/a', 'delete', null, d.commit]
  ])
  assert.deepEqual((await take(keyWatch, 2)).map((e) => e.op), ['set', 'delete'])
  await prefixWatch.return?.()
  assert.deepEqual(await prefixWatch.next(), { value: undefined, done: true })
  await keyWatch.return?.()
})

test('a watch resumed from a commit misses nothing and repeats nothing while writes continue', async (t) => {
  const { store } = await openTempStore(t)
  const total = 400
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < total; i++) {
    writes.push(store.set(`/w/k${i % 37}`, String(i)))
    if (i % 50 === 0) await Promise.all(writes.splice(0)) // several commits, some with many changes
  }
  await Promise.all(writes.splice(0))
  const history = await store.history('/w/k0')
  const resumeFrom = history[history.length - 1].commit // the commit of write 0
  const seen: string[] = []
  const it = store.watch('/w', { recursive: true, since: resumeFrom })[Symbol.asyncIterator]()
  // More writes race with the replay.
  for (let i = total; i < total + 100; i++) writes.push(store.set(`/w/k${i % 37}`, String(i)))
  const events = await take(it, total - 1 + 100)
  for (const e of events) seen.push(text(e.value) ?? '')
  await Promise.all(writes)
  // Everything after write 0's commit, in order, once each (write 0's commit may also hold writes 1..n).
  const numbers = seen.map(Number)
  assert.equal(new Set(numbers).size, numbers.length, 'no duplicates')
  for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i] > numbers[i - 1], 'commit order')
  assert.equal(numbers[numbers.length - 1], total + 99)
  const firstCommitWrites = total + 100 - numbers.length
  assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i + firstCommitWrites), 'no gaps')
  await it.return?.()
})

test('since the current head replays nothing and then goes live; an unknown since is UNKNOWN_COMMIT', async (t) => {
  const { store } = await openTempStore(t)
  const { commit } = await store.set('/x', '1')
  const it = store.watch('/x', { since: commit })[Symbol.asyncIterator]()
  const next = it.next()
  await store.set('/x', '2')
  assert.equal(text((await next).value?.value), '2')
  await it.return?.()
  const bad = store.watch('/x', { since: 'deadbeef' })[Symbol.asyncIterator]()
  await assert.rejects(bad.next(), (err: unknown) => err instanceof GitConfigError && err.code === 'UNKNOWN_COMMIT')
})

test('an abort signal ends the watch; close() ends open watches', async (t) => {
  const { store } = await openTempStore(t)
  const ac = new AbortController()
  const it = store.watch('/', { signal: ac.signal })[Symbol.asyncIterator]()
  const pending = it.next()
  ac.abort()
  assert.deepEqual(await pending, { value: undefined, done: true })
  const it2 = store.watch('/')[Symbol.asyncIterator]()
  const pending2 = it2.next()
  await store.close()
  assert.deepEqual(await pending2, { value: undefined, done: true })
})

test('a watcher that falls too far behind is ended with WATCH_OVERFLOW naming the commit to resume from', async (t) => {
  const { store } = await openTempStore(t)
  const it = store.watch('/', { recursive: true })[Symbol.asyncIterator]()
  const n = watchQueueEventsMax + 10
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) writes.push(store.set(`/flood/${i}`, 'x'))
  await Promise.all(writes)
  await store.flush()
  let delivered = 0
  await assert.rejects(async () => {
    while (true) {
      const r = await it.next()
      if (r.done === true) break
      delivered++
    }
  }, (err: unknown) => err instanceof GitConfigError && err.code === 'WATCH_OVERFLOW' && /since=/.test(err.message))
  assert.ok(delivered <= watchQueueEventsMax)
})

test('a watcher holds a commit\'s events by the time the write is acknowledged, without waiting for the index', async (t) => {
  const { store } = await openTempStore(t)
  const it = store.watch('/live', { recursive: true })[Symbol.asyncIterator]()
  // One turn of the event loop, as the assertion itself: the event must be there with the acknowledgement, not later.
  const notYet = (): Promise<'not yet'> => new Promise((resolve) => setImmediate(() => { resolve('not yet') }))
  for (let i = 0; i < 5; i++) {
    const next = it.next()
    const { commit } = await store.set(`/live/k${i}`, String(i))
    // The index write of this commit is still in flight here; the event must not depend on it.
    const first = await Promise.race([next, notYet()])
    assert.notEqual(first, 'not yet', `event of write ${i} delivered with its acknowledgement`)
    if (first === 'not yet') return
    assert.equal(first.value?.commit, commit)
    assert.equal(text(first.value?.value), String(i))
  }
  await it.return?.()
})

test('a watch opened while commits are still being indexed replays and goes live without a gap or a repeat', async (t) => {
  const { store } = await openTempStore(t)
  const { commit: start } = await store.set('/g/k', '0')
  const writes: Array<Promise<unknown>> = []
  // Open watches right after acknowledgements, before the index writes of those commits can have finished.
  const watches: Array<AsyncIterator<WatchEvent>> = []
  for (let i = 1; i <= 30; i++) {
    writes.push(store.set('/g/k', String(i)).then(() => { watches.push(store.watch('/g/k', { since: start })[Symbol.asyncIterator]()) }))
    if (i % 3 === 0) await Promise.all(writes.splice(0))
  }
  await Promise.all(writes)
  await store.set('/g/k', 'end')
  for (const w of watches) {
    const values: string[] = []
    while (values.at(-1) !== 'end') values.push(text((await w.next()).value?.value) ?? '')
    assert.deepEqual(values, [...Array.from({ length: 30 }, (_, i) => String(i + 1)), 'end'])
    await w.return?.()
  }
})
