// The p2p host: one libp2p node (TCP, noise, yamux, identify, gossipsub) plus GitConfig's own protocols. It moves
// bytes and announcements and nothing else; the node plugs git in through callbacks (`localHeads`,
// `fetchResponder`) and the events (`head`, `message`).
//
// What each piece is for:
// - gossip on `gitconfig/heads/1`: fast propagation of new heads. Gossip drops (no replay for late joiners;
//   publish while the mesh forms reaches nobody), so it is only the fast path.
// - anti-entropy `/gitconfig/heads/1.0.0`: on every new connection and every `antiEntropyIntervalMs`, both sides
//   send their heads. Nothing depends on one gossip message arriving.
// - peer exchange `/gitconfig/peers/1.0.0`: nodes only know their bootstrap list; exchanging peer lists (same
//   schedule) teaches every node every other node's addresses, so it can dial the announcer of a head directly.
// - the re-dial loop: libp2p's bootstrap module dials once and its reconnect queue gives up after a few tries, so
//   an own loop dials every known peer that is not connected, with capped exponential backoff, forever for
//   bootstrap peers. Known peers are also tagged keep-alive so libp2p reconnects at once after a disconnect.
// - fetch `/gitconfig/fetch/1.0.0` (fetch.ts) and the Raft channel `/gitconfig/raft/1.0.0` (raft-channel.ts).
import './polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { TopicValidatorResult, gossipsub, type GossipSub, type Message } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { KEEP_ALIVE, TypedEventEmitter, type Connection, type Libp2p, type PeerId, type Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { GitConfigError } from '../errors.js'
import {
  p2pDialTimeoutMs, p2pHeadsMessageBytesMax, p2pInboundStreamsPerProtocolMax, p2pPeerListBytesMax,
  p2pRedialConcurrencyMax, p2pStreamWindowBytesMax
} from '../limits.js'
import { fetchPack, fetchProtocol, serveFetch, type FetchResponder } from './fetch.js'
import { loadOrCreatePrivateKey } from './identity.js'
import {
  decodeHeadAnnouncement, decodeHeads, decodePeerList, encodeHeadAnnouncement, encodeHeads, encodePeerList,
  isValidHeadAnnouncement, type FetchRequest, type HeadAnnouncement, type PeerRecord
} from './messages.js'
import { validateP2pHostOptions, splitPeerId, type P2pHostOptions, type ValidP2pHostOptions } from './options.js'
import { PeerBook } from './peer-book.js'
import { RaftChannel, raftProtocol } from './raft-channel.js'
import { errorText, requestOnce, serveOnce } from './request-response.js'
import { P2pStats, type P2pCounters } from './stats.js'

export const headsTopic = 'gitconfig/heads/1'
export const headsProtocol = '/gitconfig/heads/1.0.0'
export const peersProtocol = '/gitconfig/peers/1.0.0'

const keepAliveTag = `${KEEP_ALIVE}-gitconfig`

export interface HeadEvent {
  readonly head: HeadAnnouncement
  /** The peer to fetch the commit from: the gossip publisher, or the anti-entropy partner. */
  readonly from: string
  readonly via: 'gossip' | 'anti-entropy'
}

export interface MessageEvent {
  readonly from: string
  readonly bytes: Uint8Array
}

export interface PeerInfo {
  readonly peerId: string
  /** Full multiaddrs, each ending in /p2p/<PeerId>. */
  readonly addrs: readonly string[]
  readonly connected: boolean
  readonly bootstrap: boolean
}

export interface P2pHostEvents {
  head: CustomEvent<HeadEvent>
  message: CustomEvent<MessageEvent>
  'peer:connect': CustomEvent<string>
  'peer:disconnect': CustomEvent<string>
}

export interface HostFetchOptions {
  /** Total pack bytes accepted; default the host's `fetchBytesMax`. */
  readonly bytesMax?: number
  readonly signal?: AbortSignal
}

interface Services extends Record<string, unknown> {
  identify: Identify
  pubsub: GossipSub
}

