// Every peer this node knows how to reach: the bootstrap list plus peers learned from identify and from other
// nodes' peer lists (libp2p has no transitive discovery here, so without this a node only ever knows its bootstrap
// peers and cannot dial the announcer of a head). The re-dial loop reads it to decide whom to dial and when.
// Bounded by p2pKnownPeersMax; learned peers that stay unreachable for p2pLearnedPeerForgetMs are forgotten, while
// bootstrap peers are kept forever (the operator listed them).
import type { Multiaddr } from '@multiformats/multiaddr'
import { p2pAddrsPerPeerMax, p2pKnownPeersMax, p2pLearnedPeerForgetMs, p2pRedialBackoffMsMax, p2pRedialBackoffMsMin } from '../limits.js'

export interface PeerBookEntry {
  readonly peerId: string
  /** Addresses without the /p2p/<PeerId> suffix, newest first. */
  addrs: Multiaddr[]
  readonly bootstrap: boolean
  connected: boolean
  /** Consecutive failed dials since the last connection. */
  failures: number
  /** When the re-dial loop may try next (epoch ms). */
  nextDialAtMs: number
  /** Since when the peer has been unreachable (epoch ms), or null while connected or never tried. */
  unreachableSinceMs: number | null
}

/** How long to wait before the next dial after `failures` consecutive failed ones: exponential, capped. */
export function redialBackoffMs (failures: number): number {
  return Math.min(p2pRedialBackoffMsMax, p2pRedialBackoffMsMin * 2 ** Math.min(Math.max(failures, 1) - 1, 16))
}

export class PeerBook {
  private readonly entries = new Map<string, PeerBookEntry>()

  constructor (private readonly selfPeerId: string, private readonly nowMs: () => number) {}

  get size (): number { return this.entries.size }

  get (peerId: string): PeerBookEntry | undefined {
    return this.entries.get(peerId)
  }

  list (): PeerBookEntry[] {
    return [...this.entries.values()]
  }

  /**
   * Adds a peer or merges new addresses into a known one. When the book is full, the learned peer unreachable for
   * longest makes room; when there is none (all bootstrap or connected), the new peer is not recorded. Returns false
   * when it was not recorded or is ourselves.
   */
  add (peerId: string, addrs: readonly Multiaddr[], source: 'bootstrap' | 'learned'): boolean {
    if (peerId === this.selfPeerId) return false
    let entry = this.entries.get(peerId)
    if (entry === undefined) {
      if (this.entries.size >= p2pKnownPeersMax && !this.evictLongestUnreachable()) return false
      entry = {
        peerId,
        addrs: [],
        bootstrap: source === 'bootstrap',
        connected: false,
        failures: 0,
        nextDialAtMs: this.nowMs(),
        // A learned peer counts as unreachable until it connects, so one that never answers is forgotten in time.
        unreachableSinceMs: source === 'learned' ? this.nowMs() : null
      }
      this.entries.set(peerId, entry)
    }
    const merged = [...addrs]
    for (const old of entry.addrs) {
      if (!merged.some(a => a.equals(old))) merged.push(old)
    }
    entry.addrs = merged.slice(0, p2pAddrsPerPeerMax)
    return true
  }

  markConnected (peerId: string): void {
    const entry = this.entries.get(peerId)
    if (entry === undefined) return
    entry.connected = true
    entry.failures = 0
    entry.unreachableSinceMs = null
  }

  markDisconnected (peerId: string): void {
    const entry = this.entries.get(peerId)
    if (entry === undefined) return
    entry.connected = false
    // A restarted peer is usually back within seconds: retry soon rather than after an old backoff.
    entry.nextDialAtMs = this.nowMs() + p2pRedialBackoffMsMin
    entry.unreachableSinceMs ??= this.nowMs()
  }

  /** Records a failed dial and schedules the next one with exponential backoff, capped. */
  markDialFailed (peerId: string): void {
    const entry = this.entries.get(peerId)
    if (entry === undefined) return
    entry.failures++
    entry.unreachableSinceMs ??= this.nowMs()
    entry.nextDialAtMs = this.nowMs() + redialBackoffMs(entry.failures)
  }

  /** Peers that are not connected, have an address, and whose backoff has elapsed. */
  dueForDial (): PeerBookEntry[] {
    const now = this.nowMs()
    return this.list().filter(e => !e.connected && e.addrs.length > 0 && e.nextDialAtMs <= now)
  }

  private evictLongestUnreachable (): boolean {
    let victim: PeerBookEntry | null = null
    for (const entry of this.entries.values()) {
      if (entry.bootstrap || entry.connected || entry.unreachableSinceMs === null) continue
      if (victim === null || entry.unreachableSinceMs < (victim.unreachableSinceMs ?? Infinity)) victim = entry
    }
    if (victim === null) return false
    this.entries.delete(victim.peerId)
    return true
  }

  /** Forgets learned peers unreachable for too long; returns how many were forgotten. */
  forgetStale (): number {
    const now = this.nowMs()
    let forgotten = 0
    for (const entry of this.entries.values()) {
      if (entry.bootstrap || entry.connected || entry.unreachableSinceMs === null) continue
      if (now - entry.unreachableSinceMs >= p2pLearnedPeerForgetMs) {
        this.entries.delete(entry.peerId)
        forgotten++
      }
    }
    return forgotten
  }
}
