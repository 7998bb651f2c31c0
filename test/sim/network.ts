// The simulated network: a seeded delay per message (so messages reorder), loss, duplication, symmetric and
// one-way partitions, and an optional round trip through the wire codec. Faults are decided at send time.
import { decodeMessage, encodeMessage } from '../../src/raft/codec.js'
import type { Message, NodeId } from '../../src/raft/types.js'
import type { SimRandom } from './random.js'

export interface NetworkFaults {
  lossRate: number
  duplicateRate: number
  /** Rate of extra garbage messages injected next to real ones (they must be dropped by the receiver). */
  garbageRate: number
  delayMinMs: number
  delayMaxMs: number
}

export const calmNetwork: NetworkFaults = { lossRate: 0, duplicateRate: 0, garbageRate: 0, delayMinMs: 1, delayMaxMs: 5 }

export class SimNetwork {
  faults: NetworkFaults = { ...calmNetwork }
  /** Blocked directed links "from>to". */
  private readonly blocked = new Set<string>()
  stats = { sent: 0, dropped: 0, duplicated: 0, garbage: 0 }

  constructor (
    private readonly rng: SimRandom,
    private readonly useWireCodec: boolean,
    private readonly deliver: (atMs: number, to: NodeId, m: unknown) => void
  ) {}

  block (from: NodeId, to: NodeId): void { this.blocked.add(`${from}>${to}`) }
  blockBoth (a: NodeId, b: NodeId): void { this.block(a, b); this.block(b, a) }
  healAll (): void { this.blocked.clear() }
  isBlocked (from: NodeId, to: NodeId): boolean { return this.blocked.has(`${from}>${to}`) }
  blockedLinks (): string[] { return [...this.blocked].sort() }

  send (nowMs: number, m: Message): void {
    this.stats.sent++
    if (this.isBlocked(m.from, m.to) || this.rng.chance(this.faults.lossRate)) {
      this.stats.dropped++
      return
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.faults.delayMinMs, this.faults.delayMaxMs)
      this.deliver(nowMs + delay, m.to, this.useWireCodec ? this.roundTrip(m) : m)
    }
    if (this.rng.chance(this.faults.garbageRate)) {
      this.stats.garbage++
      this.deliver(nowMs + this.rng.int(this.faults.delayMinMs, this.faults.delayMaxMs), m.to, this.garbage(m))
    }
  }

  private roundTrip (m: Message): unknown {
    const decoded = decodeMessage(encodeMessage(m))
    if (decoded === undefined) throw new Error(`wire codec rejected a message the core produced: ${m.type}`)
    return decoded
  }

  /** A malformed variant of a real message: the receiver must drop it without throwing. */
  private garbage (m: Message): unknown {
    switch (this.rng.int(0, 7)) {
      case 0: return { ...m, type: 'bogus' }
      case 1: return { ...m, term: -1 }
      case 2: return { ...m, index: 1.5 }
      case 3: return { ...m, entries: 'not an array' }
      case 4: return { ...m, entries: [{ term: m.term, index: m.index + 5, type: 'normal', data: new Uint8Array(1) }], type: 'app' }
      case 5: return { ...m, from: '' }
      case 6: return null
      default: return { ...m, snapshot: { metadata: { index: 'x' } } }
    }
  }
}
