import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { isGitConfigError, type GitConfigError } from '../../src/errors.js'
import type { FetchResponder } from '../../src/p2p/fetch.js'
import { fetchProtocol } from '../../src/p2p/fetch.js'
import type { FetchRequest } from '../../src/p2p/messages.js'
import { StreamReader, encodeFrame } from '../../src/p2p/stream-io.js'
import { SimRandom } from '../sim/random.js'
import { Scratch, startHost, startRawPeer, waitUntil } from './helpers.js'

const MiB = 1024 * 1024
const request: FetchRequest = { want: ['a'.repeat(40)], have: ['b'.repeat(40), 'c'.repeat(40)] }

/** Deterministic pseudo-random pack bytes: a seeded 64 KiB block, stamped with the chunk index so order matters. */
function packChunks (totalBytes: number, chunkBytes: number, seed = 42): Uint8Array[] {
  const random = new SimRandom(seed)
  const block = new Uint8Array(64 * 1024)
  for (let i = 0; i < block.length; i++) block[i] = random.int(0, 255)
  const chunks: Uint8Array[] = []
  for (let offset = 0, index = 0; offset < totalBytes; offset += chunkBytes, index++) {
    const chunk = new Uint8Array(Math.min(chunkBytes, totalBytes - offset))
    for (let i = 0; i < chunk.length; i += block.length) chunk.set(block.subarray(0, Math.min(block.length, chunk.length - i)), i)
    new DataView(chunk.buffer).setUint32(0, index)
    chunks.push(chunk)
  }
  return chunks
}

function sha256 (chunks: Iterable<Uint8Array>): string {
  const hash = createHash('sha256')
  for (const c of chunks) hash.update(c)
  return hash.digest('hex')
}

async function fetchError (iterable: AsyncIterable<Uint8Array>): Promise<GitConfigError> {
  try {
    for await (const _chunk of iterable) { /* drain */ }
  } catch (err) {
    assert.ok(isGitConfigError(err), `typed error expected, got ${String(err)}`)
    return err
  }
  assert.fail('the fetch succeeded but should have failed')
}

test('object transfer between two hosts', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const tenMb = packChunks(10 * 1000 * 1000, 1 * MiB - 7)
  const seen: Array<{ request: FetchRequest, peerId: string }> = []
  let stopSignal: AbortSignal | null = null
  let stall = false
  const responder: FetchResponder = async function * (req, context) {
    seen.push({ request: req, peerId: context.peerId })
    if (req.want[0] === 'f'.repeat(40)) throw new Error('no such commit ffff')
    stopSignal = context.signal
    if (stall) {
      yield Uint8Array.of(1, 2, 3)
      await new Promise<void>(resolve => context.signal.addEventListener('abort', () => resolve()))
      return
    }
    yield * tenMb
  }
  const server = await startHost(scratch, { name: 'server', fetchResponder: responder })
  const client = await startHost(scratch, { name: 'client', bootstrap: server.multiaddrs() })

  await t.test('a 10 MB pack arrives intact, and the responder sees the request and the requester', async () => {
    const received: Uint8Array[] = []
    for await (const chunk of client.fetch(server.peerId, request)) received.push(chunk)
    assert.equal(received.reduce((n, c) => n + c.byteLength, 0), 10 * 1000 * 1000)
    assert.equal(sha256(received), sha256(tenMb))
    assert.deepEqual(seen.at(-1), { request, peerId: client.peerId })
    assert.equal(server.counters().fetchServed, 1)
  })

  await t.test('a pack over the byte limit fails with TRANSFER_FAILED overflow and stops the responder', async () => {
    const err = await fetchError(client.fetch(server.peerId, request, { bytesMax: 1 * MiB }))
    assert.equal(err.code, 'TRANSFER_FAILED')
    assert.equal(err.details.reason, 'overflow')
    assert.equal(err.details.bytesMax, 1 * MiB)
    await waitUntil(() => stopSignal?.aborted === true, 'the responder to be told to stop')
  })

  await t.test('a slow consumer gets backpressure: the responder never runs far ahead', async () => {
    let produced = 0
    let consumed = 0
    let aheadMax = 0
    const big = packChunks(32 * MiB, 256 * 1024)
    const slowServer = await startHost(scratch, {
      name: 'slow-server',
      bootstrap: client.multiaddrs(),
      fetchResponder: async function * () {
        for (const chunk of big) {
          produced += chunk.byteLength
          aheadMax = Math.max(aheadMax, produced - consumed)
          yield chunk
        }
      }
    })
    await waitUntil(() => client.peers().some(p => p.peerId === slowServer.peerId), 'slow server connected')
    const received: Uint8Array[] = []
    for await (const chunk of client.fetch(slowServer.peerId, request)) {
      received.push(chunk)
      await new Promise(resolve => setTimeout(resolve, 2)) // the slow consumer itself, not a wait for a condition
      consumed += chunk.byteLength
    }
    assert.equal(sha256(received), sha256(big))
    // Bounded by the yamux window (4 MiB), the reader's buffer (1 MiB) and chunks in flight; far below 32 MiB.
    assert.ok(aheadMax <= 12 * MiB, `responder ran ${aheadMax} bytes ahead of the consumer`)
  })

  await t.test('a responder that fails sends its reason: TRANSFER_FAILED refused', async () => {
    const err = await fetchError(client.fetch(server.peerId, { want: ['f'.repeat(40)], have: [] }))
    assert.equal(err.code, 'TRANSFER_FAILED')
    assert.equal(err.details.reason, 'refused')
    assert.match(err.message, /no such commit ffff/)
  })

  await t.test('a responder that stalls fails with TRANSFER_FAILED timeout, not a hang', async () => {
    // A short idle timeout on its own host: the other requests keep the default, which a loaded machine never hits.
    const impatient = await startHost(scratch, { name: 'impatient', bootstrap: server.multiaddrs(), fetchIdleTimeoutMs: 1_000 })
    await waitUntil(() => impatient.peers().some(p => p.peerId === server.peerId), 'the impatient client to connect')
    stall = true
    try {
      const err = await fetchError(impatient.fetch(server.peerId, request))
      assert.equal(err.code, 'TRANSFER_FAILED')
      assert.equal(err.details.reason, 'timeout')
    } finally {
      stall = false
    }
  })

  await t.test('stopping iteration early resets the stream and stops the responder', async () => {
    stopSignal = null
    for await (const _chunk of client.fetch(server.peerId, request)) break
    await waitUntil(() => stopSignal?.aborted === true, 'the responder to be told to stop')
  })

  await t.test('bad requests are refused locally with INVALID_ARGUMENT, unknown peers with PEER_UNAVAILABLE', async () => {
    const bad = await fetchError(client.fetch(server.peerId, { want: ['XYZ'], have: [] }))
    assert.equal(bad.code, 'INVALID_ARGUMENT')
    const none = await fetchError(client.fetch(server.peerId, { want: [], have: [] }))
    assert.equal(none.code, 'INVALID_ARGUMENT')
    for (const bytesMax of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => client.fetch(server.peerId, request, { bytesMax }), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
    }
    assert.throws(() => client.fetch('not a peer', request), (err: unknown) => isGitConfigError(err) && err.code === 'INVALID_ARGUMENT')
    const stranger = await startRawPeer(scratch)
    const unknownPeer = stranger.peerId.toString()
    await stranger.stop()
    const unreachable = await fetchError(client.fetch(unknownPeer, request))
    assert.equal(unreachable.code, 'PEER_UNAVAILABLE')
  })
})