export class P2pHost extends TypedEventEmitter<P2pHostEvents> {
  private readonly stats = new P2pStats()
  private readonly book: PeerBook
  private readonly raft: RaftChannel
  private readonly syncing = new Set<string>()
  private readonly dialing = new Set<string>()
  private timers: NodeJS.Timeout[] = []
  private redialScheduled = false
  private state: 'new' | 'started' | 'stopped' = 'new'

  constructor (private readonly libp2p: Libp2p<Services>, private readonly options: ValidP2pHostOptions) {
    super()
    this.book = new PeerBook(libp2p.peerId.toString(), Date.now)
    this.raft = new RaftChannel(libp2p, this.stats, (from, bytes) => {
      this.emit('message', { from, bytes })
    })
  }

  get peerId (): string { return this.libp2p.peerId.toString() }

  /** Full multiaddrs this node listens on, each ending in /p2p/<PeerId>: what others pass as --bootstrap. */
  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  async start (): Promise<void> {
    if (this.state !== 'new') throw new GitConfigError('INVALID_ARGUMENT', `the p2p host cannot start: it is ${this.state}`)
    const signal = this.options.signal
    if (signal?.aborted === true) {
      this.state = 'stopped'
      return
    }
    this.state = 'started'
    await this.registerProtocols()
    this.listenToLibp2p()
    await this.listen()
    this.libp2p.services.pubsub.subscribe(headsTopic)
    for (const peer of this.options.bootstrap) {
      this.book.add(peer.peerId.toString(), [peer.addr], 'bootstrap')
      await this.tagKeepAlive(peer.peerId, [peer.addr])
    }
    this.timers.push(setInterval(() => { this.redialTick() }, this.options.redialIntervalMs))
    this.timers.push(setInterval(() => { this.antiEntropyRound() }, this.options.antiEntropyIntervalMs))
    signal?.addEventListener('abort', () => { void this.stop() }, { once: true })
    this.redialTick()
  }

  private async registerProtocols (): Promise<void> {
    const handlerOptions = { maxInboundStreams: p2pInboundStreamsPerProtocolMax }
    await this.libp2p.handle(headsProtocol, (stream, connection) => this.serveHeads(stream, connection), handlerOptions)
    await this.libp2p.handle(peersProtocol, (stream, connection) => this.servePeers(stream, connection), handlerOptions)
    await this.libp2p.handle(fetchProtocol, (stream, connection) =>
      serveFetch(stream, connection.remotePeer.toString(), this.options.fetchResponder, this.options.fetchIdleTimeoutMs, this.stats), handlerOptions)
    await this.libp2p.handle(raftProtocol, (stream, connection) => this.raft.serve(stream, connection.remotePeer.toString()), handlerOptions)
  }

  private listenToLibp2p (): void {
    this.libp2p.addEventListener('peer:connect', (event) => { this.onConnect(event.detail) })
    this.libp2p.addEventListener('peer:disconnect', (event) => { this.onDisconnect(event.detail) })
    // Identify runs on every new connection and tells whether the peer is a GitConfig node (it speaks our heads
    // protocol) and where it listens. That is the moment to record it and to run anti-entropy with it.
    this.libp2p.addEventListener('peer:identify', (event) => {
      const { peerId, listenAddrs, protocols } = event.detail
      if (!protocols.includes(headsProtocol)) return
      void this.learn(peerId, listenAddrs).finally(() => { this.syncWith(peerId) })
    })
    const pubsub = this.libp2p.services.pubsub
    // Validation before acceptance, not after: a rejected message is neither delivered nor relayed to other
    // peers, and gossipsub lowers the sender's score, so one bad peer cannot spread garbage through the mesh.
    pubsub.topicValidators.set(headsTopic, (_peer, message) => this.validateGossip(message))
    pubsub.addEventListener('message', (event) => { this.onGossip(event.detail) })
  }

