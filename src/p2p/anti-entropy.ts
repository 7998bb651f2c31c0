// Anti-entropy over `/gitconfig/heads/1.0.0`: one symmetric exchange in which each side sends the heads its node
// supplies (`localHeads`) and surfaces the other side's as `head` events. Gossip drops messages (no replay for late
// joiners, nothing delivered while the mesh forms); the host runs this on every new connection and periodically, so
// convergence never depends on one gossip message arriving (decision 0405).
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { p2pHeadsMessageBytesMax } from '../limits.js'
import { decodeHeads, encodeHeads, type HeadAnnouncement } from './messages.js'
import type { LocalHeadsProvider } from './options.js'
import { headsProtocol } from './protocols.js'
import { requestOnce, serveOnce } from './request-response.js'
import type { P2pStats } from './stats.js'

export type HeadSink = (head: HeadAnnouncement, from: string) => void

export class HeadsExchange {
  constructor (
    private readonly libp2p: Libp2p,
    private readonly stats: P2pStats,
    private readonly localHeads: LocalHeadsProvider,
    private readonly requestTimeoutMs: number,
    private readonly deliver: HeadSink
  ) {}

  /** One exchange with a connected peer, as the requester. Failures are counted, never thrown. */
  async exchangeWith (peer: PeerId): Promise<void> {
    try {
      const ours = encodeHeads(await this.localHeads())
      const response = await requestOnce(this.libp2p, peer, headsProtocol, ours, { responseBytesMax: p2pHeadsMessageBytesMax, timeoutMs: this.requestTimeoutMs })
      this.receive(peer.toString(), response)
      this.stats.increment('headsExchanged')
    } catch {
      this.stats.increment('headsExchangeFailed')
    }
  }

  /** One exchange, as the responder: a malformed request is refused (reset) before we answer. */
  async serve (stream: Stream, from: string): Promise<void> {
    await serveOnce(stream, { requestBytesMax: p2pHeadsMessageBytesMax, timeoutMs: this.requestTimeoutMs }, async (request) => {
      if (!this.receive(from, request)) return null
      return encodeHeads(await this.localHeads())
    })
  }

  private receive (from: string, bytes: Uint8Array): boolean {
    const heads = decodeHeads(bytes)
    if (heads === null) {
      this.stats.increment('headsMalformedDropped')
      return false
    }
    for (const head of heads) this.deliver(head, from)
    return true
  }
}
