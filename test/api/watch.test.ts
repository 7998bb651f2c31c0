import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { get as httpGet } from 'node:http'
import { setTimeout as delay } from 'node:timers/promises'
import { GitConfigClient } from '../../src/client/client.js'
import { SseParser, type SseMessage } from '../../src/client/sse.js'
import { startNode, type NodeFixture } from '../support/node-fixture.js'
import { startProxy, type CuttableProxy } from '../support/proxy.js'

let f: NodeFixture
let proxy: CuttableProxy
before(async () => {
  f = await startNode()
  proxy = await startProxy(f.url)
})
after(async () => {
  await proxy.close()
  await f.close()
})

interface Written { key: string, commit: string }
interface WireEvent { key: string, op: string, value?: string | null, commit: string }

async function write (key: string, value: string): Promise<Written> {
  const res = await fetch(f.url + '/keys' + key, { method: 'POST', body: value })
  assert.equal(res.status, 200)
  const body = await res.json() as { key: string, commit: string }
  return { key: body.key, commit: body.commit }
}

function ids (events: Array<{ key: string, commit: string }>): string[] {
  return events.map(e => `${e.commit}:${e.key}`)
}

async function longPoll (path: string, signal?: AbortSignal): Promise<{ events: WireEvent[], next: string | null }> {
  const res = await fetch(f.url + path, { signal })
  assert.equal(res.status, 200, await res.clone().text())
  return await res.json() as { events: WireEvent[], next: string | null }
}

test('long-poll: returns the changes since a commit at once, with the cursor to continue from', async () => {
  const start = await write('/lp/a/start', '0')
  const w1 = await write('/lp/a/x', '1')
  await write('/other/y', 'ignored')
  const w2 = await write('/lp/a/z', '2')
  const r = await longPoll(`/watch/lp/a/?recursive=true&since=${start.commit}&wait=5`)
  assert.deepEqual(ids(r.events), ids([w1, w2]))
  assert.deepEqual(r.events.map(e => e.value), ['1', '2'])
  assert.equal(r.next, w2.commit)
})

test('long-poll: waits for the next change, or answers empty with the same cursor after wait seconds', async () => {
  await until(() => f.node.watcherCount === 0, 'earlier watches to end')
  const base = await write('/lp/b/k', 'base')
  let answered = false
  const waiting = longPoll(`/watch/lp/b/k?since=${base.commit}&wait=30`).finally(() => { answered = true })
  // The poll holds a watch on the node (the gauge counts waiting long-polls) and has not been answered: it is
  // waiting, so the write below can only reach it as a change it waited for, not as history it was sent at once.
  await untilAsync(async () => await watchersGauge() === 1, 'the long-poll to be waiting on the node')
  assert.equal(answered, false, 'the long-poll answered before any change')
  const w = await write('/lp/b/k', 'next')
  const r = await waiting
  assert.deepEqual(ids(r.events), ids([w]))
  const emptyFromMs = Date.now()
  const empty = await longPoll(`/watch/lp/b/k?since=${w.commit}&wait=1`)
  assert.deepEqual(empty, { events: [], next: w.commit })
  // A lower bound only, which load cannot break: the empty answer came after the wait, not at once.
  assert.ok(Date.now() - emptyFromMs >= 990, `answered empty after ${Date.now() - emptyFromMs} ms, before wait=1 s`)
})

test('long-poll: a poll dropped in the middle and resumed from its cursor misses nothing and repeats nothing', async () => {
  let cursor = (await write('/lp/c/seed', 's')).commit
  const acknowledged: Written[] = []
  const writer = (async () => {
    for (let i = 0; i < 40; i++) {
      acknowledged.push(await write(`/lp/c/k${i % 5}`, String(i)))
      // Pacing only, so that polls and writes interleave; nothing waits on it (the loop below waits for 40 events).
      if (i % 7 === 0) await delay(20)
    }
  })()
  const seen: WireEvent[] = []
  let polls = 0
  while (seen.length < 40) {
    polls++
    const controller = new AbortController()
    // Every third poll is abandoned by the client after a short while, whatever it was doing.
    if (polls % 3 === 0) setTimeout(() => { controller.abort() }, 5)
    try {
      const r = await longPoll(`/watch/lp/c/?recursive=true&since=${cursor}&wait=10`, controller.signal)
      seen.push(...r.events)
      if (r.next !== null) cursor = r.next
    } catch (err) {
      assert.equal((err as Error).name, 'AbortError')
    }
    assert.ok(polls < 500, 'too many polls')
  }
  await writer
  assert.deepEqual(ids(seen), ids(acknowledged))
})

