// Peer discovery and staying connected. Two jobs that share one peer book:
// - peer exchange `/gitconfig/peers/1.0.0`: nodes only know their bootstrap list (libp2p has no transitive
//   discovery here), so each side of an exchange sends itself plus every peer it knows an address for; what it
//   learns goes into the peer book and the libp2p peer store (decision 0403).
// - the re-dial loop: libp2p's bootstrap module dials once and its reconnect queue gives up after a few tries, so
//   this loop dials every known peer that is not connected, with capped exponential backoff, forever for bootstrap
//   peers. Known peers are also tagged keep-alive so libp2p reconnects at once after a disconnect (decision 0402).
//   A bootstrap address without /p2p/<PeerId> is dialled as it is, whenever no connection to the peer last found
//   there is open; whoever answers is recorded as a bootstrap peer (decision 0408).
import { KEEP_ALIVE, type Libp2p, type PeerId, type Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { p2pDialTimeoutMs, p2pPeerListBytesMax, p2pRedialConcurrencyMax } from '../limits.js'
import { decodePeerList, encodePeerList, type PeerRecord } from './messages.js'
import { splitPeerId, type BootstrapPeer } from './options.js'
import { PeerBook, redialBackoffMs, type PeerBookEntry } from './peer-book.js'
import { peersProtocol } from './protocols.js'
import { requestOnce, serveOnce } from './request-response.js'
import type { P2pStats } from './stats.js'

const keepAliveTag = `${KEEP_ALIVE}-gitconfig`

export interface DiscoveryOptions {
  readonly bootstrap: readonly BootstrapPeer[]
  readonly redialIntervalMs: number
  readonly requestTimeoutMs: number
}

/** A bootstrap address given without a peer id, and the peer found there last. */
interface AddressTarget {
  readonly addr: Multiaddr
  peerId: string | null
  failures: number
  nextDialAtMs: number
  dialing: boolean
}

export class PeerDiscovery {
  private readonly book: PeerBook
  private readonly dialing = new Set<string>()
  private readonly addressTargets: AddressTarget[] = []
  private timer: NodeJS.Timeout | null = null
  private redialScheduled = false
  private running = false

  constructor (private readonly libp2p: Libp2p, private readonly stats: P2pStats, private readonly options: DiscoveryOptions) {
    this.book = new PeerBook(libp2p.peerId.toString(), Date.now)
  }

  /** Call once libp2p is listening: records the bootstrap peers and starts dialling them. */
  async start (): Promise<void> {
    this.running = true
    const ownAddrs = this.libp2p.getMultiaddrs().map(a => splitPeerId(a)?.addr ?? a)
    for (const peer of this.options.bootstrap) {
      if (peer.peerId === null) {
        if (!ownAddrs.some((a) => a.equals(peer.addr))) this.addressTargets.push({ addr: peer.addr, peerId: null, failures: 0, nextDialAtMs: Date.now(), dialing: false })
        continue
      }
      this.book.add(peer.peerId.toString(), [peer.addr], 'bootstrap')
      await this.tagKeepAlive(peer.peerId, [peer.addr])
    }
    this.timer = setInterval(() => { this.redialTick() }, this.options.redialIntervalMs)
    this.redialTick()
  }

  stop (): void {
    this.running = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** A GitConfig peer: one in the book (bootstrap, identified, or learned from a peer list). */
  isKnown (peerId: string): boolean {
    return this.book.get(peerId) !== undefined
  }

  entry (peerId: string): PeerBookEntry | undefined {
    return this.book.get(peerId)
  }

  entries (): PeerBookEntry[] {
    return this.book.list()
  }

  onConnect (peer: PeerId): void {
    const id = peer.toString()
    this.book.markConnected(id)
    // libp2p removes keep-alive tags when its reconnect queue gives up; put ours back whenever the peer returns.
    const entry = this.book.get(id)
    if (entry !== undefined) this.tagKeepAlive(peer, entry.addrs).catch(() => {})
  }

  onDisconnect (peer: PeerId): void {
    this.book.markDisconnected(peer.toString())
  }

  /** Records a peer's listen addresses in the peer book and the libp2p peer store, tagged keep-alive. */
  async learn (peer: PeerId, listenAddrs: readonly Multiaddr[]): Promise<void> {
    const id = peer.toString()
    if (!this.running || id === this.libp2p.peerId.toString()) return
    const addrs = listenAddrs.map(a => splitPeerId(a)?.addr ?? a)
    const isNew = this.book.get(id) === undefined
    if (!this.book.add(id, addrs, 'learned')) return
    if (isNew) {
      this.stats.increment('peersLearned')
      this.scheduleRedial()
    }
    if (this.isConnected(id)) this.book.markConnected(id)
    try {
      await this.tagKeepAlive(peer, addrs)
    } catch {
      // The peer store refused (e.g. stopping); the peer book still has the addresses for the re-dial loop.
    }
  }

  /** One peer-list exchange with a connected peer, as the requester. */
  async exchangeWith (peer: PeerId): Promise<void> {
    try {
      const request = encodePeerList(this.peerList())
      const response = await requestOnce(this.libp2p, peer, peersProtocol, request, { responseBytesMax: p2pPeerListBytesMax, timeoutMs: this.options.requestTimeoutMs })
      await this.receivePeerList(response)
      this.stats.increment('peerListsExchanged')
    } catch {
      this.stats.increment('peerListsFailed')
    }
  }

  /** One peer-list exchange, as the responder. */
  async serve (stream: Stream): Promise<void> {
    await serveOnce(stream, { requestBytesMax: p2pPeerListBytesMax, timeoutMs: this.options.requestTimeoutMs }, async (request) => {
      if (!await this.receivePeerList(request)) return null
      return encodePeerList(this.peerList())
    })
  }

  /** Ourselves plus every peer we know an address for. */
  private peerList (): PeerRecord[] {
    const self: PeerRecord = {
      peerId: this.libp2p.peerId.toString(),
      addrs: this.libp2p.getMultiaddrs().map(a => (splitPeerId(a)?.addr ?? a).toString())
    }
    const known = this.book.list().filter(e => e.addrs.length > 0).map(e => ({ peerId: e.peerId, addrs: e.addrs.map(a => a.toString()) }))
    return [self, ...known]
  }

  private async receivePeerList (bytes: Uint8Array): Promise<boolean> {
    const records = decodePeerList(bytes)
    if (records === null) {
      this.stats.increment('peerListsMalformedDropped')
      return false
    }
    for (const record of records) {
      let peer: PeerId
      try {
        peer = peerIdFromString(record.peerId)
      } catch {
        this.stats.increment('peerListsMalformedDropped')
        continue
      }
      const addrs = record.addrs.map(text => parseLearnedAddr(text, record.peerId)).filter((a): a is Multiaddr => a !== null)
      // A peer without a usable address cannot be dialled; recording it would only take a place in the book.
      if (addrs.length > 0) await this.learn(peer, addrs)
    }
    return true
  }

  private async tagKeepAlive (peer: PeerId, addrs: readonly Multiaddr[]): Promise<void> {
    await this.libp2p.peerStore.merge(peer, {
      multiaddrs: [...addrs],
      tags: { [keepAliveTag]: { value: 50 } }
    })
  }

  private isConnected (peerId: string): boolean {
    return this.libp2p.getConnections(peerIdFromString(peerId)).length > 0
  }

  /** Runs the re-dial check soon (once for a burst of newly learned peers) instead of at the next tick. */
  private scheduleRedial (): void {
    if (this.redialScheduled) return
    this.redialScheduled = true
    setImmediate(() => {
      this.redialScheduled = false
      this.redialTick()
    })
  }

  /** Dials known peers that are not connected and whose backoff has elapsed. */
  private redialTick (): void {
    if (!this.running) return
    // Counted so that a test can tell "not dialled" from "not yet looked at" (a round in which nothing was due).
    this.stats.increment('redialRounds')
    const forgotten = this.book.forgetStale()
    if (forgotten > 0) this.stats.increment('peersForgotten', forgotten)
    for (const entry of this.book.dueForDial()) {
      if (this.dialing.size >= p2pRedialConcurrencyMax) break
      if (this.dialing.has(entry.peerId)) continue
      if (this.isConnected(entry.peerId)) {
        this.book.markConnected(entry.peerId)
        continue
      }
      this.dial(entry)
    }
    const now = Date.now()
    for (const target of this.addressTargets) {
      if (target.dialing || target.nextDialAtMs > now) continue
      if (target.peerId !== null && (this.isConnected(target.peerId) || this.dialing.has(target.peerId))) continue
      this.dialAddress(target)
    }
  }

  /** Dials a bootstrap address that names no peer, and records whoever answers as a bootstrap peer. */
  private dialAddress (target: AddressTarget): void {
    target.dialing = true
    this.stats.increment('redialAttempts')
    this.libp2p.dial(target.addr, { signal: AbortSignal.timeout(p2pDialTimeoutMs) })
      .then(async (connection) => {
        target.failures = 0
        const peer = connection.remotePeer
        target.peerId = peer.toString()
        this.book.add(target.peerId, [target.addr], 'bootstrap')
        this.book.markConnected(target.peerId)
        await this.tagKeepAlive(peer, [target.addr]).catch(() => {})
      }, (err: Error) => {
        // A node is often given the whole cluster's list, its own address included: whoever answers there is us.
        if (err.name === 'InvalidPeerIdError') { this.addressTargets.splice(this.addressTargets.indexOf(target), 1); return }
        target.failures++
        target.nextDialAtMs = Date.now() + redialBackoffMs(target.failures)
        this.stats.increment('redialFailures')
      })
      .finally(() => { target.dialing = false })
  }

  private dial (entry: PeerBookEntry): void {
    const id = entry.peerId
    this.dialing.add(id)
    this.stats.increment('redialAttempts')
    const targets = entry.addrs.map(a => a.encapsulate(`/p2p/${id}`))
    this.libp2p.dial(targets, { signal: AbortSignal.timeout(p2pDialTimeoutMs) })
      .then(() => { this.book.markConnected(id) })
      .catch(() => {
        this.stats.increment('redialFailures')
        this.book.markDialFailed(id)
      })
      .finally(() => { this.dialing.delete(id) })
  }
}

/** A learned address: parses, and carries no /p2p/ part or only the owner's own. */
export function parseLearnedAddr (text: string, owner: string): Multiaddr | null {
  let addr: Multiaddr
  try {
    addr = multiaddr(text)
  } catch {
    return null
  }
  const split = splitPeerId(addr)
  if (split === null) return addr.getComponents().some(c => c.name === 'p2p') ? null : addr
  return split.peerId.toString() === owner ? split.addr : null
}