  /** Starts libp2p; a failure to listen (port taken, address not local) is the caller's option to fix. */
  private async listen (): Promise<void> {
    try {
      await this.libp2p.start()
    } catch (err) {
      this.state = 'stopped'
      try {
        await this.libp2p.stop()
      } catch {
        // Nothing was listening; there is nothing to release.
      }
      throw new GitConfigError('INVALID_ARGUMENT', `cannot listen on ${this.options.listenAddr}: ${errorText(err)}`, { listen: this.options.listenAddr })
    }
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    this.raft.stop()
    await this.libp2p.stop()
  }

  /** Connected peers with their addresses. */
  peers (): PeerInfo[] {
    const out: PeerInfo[] = []
    const seen = new Set<string>()
    for (const connection of this.libp2p.getConnections()) {
      const id = connection.remotePeer.toString()
      if (seen.has(id)) continue
      seen.add(id)
      out.push(this.peerInfo(id, true, [connection.remoteAddr]))
    }
    return out
  }

  /** Every peer in the peer book (bootstrap and learned), connected or not. */
  knownPeers (): PeerInfo[] {
    return this.book.list().map(e => this.peerInfo(e.peerId, this.isConnected(e.peerId), []))
  }

  counters (): P2pCounters {
    return this.stats.snapshot()
  }

  /**
   * Publishes our new head on the gossip topic. Never throws for network reasons: gossip is best effort (anti-entropy
   * covers what it drops). Resolves with the number of peers the message was sent to; 0 is counted as a drop.
   */
  async announceHead (head: HeadAnnouncement): Promise<number> {
    if (!isValidHeadAnnouncement(head)) throw new GitConfigError('INVALID_ARGUMENT', 'a head announcement needs nodeId, a 40-hex commit and an HLC version')
    if (this.state !== 'started') {
      this.stats.increment('gossipPublishDropped')
      return 0
    }
    try {
      const result = await this.libp2p.services.pubsub.publish(headsTopic, encodeHeadAnnouncement(head))
      this.stats.increment(result.recipients.length > 0 ? 'gossipPublished' : 'gossipPublishDropped')
      return result.recipients.length
    } catch {
      this.stats.increment('gossipPublishDropped')
      return 0
    }
  }

  /**
   * Fetches the objects for `request` from a peer: an async iterable of pack bytes that ends only after the whole
   * pack arrived. Fails with TRANSFER_FAILED (details.reason: reset, truncated, timeout, overflow, refused,
   * malformed, aborted) or PEER_UNAVAILABLE.
   */
  fetch (peerId: string, request: FetchRequest, options: HostFetchOptions = {}): AsyncIterable<Uint8Array> {
    const peer = this.parsePeerId(peerId)
    const bytesMax = options.bytesMax ?? this.options.fetchBytesMax
    if (!Number.isSafeInteger(bytesMax) || bytesMax < 1) throw new GitConfigError('INVALID_ARGUMENT', `fetch bytesMax must be a positive integer, not ${bytesMax}`)
    return fetchPack(this.libp2p, peer, request, {
      bytesMax,
      idleTimeoutMs: this.options.fetchIdleTimeoutMs,
      signal: options.signal
    }, this.stats)
  }

  /** Best-effort message to a peer on the Raft channel; false when dropped (and counted). */
  sendMessage (peerId: string, bytes: Uint8Array): boolean {
    return this.raft.send(peerId, bytes)
  }

  /** Dials a peer by id, using the addresses learned for it. */
  async connect (peerId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const peer = this.parsePeerId(peerId)
    const entry = this.book.get(peerId)
    const target = entry !== undefined && entry.addrs.length > 0 ? entry.addrs.map(a => a.encapsulate(`/p2p/${peerId}`)) : peer
    try {
      await this.libp2p.dial(target, { signal: options.signal ?? AbortSignal.timeout(p2pDialTimeoutMs) })
    } catch (err) {
      throw new GitConfigError('PEER_UNAVAILABLE', `cannot connect to ${peerId}: ${errorText(err)}`, { peer: peerId })
    }
  }

  private emit<K extends keyof P2pHostEvents> (type: K, detail: P2pHostEvents[K]['detail']): void {
    if (this.state !== 'started') return
    this.safeDispatchEvent(type, { detail })
  }

