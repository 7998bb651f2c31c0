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
