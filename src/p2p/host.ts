// The p2p host: one libp2p node (TCP, noise, yamux, identify, gossipsub) plus GitConfig's own protocols. It moves
// bytes and announcements and nothing else; the node plugs git in through callbacks (`localHeads`,
// `fetchResponder`) and the events (`head`, `message`).
//
// The pieces, each in its own module:
// - gossip on `gitconfig/heads/1` (here): fast propagation of new heads, best effort.
// - anti-entropy `/gitconfig/heads/1.0.0` (anti-entropy.ts): on every new connection and every
//   `antiEntropyIntervalMs`, both sides send their heads, so nothing depends on one gossip message arriving.
// - discovery (discovery.ts): peer-list exchange on the same schedule, and the re-dial loop.
// - fetch `/gitconfig/fetch/1.0.0` (fetch.ts) and the Raft channel `/gitconfig/raft/1.0.0` (raft-channel.ts).
import './polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { TopicValidatorResult, gossipsub, type GossipSub, type Message } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { TypedEventEmitter, type Libp2p, type PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { preSharedKey } from '@libp2p/pnet'
import { GitConfigError } from '../errors.js'
import { p2pDialTimeoutMs, p2pInboundStreamsPerProtocolMax, p2pStreamWindowBytesMax } from '../limits.js'
import { HeadsExchange } from './anti-entropy.js'
import { PeerDiscovery } from './discovery.js'
import { fetchPack, serveFetch, type FetchResponder } from './fetch.js'
import { loadOrCreatePrivateKey } from './identity.js'
import { readClusterKey } from './cluster-key.js'
import { decodeHeadAnnouncement, encodeHeadAnnouncement, isValidHeadAnnouncement, type FetchRequest, type HeadAnnouncement } from './messages.js'
import { validateP2pHostOptions, type P2pHostOptions, type ValidP2pHostOptions } from './options.js'
import { fetchProtocol, headsProtocol, headsTopic, peersProtocol, raftProtocol } from './protocols.js'
import { RaftChannel } from './raft-channel.js'
import { errorText } from './request-response.js'
import { P2pStats, type P2pCounters } from './stats.js'

export { fetchProtocol, headsProtocol, headsTopic, peersProtocol, raftProtocol }

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
  private readonly discovery: PeerDiscovery
  private readonly heads: HeadsExchange
  private readonly raft: RaftChannel
  /** Peers with an anti-entropy round in flight: at most one per peer. */
  private readonly syncing = new Set<string>()
  private antiEntropyTimer: NodeJS.Timeout | null = null
  private state: 'new' | 'started' | 'stopped' = 'new'

  constructor (private readonly libp2p: Libp2p<Services>, private readonly options: ValidP2pHostOptions) {
    super()
    this.discovery = new PeerDiscovery(libp2p, this.stats, options)
    this.heads = new HeadsExchange(libp2p, this.stats, options.localHeads, options.requestTimeoutMs, (head, from) => {
      this.emit('head', { head, from, via: 'anti-entropy' })
    })
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
    await this.discovery.start()
    this.antiEntropyTimer = setInterval(() => { this.antiEntropyRound() }, this.options.antiEntropyIntervalMs)
    signal?.addEventListener('abort', () => { void this.stop() }, { once: true })
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    if (this.antiEntropyTimer !== null) clearInterval(this.antiEntropyTimer)
    this.antiEntropyTimer = null
    this.discovery.stop()
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
    return this.discovery.entries().map(e => this.peerInfo(e.peerId, this.isConnected(e.peerId), []))
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
    const peer = parsePeerId(peerId)
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
    const peer = parsePeerId(peerId)
    const entry = this.discovery.entry(peerId)
    const target = entry !== undefined && entry.addrs.length > 0 ? entry.addrs.map(a => a.encapsulate(`/p2p/${peerId}`)) : peer
    try {
      await this.libp2p.dial(target, { signal: options.signal ?? AbortSignal.timeout(p2pDialTimeoutMs) })
    } catch (err) {
      throw new GitConfigError('PEER_UNAVAILABLE', `cannot connect to ${peerId}: ${errorText(err)}`, { peer: peerId })
    }
  }

  private async registerProtocols (): Promise<void> {
    const handlerOptions = { maxInboundStreams: p2pInboundStreamsPerProtocolMax }
    await this.libp2p.handle(headsProtocol, (stream, connection) => this.heads.serve(stream, connection.remotePeer.toString()), handlerOptions)
    await this.libp2p.handle(peersProtocol, (stream) => this.discovery.serve(stream), handlerOptions)
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
      void this.discovery.learn(peerId, listenAddrs).finally(() => { this.syncWith(peerId) })
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

  private emit<K extends keyof P2pHostEvents> (type: K, detail: P2pHostEvents[K]['detail']): void {
    if (this.state !== 'started') return
    this.safeDispatchEvent(type, { detail })
  }

  private isConnected (peerId: string): boolean {
    return this.libp2p.getConnections(peerIdFromString(peerId)).length > 0
  }

  private peerInfo (peerId: string, connected: boolean, fallback: Multiaddr[]): PeerInfo {
    const entry = this.discovery.entry(peerId)
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
    this.discovery.onConnect(peer)
    // A peer we already know is a GitConfig node: exchange at once rather than wait for identify (which may fail).
    if (this.discovery.isKnown(id)) this.syncWith(peer)
    this.emit('peer:connect', id)
  }

  private onDisconnect (peer: PeerId): void {
    const id = peer.toString()
    this.discovery.onDisconnect(peer)
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
      if (done.has(id) || !this.discovery.isKnown(id)) continue
      done.add(id)
      this.syncWith(connection.remotePeer)
    }
  }

  /** Exchanges heads and peer lists with one peer; at most one round per peer runs at a time. */
  private syncWith (peer: PeerId): void {
    const id = peer.toString()
    if (this.state !== 'started' || this.syncing.has(id)) return
    this.syncing.add(id)
    void Promise.allSettled([this.heads.exchangeWith(peer), this.discovery.exchangeWith(peer)])
      .finally(() => { this.syncing.delete(id) })
  }
}

function parsePeerId (peerId: string): PeerId {
  try {
    return peerIdFromString(peerId)
  } catch {
    throw new GitConfigError('INVALID_ARGUMENT', `not a PeerId: ${JSON.stringify(peerId)}`)
  }
}

/** Creates a host (not started): loads or creates the identity, validates the options, builds the libp2p node. */
export async function createP2pHost (options: P2pHostOptions): Promise<P2pHost> {
  const valid = validateP2pHostOptions(options)
  const privateKey = await loadOrCreatePrivateKey(valid.keyFile)
  const clusterKey = valid.clusterKeyFile === null ? null : await readClusterKey(valid.clusterKeyFile)
  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey,
    ...(clusterKey === null ? {} : { connectionProtector: preSharedKey({ psk: clusterKey }) }),
    addresses: { listen: [valid.listenAddr] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // The window caps what a paused stream may still receive (decision 0401).
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