  private parsePeerId (peerId: string): PeerId {
    try {
      return peerIdFromString(peerId)
    } catch {
      throw new GitConfigError('INVALID_ARGUMENT', `not a PeerId: ${JSON.stringify(peerId)}`)
    }
  }

  private isConnected (peerId: string): boolean {
    return this.libp2p.getConnections(peerIdFromString(peerId)).length > 0
  }

  private peerInfo (peerId: string, connected: boolean, fallback: Multiaddr[]): PeerInfo {
    const entry = this.book.get(peerId)
    const addrs = entry !== undefined && entry.addrs.length > 0 ? entry.addrs : fallback
    return {
      peerId,
      addrs: addrs.map(a => a.encapsulate(`/p2p/${peerId}`).toString()),
      connected,
      bootstrap: entry?.bootstrap ?? false
    }
  }

  private onConnect (peer: PeerId): void {
    const id = peer.toString()
    this.book.markConnected(id)
    // libp2p removes keep-alive tags when its reconnect queue gives up; put ours back whenever the peer returns.
    const entry = this.book.get(id)
    if (entry !== undefined) {
      this.tagKeepAlive(peer, entry.addrs).catch(() => {})
      // A peer we already know is a GitConfig node: exchange at once rather than wait for identify (which may fail).
      this.syncWith(peer)
    }
    this.emit('peer:connect', id)
  }

  private onDisconnect (peer: PeerId): void {
    const id = peer.toString()
    this.book.markDisconnected(id)
    this.raft.forgetStream(id)
    this.emit('peer:disconnect', id)
  }

  private validateGossip (message: Message): TopicValidatorResult {
    if (message.type !== 'signed' || decodeHeadAnnouncement(message.data) === null) {
      this.stats.increment('gossipMalformedDropped')
      return TopicValidatorResult.Reject
    }
    return TopicValidatorResult.Accept
  }

  private onGossip (message: Message): void {
    if (message.topic !== headsTopic || message.type !== 'signed') return
    // Decoding again costs microseconds and keeps the validator free of state shared with this handler.
    const head = decodeHeadAnnouncement(message.data)
    if (head === null) return
    this.stats.increment('gossipReceived')
    this.emit('head', { head, from: message.from.toString(), via: 'gossip' })
  }

  /** Anti-entropy with every connected GitConfig peer (the ones in the peer book; other libp2p peers are skipped). */
  private antiEntropyRound (): void {
    const done = new Set<string>()
    for (const connection of this.libp2p.getConnections()) {
      const id = connection.remotePeer.toString()
      if (done.has(id) || this.book.get(id) === undefined) continue
      done.add(id)
      this.syncWith(connection.remotePeer)
    }
  }

  /** Exchanges heads and peer lists with one peer; at most one exchange per peer runs at a time. */
  private syncWith (peer: PeerId): void {
    const id = peer.toString()
    if (this.state !== 'started' || this.syncing.has(id)) return
    this.syncing.add(id)
    void Promise.allSettled([this.exchangeHeads(peer), this.exchangePeers(peer)])
      .finally(() => { this.syncing.delete(id) })
  }

  private async exchangeHeads (peer: PeerId): Promise<void> {
    try {
      const ours = encodeHeads(await this.options.localHeads())
      const response = await requestOnce(this.libp2p, peer, headsProtocol, ours, { responseBytesMax: p2pHeadsMessageBytesMax, timeoutMs: this.options.requestTimeoutMs })
      this.receiveHeads(peer.toString(), response)
      this.stats.increment('headsExchanged')
    } catch {
      this.stats.increment('headsExchangeFailed')
    }
  }

  private async serveHeads (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    await serveOnce(stream, { requestBytesMax: p2pHeadsMessageBytesMax, timeoutMs: this.options.requestTimeoutMs }, async (request) => {
      if (!this.receiveHeads(from, request)) return null
      return encodeHeads(await this.options.localHeads())
    })
  }

