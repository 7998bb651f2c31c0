// Reading and writing libp2p 3 streams without the traps measured in shared/notes/libp2p-3-on-node-20.md (G4):
// a reader must be attached the moment a stream exists (late `for await` hangs; unread bytes past the stream's
// buffer abort it, and a later read sees a silent, error-free truncation). `byteStream` from @libp2p/utils avoids
// the hang but buffers without backpressure and aborts when the consumer falls behind, which a multi-hundred-MB
// pack piped into a slow `git index-pack` would do. So this reader buffers at most p2pStreamReadBufferBytesMax,
// then pauses the stream (yamux stops granting send window, so the sender stops), and resumes as it drains.
//
// Framing is a varint length prefix (unsigned LEB128, as libp2p's own length-prefixed streams use) followed by
// that many bytes; every frame read names its own maximum, so a peer cannot make us allocate more than we allow.
import type { Stream } from '@libp2p/interface'
import { p2pStreamReadBufferBytesMax, p2pStreamWindowBytesMax } from '../limits.js'

/** Why a read failed; the protocol modules map these to their own typed errors. */
export type StreamReadFailure = 'reset' | 'truncated' | 'oversized' | 'malformed' | 'aborted'

export class StreamReadError extends Error {
  constructor (readonly reason: StreamReadFailure, message: string) {
    super(message)
    this.name = 'StreamReadError'
  }
}

const varintBytesMax = 5 // enough for lengths below 2^35; every frame limit here is far below that

export class StreamReader {
  private readonly chunks: Uint8Array[] = []
  private bufferedBytes = 0
  private remoteEnded = false
  private failure: StreamReadError | null = null
  private paused = false
  private resuming = false
  private wake: (() => void) | null = null

  /** Attach at once: call this synchronously right after the stream is opened or handed to a handler. */
  constructor (private readonly stream: Stream, private readonly bufferBytesMax = p2pStreamReadBufferBytesMax) {
    // While paused the muxer may still deliver what the window already allowed; keep that inside the stream's
    // own buffer limit so a pause never turns into an abort.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, p2pStreamWindowBytesMax + bufferBytesMax)
    stream.addEventListener('message', (event) => {
      const data = event.data
      this.push(data instanceof Uint8Array ? data : data.subarray())
    })
    stream.addEventListener('remoteCloseWrite', () => {
      this.remoteEnded = true
      this.notify()
    })
    stream.addEventListener('close', (event) => {
      if (event.error !== undefined && event.error !== null) {
        this.failure ??= new StreamReadError(event.local === true ? 'aborted' : 'reset',
          `stream ${event.local === true ? 'aborted locally' : 'reset by the peer'}: ${event.error.message}`)
      } else {
        this.remoteEnded = true
      }
      this.notify()
    })
  }

  /** Bytes received and not yet read. */
  get buffered (): number { return this.bufferedBytes }

  /** Some bytes (at most `bytesMax`), or null at a clean end of stream. */
  async readSome (bytesMax: number, signal?: AbortSignal): Promise<Uint8Array | null> {
    while (this.chunks.length === 0) {
      if (this.failure !== null) throw this.failure
      if (this.paused) this.resume()
      if (this.chunks.length > 0) break
      if (this.remoteEnded && this.stream.readBufferLength === 0) return null
      await this.waitForData(signal)
    }
    const first = this.chunks[0]
    let out: Uint8Array
    if (first.byteLength <= bytesMax) {
      this.chunks.shift()
      out = first
    } else {
      out = first.subarray(0, bytesMax)
      this.chunks[0] = first.subarray(bytesMax)
    }
    this.bufferedBytes -= out.byteLength
    if (this.paused && this.bufferedBytes <= this.bufferBytesMax / 2) this.resume()
    return out
  }

