// Counters of what the p2p layer did and, above all, what it dropped: every bounded queue, rejected message and
// failed exchange is counted here, so drops are visible in /status and metrics instead of silent.

export const p2pCounterNames = [
  'gossipPublished', 'gossipPublishDropped', 'gossipReceived', 'gossipMalformedDropped',
  'headsExchanged', 'headsExchangeFailed', 'headsMalformedDropped',
  'peerListsExchanged', 'peerListsFailed', 'peerListsMalformedDropped', 'peersLearned', 'peersForgotten',
  'fetchServed', 'fetchServeFailed', 'fetchMalformedDropped', 'fetchRequested', 'fetchFailed',
  'raftSent', 'raftReceived', 'raftDropped', 'raftMalformedDropped',
  'redialAttempts', 'redialFailures', 'redialRounds'
] as const

export type P2pCounterName = typeof p2pCounterNames[number]
export type P2pCounters = Readonly<Record<P2pCounterName, number>>

export class P2pStats {
  private readonly values = new Map<P2pCounterName, number>()

  increment (name: P2pCounterName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by)
  }

  snapshot (): P2pCounters {
    const out: Partial<Record<P2pCounterName, number>> = {}
    for (const name of p2pCounterNames) out[name] = this.values.get(name) ?? 0
    return out as P2pCounters
  }
}
