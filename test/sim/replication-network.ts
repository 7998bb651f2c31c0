// The simulated network of the replication simulation: point-to-point messages on virtual ticks, with loss,
// duplication, random delay (hence reordering) and blocked links (partitions, symmetric or one-way). Every decision
// draws from the SimRandom it is given, so a seed replays the same deliveries.
import type { SimRandom } from './random.js'

export interface NetworkOptions {
  /** Probability that a message is dropped on send. */
  readonly lossP: number
  /** Probability that a delivered message arrives twice (the copy with its own delay). */
  readonly duplicateP: number
  readonly delayTicksMin: number
  readonly delayTicksMax: number
}

/** Messages in flight at most; beyond it new ones are dropped and counted, as a real bounded queue would. */
export const networkInFlightMax = 20_000

export interface Delivery<M> {
  readonly from: number
  readonly to: number
  readonly msg: M
}

export interface NetworkStats {
  sent: number
  delivered: number
  lost: number
  duplicated: number
  /** Dropped because the link was blocked at send or at delivery time. */
  blocked: number
  overflowed: number
}

export class SimNetwork<M> {
  private readonly buckets = new Map<number, Array<Delivery<M>>>()
  private inFlight = 0
  /** blocked[from][to]: messages from `from` to `to` are dropped. */
  private readonly blockedLinks: boolean[][]
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, blocked: 0, overflowed: 0 }

  constructor (private readonly rng: SimRandom, public options: NetworkOptions, readonly nodeCount: number) {
    this.blockedLinks = Array.from({ length: nodeCount }, () => new Array<boolean>(nodeCount).fill(false))
  }

  send (from: number, to: number, msg: M, nowTick: number): void {
    this.stats.sent++
    if (this.blockedLinks[from][to]) { this.stats.blocked++; return }
    if (this.rng.chance(this.options.lossP)) { this.stats.lost++; return }
    const copies = this.rng.chance(this.options.duplicateP) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      if (this.inFlight >= networkInFlightMax) { this.stats.overflowed++; return }
      const at = nowTick + this.rng.int(this.options.delayTicksMin, this.options.delayTicksMax)
      const bucket = this.buckets.get(at) ?? []
      bucket.push({ from, to, msg })
      this.buckets.set(at, bucket)
      this.inFlight++
    }
  }

  /** The messages that arrive at this tick, in send order; those on links blocked meanwhile are dropped. */
  deliver (nowTick: number): Array<Delivery<M>> {
    const due = this.buckets.get(nowTick) ?? []
    this.buckets.delete(nowTick)
    this.inFlight -= due.length
    const arrived = due.filter(d => !this.blockedLinks[d.from][d.to])
    this.stats.blocked += due.length - arrived.length
    this.stats.delivered += arrived.length
    return arrived
  }

  isBlocked (from: number, to: number): boolean {
    return this.blockedLinks[from][to]
  }

  block (from: number, to: number): void {
    this.blockedLinks[from][to] = true
  }

  /** Unblocks every link; returns the unordered pairs that had a blocked direction, now reconnected. */
  healAll (): Array<[number, number]> {
    const reconnected: Array<[number, number]> = []
    for (let a = 0; a < this.nodeCount; a++) {
      for (let b = a + 1; b < this.nodeCount; b++) {
        if (this.blockedLinks[a][b] || this.blockedLinks[b][a]) reconnected.push([a, b])
        this.blockedLinks[a][b] = false
        this.blockedLinks[b][a] = false
      }
    }
    return reconnected
  }
}
