// Object transfer, protocol /gitconfig/fetch/1.0.0. The requester sends one frame with `{want, have}`; the
// responder answers with a sequence of frames, each a one-byte type then its payload:
//   0x00 data  - pack bytes (at most p2pFetchFrameBytesMax per frame)
//   0x01 end   - the pack is complete (empty payload)
//   0x02 error - the responder could not produce the pack (UTF-8 text, at most p2pFetchErrorTextBytesMax)
// An explicit end frame is what tells a complete pack from a truncated one: a stream that ends cleanly without it
// was cut short. The requester enforces a total byte limit and an idle timeout; every failure is a
// GitConfigError TRANSFER_FAILED whose `details.reason` says which (reset, truncated, timeout, overflow, refused,
// malformed, aborted), or PEER_UNAVAILABLE when the stream cannot be opened at all.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { GitConfigError } from '../errors.js'
import { p2pDialTimeoutMs, p2pFetchErrorTextBytesMax, p2pFetchFrameBytesMax, p2pFetchRequestBytesMax } from '../limits.js'
import { decodeFetchRequest, encodeFetchRequest, isValidFetchRequest, type FetchRequest } from './messages.js'
import { fetchProtocol } from './protocols.js'
import { combineSignals, errorText, transferError } from './request-response.js'
import type { P2pStats } from './stats.js'
import { StreamReader, StreamReadError, abortStream, encodeFrame, encodeTypedFrame, sendWithBackpressure } from './stream-io.js'

export { fetchProtocol }

const frameData = 0x00
const frameEnd = 0x01
const frameError = 0x02

/** What the node supplies to serve fetches: the pack for a request, as a stream of bytes. */
export type FetchResponder = (request: FetchRequest, context: { readonly peerId: string, readonly signal: AbortSignal }) => AsyncIterable<Uint8Array>

export interface FetchOptions {
  /** Total pack bytes accepted; more fails with reason 'overflow'. */
  readonly bytesMax: number
  /** Longest wait for the next bytes; longer fails with reason 'timeout'. */
  readonly idleTimeoutMs: number
  readonly signal?: AbortSignal
}

/** Fetches a pack from `peer`. The stream opens when iteration starts; breaking out of the loop resets it. */
export async function * fetchPack (libp2p: Libp2p, peer: PeerId, request: FetchRequest, options: FetchOptions, stats: P2pStats): AsyncGenerator<Uint8Array> {
  if (!isValidFetchRequest(request)) {
    throw new GitConfigError('INVALID_ARGUMENT', 'a fetch request needs 1 to 256 wanted and at most 4096 known commits, each 40 lowercase hex digits')
  }
  stats.increment('fetchRequested')
  const peerText = peer.toString()
  let stream: Stream
  try {
    // Opening the stream has its own deadline; the idle timer measures the transfer, from the open stream on.
    stream = await libp2p.dialProtocol(peer, fetchProtocol, { signal: combineSignals(options.signal, AbortSignal.timeout(p2pDialTimeoutMs)) })
  } catch (err) {
    stats.increment('fetchFailed')
    throw new GitConfigError('PEER_UNAVAILABLE', `cannot open ${fetchProtocol} to ${peerText}: ${errorText(err)}`, { peer: peerText, protocol: fetchProtocol })
  }
  const reader = new StreamReader(stream)
  const idle = new IdleTimer(options.idleTimeoutMs)
  const signal = combineSignals(options.signal, idle.signal)
  let receivedBytes = 0
  let complete = false
  try {
    await sendWithBackpressure(stream, encodeFrame(encodeFetchRequest(request)), signal)
    await stream.close({ signal })
    while (true) {
      const length = await reader.readFrameLength(p2pFetchFrameBytesMax + 1, signal)
      idle.refresh()
      if (length === null) throw new StreamReadError('truncated', `the stream ended after ${receivedBytes} bytes without an end frame`)
      if (length === 0) throw new StreamReadError('malformed', 'empty frame')
      const type = (await reader.readExact(1, signal))[0]
      if (type === frameEnd) {
        await reader.readExact(length - 1, signal)
        complete = true
        return
      }
      if (type === frameError) {
        const text = new TextDecoder().decode((await reader.readExact(length - 1, signal)).subarray(0, p2pFetchErrorTextBytesMax))
        throw new GitConfigError('TRANSFER_FAILED', `${peerText} refused the fetch: ${text}`, { peer: peerText, protocol: fetchProtocol, reason: 'refused', receivedBytes })
      }
      if (type !== frameData) throw new StreamReadError('malformed', `unknown frame type ${type}`)
      if (receivedBytes + length - 1 > options.bytesMax) {
        throw new GitConfigError('TRANSFER_FAILED', `the pack from ${peerText} exceeds the limit of ${options.bytesMax} bytes`, { peer: peerText, protocol: fetchProtocol, reason: 'overflow', bytesMax: options.bytesMax, receivedBytes: receivedBytes + length - 1 })
      }
      // A data frame's bytes are passed on as they arrive, not gathered into a buffer of their own first: a pack
      // is hundreds of such frames, and each gathered copy was one more large allocation per frame.
      for (let left = length - 1; left > 0;) {
        const piece = await reader.readSome(left, signal)
        if (piece === null) throw new StreamReadError('truncated', `stream ended inside a frame, after ${receivedBytes} bytes`)
        left -= piece.byteLength
        receivedBytes += piece.byteLength
        idle.stop()
        yield piece
        idle.refresh()
      }
    }
  } catch (err) {
    stats.increment('fetchFailed')
    const typed = transferError(err, peerText, fetchProtocol, signal)
    throw typed.details.receivedBytes === undefined && typed.code === 'TRANSFER_FAILED'
      ? new GitConfigError(typed.code, typed.message, { ...typed.details, receivedBytes })
      : typed
  } finally {
    idle.stop()
    // Also reached when the consumer stops iterating early: tell the responder to stop producing.
    if (!complete) abortStream(stream, 'fetch abandoned')
  }
}