  /** Exactly `length` bytes; a clean end before them is a truncation. */
  async readExact (length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      const part = await this.readSome(length - filled, signal)
      if (part === null) throw new StreamReadError('truncated', `stream ended after ${filled} of ${length} bytes`)
      out.set(part, filled)
      filled += part.byteLength
    }
    return out
  }

  /** The next length-prefixed frame, or null when the stream ends cleanly between frames. */
  async readFrame (bytesMax: number, signal?: AbortSignal): Promise<Uint8Array | null> {
    const length = await this.readFrameLength(bytesMax, signal)
    return length === null ? null : await this.readExact(length, signal)
  }

  /**
   * The length prefix of the next frame, or null when the stream ends cleanly between frames; the caller then
   * reads exactly that many bytes (readSome, readExact), e.g. to pass a large frame on in pieces instead of
   * assembling it in a buffer of its own.
   */
  async readFrameLength (bytesMax: number, signal?: AbortSignal): Promise<number | null> {
    let length = 0
    for (let i = 0; ; i++) {
      if (i === varintBytesMax) throw new StreamReadError('malformed', 'frame length prefix too long')
      const byte = await this.readSome(1, signal)
      if (byte === null) {
        if (i === 0) return null
        throw new StreamReadError('truncated', 'stream ended inside a frame length prefix')
      }
      length += (byte[0] & 0x7f) * 2 ** (7 * i)
      if ((byte[0] & 0x80) === 0) break
    }
    if (length > bytesMax) throw new StreamReadError('oversized', `frame of ${length} bytes exceeds the limit of ${bytesMax}`)
    return length
  }

  private push (data: Uint8Array): void {
    if (data.byteLength === 0) return
    this.chunks.push(data)
    this.bufferedBytes += data.byteLength
    if (!this.paused && this.bufferedBytes > this.bufferBytesMax) {
      this.paused = true
      // stream.resume() delivers its held bytes to us *before* it tells the muxer to resume; pausing inside that
      // delivery would be undone by the muxer's resume right after (the window reopens while the stream counts as
      // paused, and its buffer overflows). So a pause during a resume waits for the resume to finish.
      if (this.resuming) queueMicrotask(() => { this.pauseStream() })
      else this.pauseStream()
    }
    this.notify()
  }

  private pauseStream (): void {
    if (!this.paused) return
    try {
      this.stream.pause()
    } catch {
      // The stream is already closing; there is nothing more to hold back.
    }
  }

  private resume (): void {
    this.paused = false
    this.resuming = true
    try {
      this.stream.resume()
    } catch {
      // Closing or closed: the buffered bytes are all there is.
    } finally {
      this.resuming = false
    }
  }

  private notify (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private async waitForData (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.wake = null
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.wake = () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
    })
  }
}

/** Unsigned LEB128 varint of a length. */
export function encodeVarint (value: number): Uint8Array {
  const bytes: number[] = []
  let rest = value
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  bytes.push(rest)
  return Uint8Array.from(bytes)
}

/** A frame: varint length then the payload, as one buffer (one send, one yamux frame when small). */
export function encodeFrame (payload: Uint8Array): Uint8Array {
  return encodeTypedFrame(null, payload)
}

/**
 * A frame whose payload is a type byte (when not null) then `body`, built with one allocation and one copy of the
 * body: a pack streams through here in frames of up to 256 KiB.
 */
export function encodeTypedFrame (type: number | null, body: Uint8Array): Uint8Array {
  const typeBytes = type === null ? 0 : 1
  const prefix = encodeVarint(typeBytes + body.byteLength)
  const out = new Uint8Array(prefix.byteLength + typeBytes + body.byteLength)
  out.set(prefix, 0)
  if (type !== null) out[prefix.byteLength] = type
  out.set(body, prefix.byteLength + typeBytes)
  return out
}

/**
 * Sends bytes; when the muxer reports its window full (send() returns false), waits for the next 'drain' event.
 * Not `stream.onDrain()`: in @libp2p/utils 7.4.1 it keeps the promise of the first drain and returns it, already
 * resolved, on every later call, so after one drain a sender would no longer wait and would buffer the whole
 * transfer in memory (measured: a 32 MiB pack fully queued ahead of a slow reader).
 */
export async function sendWithBackpressure (stream: Stream, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (stream.send(bytes)) return
  await waitForDrain(stream, signal)
}

async function waitForDrain (stream: Stream, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (event: Event): void => {
      cleanup()
      const error = 'error' in event && event.error instanceof Error ? event.error : null
      reject(error ?? new StreamReadError('aborted', 'the stream closed while waiting to send'))
    }
    const onAbort = (): void => { cleanup(); reject(signal?.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}

/** Resets a stream with a reason, ignoring a stream that is already gone. */
export function abortStream (stream: Stream, reason: string): void {
  try {
    stream.abort(new Error(reason))
  } catch {
    // Already closed or reset.
  }
}