test('a responder that breaks the stream gives a typed error, not a hang', async (t) => {
  const scratch = new Scratch()
  t.after(() => scratch.cleanup())
  const client = await startHost(scratch, { name: 'client', fetchIdleTimeoutMs: 20_000 })
  const bad = await startRawPeer(scratch)
  let mode: 'reset' | 'truncate' | 'cut' = 'reset'
  await bad.handle(fetchProtocol, async (stream) => {
    const reader = new StreamReader(stream)
    await reader.readFrame(1 * MiB)
    const data = new Uint8Array(1 + 200_000)
    for (let i = 0; i < 5; i++) stream.send(encodeFrame(data))
    // The first 100,000 bytes of one more frame: its 3-byte length, its type byte and 99,996 bytes of data.
    if (mode === 'cut') stream.send(encodeFrame(data).subarray(0, 100_000))
    if (mode === 'reset') {
      stream.abort(new Error('responder crashed'))
    } else {
      await stream.close()
    }
  })
  await bad.dial(multiaddr(client.multiaddrs()[0]))
  await waitUntil(() => client.peers().some(p => p.peerId === bad.peerId.toString()), 'the bad peer to be connected')

  await t.test('reset mid-stream: TRANSFER_FAILED reset, with the bytes received so far', async () => {
    mode = 'reset'
    const err = await fetchError(client.fetch(bad.peerId.toString(), request))
    assert.equal(err.code, 'TRANSFER_FAILED', err.message)
    assert.equal(err.details.reason, 'reset')
    assert.equal(typeof err.details.receivedBytes, 'number')
  })

  await t.test('clean end of stream without the end frame: TRANSFER_FAILED truncated', async () => {
    mode = 'truncate'
    const err = await fetchError(client.fetch(bad.peerId.toString(), request))
    assert.equal(err.code, 'TRANSFER_FAILED')
    assert.equal(err.details.reason, 'truncated')
    assert.equal(err.details.receivedBytes, 5 * 200_000)
  })

  await t.test('clean end of stream inside a data frame: TRANSFER_FAILED truncated, counting the bytes passed on', async () => {
    mode = 'cut'
    const err = await fetchError(client.fetch(bad.peerId.toString(), request))
    assert.equal(err.code, 'TRANSFER_FAILED')
    assert.equal(err.details.reason, 'truncated')
    assert.equal(err.details.receivedBytes, 5 * 200_000 + 99_996)
  })
})