/** Serves one inbound fetch stream with the node's responder. */
export async function serveFetch (stream: Stream, remotePeer: string, responder: FetchResponder | null, idleTimeoutMs: number, stats: P2pStats): Promise<void> {
  const reader = new StreamReader(stream)
  // Stops the responder's pack generation when the requester goes away or stalls.
  const stop = new AbortController()
  const onClose = (): void => { stop.abort(new Error('the requester closed the stream')) }
  stream.addEventListener('close', onClose)
  const idle = new IdleTimer(idleTimeoutMs)
  const signal = combineSignals(stop.signal, idle.signal)
  try {
    const requestBytes = await reader.readFrame(p2pFetchRequestBytesMax, signal)
    const request = requestBytes === null ? null : decodeFetchRequest(requestBytes)
    if (request === null) {
      stats.increment('fetchMalformedDropped')
      await sendFrame(stream, frameError, new TextEncoder().encode('malformed fetch request'), signal)
      await stream.close({ signal })
      return
    }
    if (responder === null) {
      await sendFrame(stream, frameError, new TextEncoder().encode('this node serves no objects'), signal)
      await stream.close({ signal })
      return
    }
    try {
      for await (const chunk of responder(request, { peerId: remotePeer, signal })) {
        for (let offset = 0; offset < chunk.byteLength; offset += p2pFetchFrameBytesMax) {
          await sendFrame(stream, frameData, chunk.subarray(offset, offset + p2pFetchFrameBytesMax), signal)
          idle.refresh()
        }
      }
    } catch (err) {
      if (signal.aborted) throw err
      const text = new TextEncoder().encode(errorText(err)).subarray(0, p2pFetchErrorTextBytesMax)
      await sendFrame(stream, frameError, text, signal)
      await stream.close({ signal })
      stats.increment('fetchServeFailed')
      return
    }
    await sendFrame(stream, frameEnd, new Uint8Array(0), signal)
    await stream.close({ signal })
    stats.increment('fetchServed')
  } catch (err) {
    stats.increment('fetchServeFailed')
    abortStream(stream, `fetch serving failed: ${errorText(err)}`)
  } finally {
    idle.stop()
    stream.removeEventListener('close', onClose)
  }
}

async function sendFrame (stream: Stream, type: number, payload: Uint8Array, signal: AbortSignal): Promise<void> {
  await sendWithBackpressure(stream, encodeTypedFrame(type, payload), signal)
}

/** An AbortSignal that fires after `timeoutMs` without progress: an inactivity deadline, not a total one. */
class IdleTimer {
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly timeoutMs: number) {
    this.refresh()
  }

  get signal (): AbortSignal { return this.controller.signal }

  /** Restarts the deadline (progress was made). */
  refresh (): void {
    this.stop()
    this.timer = setTimeout(() => {
      this.controller.abort(new DOMException(`no progress for ${this.timeoutMs} ms`, 'TimeoutError'))
    }, this.timeoutMs)
    this.timer.unref()
  }

  /** Suspends the deadline, e.g. while our own consumer holds a chunk: its slowness is not the peer's. */
  stop (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