test('long-poll: an unknown since is 404 UNKNOWN_COMMIT, a malformed one 400', async () => {
  const unknown = await fetch(`${f.url}/watch/lp/?recursive=true&since=${'a'.repeat(40)}&wait=1`)
  assert.equal(unknown.status, 404)
  assert.equal((await unknown.json() as { error: string }).error, 'UNKNOWN_COMMIT')
  assert.equal((await fetch(`${f.url}/watch/lp/?since=xyz`)).status, 400)
  assert.equal((await fetch(`${f.url}/watch/lp/?wait=100000`)).status, 400)
})

/** Reads SSE messages from `url` until `until` says stop; then drops the connection. */
async function readSse (url: string, headers: Record<string, string>, until: (m: SseMessage, all: SseMessage[]) => boolean): Promise<SseMessage[]> {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const parser = new SseParser()
  const decoder = new TextDecoder()
  const out: SseMessage[] = []
  try {
    for await (const chunk of res.body ?? []) {
      for (const m of parser.push(decoder.decode(chunk, { stream: true }))) {
        out.push(m)
        if (until(m, out)) return out
      }
    }
  } finally {
    controller.abort()
  }
  return out
}

test('SSE: each change has id = its commit; a dropped stream resumed with Last-Event-ID misses and repeats nothing', async () => {
  const seed = await write('/sse/a/seed', 's')
  const acknowledged: Written[] = []
  const writer = (async () => {
    for (let i = 0; i < 30; i++) {
      acknowledged.push(await write(`/sse/a/k${i % 4}`, `v${i}`))
      // Pacing only, so that streams and writes interleave; nothing waits on it (the loop below waits for 30 events).
      if (i % 5 === 0) await delay(15)
    }
  })()
  const seen: WireEvent[] = []
  let lastId = seed.commit
  let connections = 0
  while (seen.length < 30) {
    connections++
    // Drop each connection after a few changes (or at once, for every fourth connection).
    const quota = connections % 4 === 0 ? 0 : 7
    let got = 0
    const msgs = await readSse(`${proxy.url}/watch/sse/a/?recursive=true`, { 'last-event-id': lastId }, (m) => {
      if (m.event === 'change') got++
      return got >= quota || seen.length + got >= 30
    })
    for (const m of msgs) {
      if (m.event !== 'change') continue
      const ev = JSON.parse(m.data) as WireEvent
      assert.equal(m.id, ev.commit)
      seen.push(ev)
      lastId = ev.commit
    }
    assert.ok(connections < 200, 'too many connections')
  }
  await writer
  assert.deepEqual(ids(seen), ids(acknowledged))
  assert.deepEqual(seen.map(e => e.value), acknowledged.map((_, i) => `v${i}`))
})

test('SSE: the stream opens with a ready event carrying the starting cursor', async () => {
  const w = await write('/sse/b/k', '1')
  const msgs = await readSse(`${f.url}/watch/sse/b/k`, {}, m => m.event === 'ready')
  const ready = msgs.find(m => m.event === 'ready')
  assert.ok(ready)
  assert.equal((JSON.parse(ready.data) as { since: string }).since, w.commit)
  assert.equal(ready.id, w.commit)
})

test('SSE: an unknown cursor is an HTTP 404 before the stream starts', async () => {
  const res = await fetch(`${f.url}/watch/sse/?recursive=true&since=${'b'.repeat(40)}`, { headers: { accept: 'text/event-stream' } })
  assert.equal(res.status, 404)
  assert.equal((await res.json() as { error: string }).error, 'UNKNOWN_COMMIT')
})

