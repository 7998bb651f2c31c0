// A best-effort message channel between peers, protocol /gitconfig/raft/1.0.0, for the Raft transport to come.
// Each peer gets one bounded outbound queue and one long-lived stream carrying length-prefixed messages. Raft
// tolerates loss (it retries on its own timers), so nothing here retries: a full queue, an oversized message or a
// broken stream drops messages and counts them; what matters is that a slow or dead peer never blocks the sender
// or grows memory without bound.
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { p2pDialTimeoutMs, p2pKnownPeersMax, p2pRaftMessageBytesMax, p2pRaftQueueBytesMax, p2pRaftQueueMessagesMax } from '../limits.js'
import { raftProtocol } from './protocols.js'
import type { P2pStats } from './stats.js'
import { StreamReader, abortStream, encodeFrame, sendWithBackpressure } from './stream-io.js'

export { raftProtocol }

interface PeerQueue {
  readonly peer: PeerId
  readonly messages: Uint8Array[]
  queuedBytes: number
  stream: Stream | null
  draining: boolean
}

export class RaftChannel {
  private readonly queues = new Map<string, PeerQueue>()
  private stopped = false

  constructor (
    private readonly libp2p: Libp2p,
    private readonly stats: P2pStats,
    private readonly deliver: (from: string, bytes: Uint8Array) => void
  ) {}

  /** Queues `bytes` for `peerId`; false when it was dropped (queue full, too large, unknown peer id, stopped). */
  send (peerId: string, bytes: Uint8Array): boolean {
    if (this.stopped || bytes.byteLength > p2pRaftMessageBytesMax) return this.drop()
    let queue = this.queues.get(peerId)
    if (queue === undefined) {
      let peer: PeerId
      try {
        peer = peerIdFromString(peerId)
      } catch {
        return this.drop()
      }
      if (this.queues.size >= p2pKnownPeersMax) return this.drop()
      queue = { peer, messages: [], queuedBytes: 0, stream: null, draining: false }
      this.queues.set(peerId, queue)
    }
    if (queue.messages.length >= p2pRaftQueueMessagesMax || queue.queuedBytes + bytes.byteLength > p2pRaftQueueBytesMax) return this.drop()
    queue.messages.push(bytes)
    queue.queuedBytes += bytes.byteLength
    if (!queue.draining) void this.drain(queue)
    return true
  }

  /** Serves one inbound stream: every frame on it is a message from the stream's remote peer. */
  async serve (stream: Stream, from: string): Promise<void> {
    const reader = new StreamReader(stream)
    try {
      while (true) {
        const frame = await reader.readFrame(p2pRaftMessageBytesMax)
        if (frame === null) break
        this.stats.increment('raftReceived')
        this.deliver(from, frame)
      }
      await stream.close()
    } catch {
      this.stats.increment('raftMalformedDropped')
      abortStream(stream, 'raft channel read failed')
    }
  }

  /** A peer disconnected: its stream is dead; the next message opens a new one. */
  forgetStream (peerId: string): void {
    const queue = this.queues.get(peerId)
    if (queue === undefined) return
    queue.stream = null
    if (queue.messages.length === 0 && !queue.draining) this.queues.delete(peerId)
  }

  stop (): void {
    this.stopped = true
    for (const queue of this.queues.values()) {
      this.stats.increment('raftDropped', queue.messages.length)
      queue.messages.length = 0
      queue.queuedBytes = 0
      if (queue.stream !== null) abortStream(queue.stream, 'host stopping')
    }
    this.queues.clear()
  }

  private drop (): false {
    this.stats.increment('raftDropped')
    return false
  }

  private async drain (queue: PeerQueue): Promise<void> {
    queue.draining = true
    try {
      while (queue.messages.length > 0 && !this.stopped) {
        const stream = await this.openStream(queue)
        if (stream === null) {
          // The peer is unreachable: everything queued is stale by the time it could arrive; Raft resends.
          this.stats.increment('raftDropped', queue.messages.length)
          queue.messages.length = 0
          queue.queuedBytes = 0
          break
        }
        const message = queue.messages.shift()
        if (message === undefined) break
        queue.queuedBytes -= message.byteLength
        try {
          await sendWithBackpressure(stream, encodeFrame(message), AbortSignal.timeout(p2pDialTimeoutMs))
          this.stats.increment('raftSent')
        } catch {
          this.stats.increment('raftDropped')
          abortStream(stream, 'raft channel write failed')
          queue.stream = null
        }
      }
    } finally {
      queue.draining = false
    }
  }

  private async openStream (queue: PeerQueue): Promise<Stream | null> {
    if (queue.stream !== null && queue.stream.status === 'open' && queue.stream.writeStatus === 'writable') return queue.stream
    queue.stream = null
    try {
      const stream = await this.libp2p.dialProtocol(queue.peer, raftProtocol, { signal: AbortSignal.timeout(p2pDialTimeoutMs) })
      // We never read on this stream, but the remote may close it; a reader keeps that from stalling the muxer.
      void new StreamReader(stream).readSome(1).catch(() => {})
      queue.stream = stream
      return stream
    } catch {
      return null
    }
  }
}
