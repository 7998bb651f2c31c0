import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import { connect, createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { pino } from 'pino'
import { GitConfigNode } from '../../src/daemon/daemon.js'
import { openStore } from '../../src/node/open-store.js'
import type { StoreOpener } from '../../src/node/store-port.js'
import type { ConfigStore } from '../../src/types.js'

const silent = pino({ level: 'silent' })

const tempDirs: string[] = []
// Removed even when a test fails half-way (each test's own remove() only runs when it gets to the end).
after(async () => { for (const d of tempDirs) await rm(d, { recursive: true, force: true }) })

async function tempRepo (): Promise<{ repo: string, remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-node-'))
  tempDirs.push(dir)
  return { repo: join(dir, 'repo'), remove: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** A promise the test resolves when it chooses. */
class Gate {
  open: () => void = () => {}
  readonly opened = new Promise<void>(resolve => { this.open = resolve })
}

/** The real store, with every set held back until `gate` opens and the order of events recorded. */
function heldStore (gate: Gate, log: string[]): StoreOpener {
  return async (dir, opts) => {
    const store = await openStore(dir, opts)
    return new Proxy(store, {
      get (target, prop, receiver) {
        if (prop === 'set') {
          return async (...args: Parameters<ConfigStore['set']>) => {
            log.push('set-start')
            await gate.opened
            const r = await target.set(...args)
            log.push('set-done')
            return r
          }
        }
        if (prop === 'close') return async () => { log.push('close'); await target.close() }
        const v: unknown = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      }
    })
  }
}

test('stop() lets in-flight writes finish and answer before the store closes; later requests are refused', async () => {
  const { repo, remove } = await tempRepo()
  const log: string[] = []
  const gate = new Gate()
  const node = new GitConfigNode({ repo, httpPort: 0 }, { logger: silent, openStore: heldStore(gate, log) })
  const { url } = await node.start()
  const writes = Array.from({ length: 10 }, async (_, i) => await fetch(`${url}/keys/inflight/k${i}`, { method: 'POST', body: String(i) }))
  while (log.filter(e => e === 'set-start').length < 10) await delay(5)
  const stopStartedMs = Date.now()
  const stopping = node.stop()
  // Shutdown has begun while all ten writes are held inside the store; only now may they go on.
  assert.equal(node.state, 'stopping')
  gate.open()
  const replies = await Promise.all(writes)
  assert.deepEqual(replies.map(r => r.status), Array(10).fill(200))
  await stopping
  // Hang guard, not a speed check: the clients' connections stay open (keep-alive) after their replies, and stop()
  // must close them rather than wait out the 72 s keep-alive timeout.
  assert.ok(Date.now() - stopStartedMs < 30_000, `stop() took ${Date.now() - stopStartedMs} ms`)
  assert.equal(node.state, 'stopped')
  assert.deepEqual(log.slice(-11), [...Array(10).fill('set-done'), 'close'])
  await assert.rejects(fetch(`${url}/health`))
  await remove()
})

test('a node cannot start twice, and a port in use is a clear UNAVAILABLE error that releases the store', async () => {
  const { repo, remove } = await tempRepo()
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  const address = blocker.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const node = new GitConfigNode({ repo, httpPort: port }, { logger: silent })
  await assert.rejects(node.start(), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'UNAVAILABLE')
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
    return true
  })
  assert.equal(node.state, 'stopped')
  await assert.rejects(node.start(), (err: Error & { code?: string }) => err.code === 'UNAVAILABLE')
  await new Promise<void>(resolve => blocker.close(() => { resolve() }))
  // The failed start closed its store, so another node can open the same repository.
  const again = new GitConfigNode({ repo, httpPort: 0 }, { logger: silent })
  await again.start()
  assert.equal((await fetch(`${(await again.status()).url}/health`)).status, 200)
  await again.stop()
  await remove()
})

test('stop() ends open SSE watches so shutdown does not wait for them', async () => {
  const { repo, remove } = await tempRepo()
  const node = new GitConfigNode({ repo, httpPort: 0 }, { logger: silent })
  const { url } = await node.start()
  const res = await fetch(`${url}/watch/x/?recursive=true`, { headers: { accept: 'text/event-stream' } })
  assert.equal(res.status, 200)
  assert.equal(node.watcherCount, 1)
  const body = res.text()
  await node.stop()
  assert.equal(node.watcherCount, 0)
  assert.match(await body, /event: ready/)
  await remove()
})

test('a request that reaches a stopping node gets 503 UNAVAILABLE in the JSON error format', async () => {
  const { repo, remove } = await tempRepo()
  const log: string[] = []
  const gate = new Gate()
  const node = new GitConfigNode({ repo, httpPort: 0 }, { logger: silent, openStore: heldStore(gate, log) })
  const { url } = await node.start()
  const getArrived = serverRequestStart('GET', '/keys/pipelined/a')
  const { port } = new URL(url)
  // Two pipelined requests on one kept-alive connection: the first is in flight when stop() begins, so the second
  // is read while the node is stopping.
  const socket = connect(Number(port), '127.0.0.1')
  let received = ''
  socket.on('data', (c: Buffer) => { received += c.toString('utf8') })
  const closed = new Promise<void>(resolve => socket.on('close', () => { resolve() }))
  socket.write('POST /keys/pipelined/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1')
  while (!log.includes('set-start')) await delay(5)
  const stopping = node.stop()
  socket.write('GET /keys/pipelined/a HTTP/1.1\r\nHost: x\r\n\r\n')
  // The node has read the GET (while stopping: its answer is decided as it arrives); only now may the POST finish,
  // after which the node closes the connection.
  await getArrived
  gate.open()
  await closed
  await stopping
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map(m => m[1])
  assert.deepEqual(statuses, ['200', '503'], received)
  const lastBody = received.slice(received.lastIndexOf('\r\n\r\n') + 4)
  assert.equal((JSON.parse(lastBody) as { error: string }).error, 'UNAVAILABLE')
  await remove()
})

/** Resolves when this process's HTTP server starts on a request with this method and URL (Node's own channel). */
function serverRequestStart (method: string, url: string): Promise<void> {
  return new Promise(resolve => {
    const onStart = (message: unknown): void => {
      const request = (message as { request: IncomingMessage }).request
      if (request.method !== method || request.url !== url) return
      unsubscribe('http.server.request.start', onStart)
      resolve()
    }
    subscribe('http.server.request.start', onStart)
  })
}