test('openWatch checks the cursor before it hands out a watch: an unknown one rejects and leaves no watcher open', async () => {
  const w = await write('/cursor/k', '1')
  const watchersBefore = f.node.watcherCount
  await assert.rejects(f.node.openWatch('/cursor/k', { recursive: false, since: 'c'.repeat(40) }),
    (err: unknown) => (err as { code?: string }).code === 'UNKNOWN_COMMIT')
  assert.equal(f.node.watcherCount, watchersBefore)
  const handle = await f.node.openWatch('/cursor/k', { recursive: false, since: w.commit })
  assert.equal(handle.cursorChecked, true)
  const next = handle.events.next()
  const w2 = await write('/cursor/k', '2')
  assert.equal((await next).value?.commit, w2.commit)
  handle.close()
  assert.equal(f.node.watcherCount, watchersBefore)
})

test('client watch: the async iterator resumes by itself across dropped connections', async () => {
  const client = new GitConfigClient(proxy.url)
  const connectionsBefore = proxy.connections
  const seed = await write('/cw/seed', 's')
  const acknowledged: Written[] = []
  const seen: Array<{ key: string, commit: string }> = []
  const controller = new AbortController()
  const reader = (async () => {
    for await (const ev of client.watch('/cw/', { recursive: true, since: seed.commit, signal: controller.signal })) {
      seen.push(ev)
      // Cut every connection through the proxy after the 5th, 12th and 20th change.
      if (seen.length === 5 || seen.length === 12 || seen.length === 20) proxy.cutAll()
      if (seen.length === 30) break
    }
  })()
  for (let i = 0; i < 30; i++) {
    acknowledged.push(await write(`/cw/k${i % 3}`, String(i)))
    // Pacing only, so that the cuts land while writes go on; the reader waits for 30 events, not for time.
    if (i % 4 === 0) await delay(30)
  }
  await reader
  controller.abort()
  await client.close()
  assert.deepEqual(ids(seen), ids(acknowledged))
  // At least one cut lands while the client still waits for changes, so it must have reconnected.
  assert.ok(proxy.connections - connectionsBefore >= 2, `the client reconnected (${proxy.connections - connectionsBefore} connections)`)
})

test('client watch: an unknown cursor throws UNKNOWN_COMMIT instead of retrying', async () => {
  const client = new GitConfigClient(f.url)
  await assert.rejects(async () => {
    for await (const _ of client.watch('/x/', { recursive: true, since: 'c'.repeat(40) })) break
  }, (err: Error & { code?: string }) => err.code === 'UNKNOWN_COMMIT')
})

/** Opens an SSE watch with node:http (no pooling), waits for the status line, then destroys the socket. */
function connectAndDrop (url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, headers: { accept: 'text/event-stream' } }, res => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
      req.destroy()
      resolve()
    })
    req.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET') reject(err) })
  })
}

/** gitconfig_watchers from the node's /metrics, as a scraper sees it. */
async function watchersGauge (): Promise<number> {
  const text = await (await fetch(f.url + '/metrics')).text()
  const m = /^gitconfig_watchers (\d+)$/m.exec(text)
  assert.ok(m !== null, 'gitconfig_watchers in /metrics')
  return Number(m[1])
}

function socketHandles (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'TCPSocketWrap').length
}

async function until (cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  await untilAsync(async () => cond(), what, timeoutMs)
}

/** Polls `cond` until it holds; the timeout is a hang guard only. */
async function untilAsync (cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(20)
  }
}

test('10,000 watch connect/disconnect cycles leave no watchers and no sockets behind', async () => {
  await until(() => f.node.watcherCount === 0, 'earlier watches to end')
  // Not a wait for a condition the assertion needs: sockets of earlier tests still closing here only raise the
  // baseline by a few, while a leak would be one per cycle (10,000); the pause just keeps the bound tight.
  await delay(100)
  const socketsBefore = socketHandles()
  const cycles = 10_000
  const parallel = 50
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < cycles) {
      next++
      await connectAndDrop(`${f.url}/watch/cycle/?recursive=true`)
    }
  }))
  await until(() => f.node.watcherCount === 0, 'watchers to be released')
  const metrics = await (await fetch(f.url + '/metrics')).text()
  assert.match(metrics, /^gitconfig_watchers 0$/m)
  await until(() => socketHandles() <= socketsBefore + 2, `sockets to close (before ${socketsBefore}, now ${socketHandles()})`)
  const w = await write('/cycle/after', 'still works')
  assert.match(w.commit, /^[0-9a-f]{40}$/)
})