  private receiveHeads (from: string, bytes: Uint8Array): boolean {
    const heads = decodeHeads(bytes)
    if (heads === null) {
      this.stats.increment('headsMalformedDropped')
      return false
    }
    for (const head of heads) this.emit('head', { head, from, via: 'anti-entropy' })
    return true
  }

  private async exchangePeers (peer: PeerId): Promise<void> {
    try {
      const response = await requestOnce(this.libp2p, peer, peersProtocol, encodePeerList(this.peerList()), { responseBytesMax: p2pPeerListBytesMax, timeoutMs: this.options.requestTimeoutMs })
      await this.receivePeerList(response)
      this.stats.increment('peerListsExchanged')
    } catch {
      this.stats.increment('peerListsFailed')
    }
  }

  private async servePeers (stream: Stream, _connection: Connection): Promise<void> {
    await serveOnce(stream, { requestBytesMax: p2pPeerListBytesMax, timeoutMs: this.options.requestTimeoutMs }, async (request) => {
      if (!await this.receivePeerList(request)) return null
      return encodePeerList(this.peerList())
    })
  }

  /** Ourselves plus every peer we know an address for. */
  private peerList (): PeerRecord[] {
    const self: PeerRecord = {
      peerId: this.peerId,
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
      const addrs: Multiaddr[] = []
      for (const text of record.addrs) {
        const addr = parseLearnedAddr(text, record.peerId)
        if (addr !== null) addrs.push(addr)
      }
      // A peer without a usable address cannot be dialled; recording it would only take a place in the book.
      if (addrs.length > 0) await this.learn(peer, addrs)
    }
    return true
  }

  /** Records a peer's addresses in the peer book and the libp2p peer store, tagged keep-alive. */
  private async learn (peer: PeerId, listenAddrs: readonly Multiaddr[]): Promise<void> {
    const id = peer.toString()
    if (id === this.peerId || this.state !== 'started') return
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

  private async tagKeepAlive (peer: PeerId, addrs: readonly Multiaddr[]): Promise<void> {
    await this.libp2p.peerStore.merge(peer, {
      multiaddrs: [...addrs],
      tags: { [keepAliveTag]: { value: 50 } }
    })
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
    if (this.state !== 'started') return
    const forgotten = this.book.forgetStale()
    if (forgotten > 0) this.stats.increment('peersForgotten', forgotten)
    for (const entry of this.book.dueForDial()) {
      if (this.dialing.size >= p2pRedialConcurrencyMax) break
      if (this.dialing.has(entry.peerId)) continue
      if (this.isConnected(entry.peerId)) {
        this.book.markConnected(entry.peerId)
        continue
      }
      this.dialing.add(entry.peerId)
      this.stats.increment('redialAttempts')
      const targets = entry.addrs.map(a => a.encapsulate(`/p2p/${entry.peerId}`))
      this.libp2p.dial(targets, { signal: AbortSignal.timeout(p2pDialTimeoutMs) })
        .then(() => { this.book.markConnected(entry.peerId) })
        .catch(() => {
          this.stats.increment('redialFailures')
          this.book.markDialFailed(entry.peerId)
        })
        .finally(() => { this.dialing.delete(entry.peerId) })
    }
  }
}

/** A learned address: parses, and carries no /p2p/ part or only the owner's own. */
function parseLearnedAddr (text: string, owner: string): Multiaddr | null {
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

/** Creates a host (not started): loads or creates the identity, validates the options, builds the libp2p node. */
export async function createP2pHost (options: P2pHostOptions): Promise<P2pHost> {
  const valid = validateP2pHostOptions(options)
  const privateKey = await loadOrCreatePrivateKey(valid.keyFile)
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey,
    addresses: { listen: [valid.listenAddr] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: p2pStreamWindowBytesMax } })],
    connectionManager: { reconnectRetries: 5, reconnectRetryInterval: 1000, reconnectBackoffFactor: 1.5 },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        allowedTopics: [headsTopic],
        emitSelf: false
      })
    }
  })
  return new P2pHost(libp2p, valid)
}

export type { FetchResponder }
