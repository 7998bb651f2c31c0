import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigClient, encodeKeyPath } from '../../src/client/client.js'
import { SseParser } from '../../src/client/sse.js'
import { keyBytesMaxDefault, valueBytesMaxDefault } from '../../src/limits.js'
import { openStore } from '../../src/node/open-store.js'
import { configStoreSuite } from '../support/config-store-suite.js'
import { startNode } from '../support/node-fixture.js'

configStoreSuite('embedded store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-suite-'))
  const store = await openStore(join(dir, 'repo'), { keyBytesMax: keyBytesMaxDefault, valueBytesMax: valueBytesMaxDefault })
  return { store, close: async () => { await store.close(); await rm(dir, { recursive: true, force: true }) } }
})

configStoreSuite('GitConfigClient over HTTP', async () => {
  const f = await startNode()
  const store = new GitConfigClient(f.url)
  return { store, close: async () => { await store.close(); await f.close() } }
})

test('client: an unreachable node is UNAVAILABLE; a bad URL is INVALID_ARGUMENT', async () => {
  const f = await startNode()
  const url = f.url
  await f.close()
  await assert.rejects(new GitConfigClient(url).get('/x'), (err: Error & { code?: string }) => err.code === 'UNAVAILABLE')
  assert.throws(() => new GitConfigClient('not a url'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT')
  assert.throws(() => new GitConfigClient('ftp://x'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT')
})

test('client: a node that accepts the connection but never answers fails the request with UNAVAILABLE', async () => {
  const { createServer } = await import('node:net')
  const sockets: Array<import('node:net').Socket> = []
  const silent = createServer(socket => { sockets.push(socket) })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  const address = silent.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const client = new GitConfigClient(`http://127.0.0.1:${port}`, { requestTimeoutMs: 300 })
  await assert.rejects(client.get('/x'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'UNAVAILABLE')
    assert.match(err.message, /no answer .* within 300 ms/)
    return true
  })
  for (const s of sockets) s.destroy()
  await new Promise<void>(resolve => silent.close(() => { resolve() }))
})

test('client: keys are percent-encoded per segment; dot segments are refused before any request', () => {
  assert.equal(encodeKeyPath('/a b/ключ/x%y'), 'a%20b/%D0%BA%D0%BB%D1%8E%D1%87/x%25y')
  assert.throws(() => encodeKeyPath('/a/../b'), (err: Error & { code?: string }) => err.code === 'INVALID_KEY')
})

test('client watch: a stream cut inside a commit resumes from the last whole commit and yields nothing twice', async () => {
  const { createServer } = await import('node:http')
  const version = { wallMs: 1, counter: 0, node: 'n' }
  const change = (commit: string, key: string, last: boolean): string =>
    `${last ? `id: ${commit}\n` : ''}event: change\ndata: ${JSON.stringify({ key, op: 'set', value: key, commit, version })}\n\n`
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    if (requests.length === 1) {
      // Commit c1 whole, then two of commit c2's three changes, then the connection drops: once those bytes are
      // handed to the kernel, which delivers them before the close.
      res.write('id: c0\nevent: ready\ndata: {"since":"c0"}\n\n' + change('c1', '/k1', true) + change('c2', '/a', false) + change('c2', '/b', false),
        () => { res.socket?.destroy() })
    } else {
      // Resumed after c1: the node replays c2 from its start, then goes on.
      res.write('id: c1\nevent: ready\ndata: {"since":"c1"}\n\n' + change('c2', '/a', false) + change('c2', '/b', false) + change('c2', '/c', true) + change('c3', '/x', true))
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const client = new GitConfigClient(`http://127.0.0.1:${port}`)
  const seen: string[] = []
  for await (const ev of client.watch('/', { recursive: true })) {
    seen.push(`${ev.commit}:${ev.key}`)
    if (seen.length === 5) break
  }
  await client.close()
  server.closeAllConnections()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  assert.deepEqual(seen, ['c1:/k1', 'c2:/a', 'c2:/b', 'c2:/c', 'c3:/x'])
  assert.equal(requests.length, 2)
  assert.match(requests[1], /[?&]since=c1(&|$)/)
})

test('SSE parser: messages split at any byte, CRLF line ends, comments and multi-line data', () => {
  const stream = ': hello\r\nretry: 1000\r\n\r\nid: c1\nevent: change\ndata: {"a":1}\n\nevent: change\ndata: line1\ndata: line2\nid: c2\n\n'
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new SseParser()
    const msgs = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))]
    assert.deepEqual(msgs, [
      { event: 'change', data: '{"a":1}', id: 'c1' },
      { event: 'change', data: 'line1\nline2', id: 'c2' }
    ], `cut at ${cut}`)
  }
})
