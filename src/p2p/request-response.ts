// One-frame request, one-frame response over a fresh stream: the shape of the heads and peer-list exchanges. Both
// sides attach their StreamReader before any other await (G4 in the libp2p note), bound each frame, and reset the
// stream on any failure so neither end waits for the other.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { GitConfigError } from '../errors.js'
import { StreamReader, StreamReadError, abortStream, encodeFrame, sendWithBackpressure } from './stream-io.js'

export interface RequestOptions {
  readonly responseBytesMax: number
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

/** Sends `request` and returns the peer's response frame. Fails with PEER_UNAVAILABLE or TRANSFER_FAILED. */
export async function requestOnce (libp2p: Libp2p, peer: PeerId, protocol: string, request: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
  const signal = combineSignals(options.signal, AbortSignal.timeout(options.timeoutMs))
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, protocol, { signal })
  } catch (err) {
    throw new GitConfigError('PEER_UNAVAILABLE', `cannot open ${protocol} to ${peer.toString()}: ${errorText(err)}`, { peer: peer.toString(), protocol })
  }
  const reader = new StreamReader(stream)
  try {
    await sendWithBackpressure(stream, encodeFrame(request), signal)
    await stream.close({ signal })
    const response = await reader.readFrame(options.responseBytesMax, signal)
    if (response === null) throw new StreamReadError('truncated', 'the peer closed the stream without answering')
    return response
  } catch (err) {
    abortStream(stream, `request failed: ${errorText(err)}`)
    throw transferError(err, peer.toString(), protocol, signal)
  }
}

export interface ServeOptions {
  readonly requestBytesMax: number
  readonly timeoutMs: number
}

/**
 * Handles one inbound request: reads the request frame, asks `respond` for the answer, writes it and closes.
 * `respond` returns null to refuse (malformed request): the stream is reset. Returns false when the exchange failed.
 */
export async function serveOnce (stream: Stream, options: ServeOptions, respond: (request: Uint8Array) => Promise<Uint8Array | null>): Promise<boolean> {
  const reader = new StreamReader(stream)
  const signal = AbortSignal.timeout(options.timeoutMs)
  try {
    const request = await reader.readFrame(options.requestBytesMax, signal)
    if (request === null) throw new StreamReadError('truncated', 'the peer closed the stream without a request')
    const response = await respond(request)
    if (response === null) {
      abortStream(stream, 'malformed request')
      return false
    }
    await sendWithBackpressure(stream, encodeFrame(response), signal)
    await stream.close({ signal })
    return true
  } catch (err) {
    abortStream(stream, `serving failed: ${errorText(err)}`)
    return false
  }
}

/** Maps a stream failure to the typed error the caller sees, naming the reason. */
export function transferError (err: unknown, peer: string, protocol: string, signal: AbortSignal | undefined): GitConfigError {
  if (err instanceof GitConfigError) return err
  let reason: string
  if (err instanceof StreamReadError) reason = err.reason
  else if (signal?.aborted === true) reason = isTimeout(signal.reason) ? 'timeout' : 'aborted'
  else reason = 'reset'
  return new GitConfigError('TRANSFER_FAILED', `${protocol} with ${peer} failed (${reason}): ${errorText(err)}`, { peer, protocol, reason })
}

function isTimeout (reason: unknown): boolean {
  return reason instanceof Error && reason.name === 'TimeoutError'
}

/** AbortSignal.any where both exist; Node 20.3+ has it. */
export function combineSignals (...signals: Array<AbortSignal | undefined>): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined)
  return present.length === 1 ? present[0] : AbortSignal.any(present)
}

export function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
