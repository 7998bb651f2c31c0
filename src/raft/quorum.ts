// Majority quorums (Raft §5.2, §5.3): the commit index a set of voters agrees on, and the outcome of a vote.
import type { NodeId } from './types.js'

export type VoteResult = 'pending' | 'won' | 'lost'

export class MajorityConfig {
  readonly voters: ReadonlySet<NodeId>

  constructor (voters: Iterable<NodeId>) {
    this.voters = new Set(voters)
  }

  get size (): number { return this.voters.size }

  quorum (): number { return Math.floor(this.voters.size / 2) + 1 }

  /**
   * The largest index acknowledged by a majority: sort the voters' match indexes descending and take the
   * quorum-th. Voters without a progress count as 0. An empty configuration commits nothing.
   */
  committedIndex (matchOf: (id: NodeId) => number | undefined): number {
    if (this.voters.size === 0) return 0
    const matched: number[] = []
    for (const id of this.voters) matched.push(matchOf(id) ?? 0)
    matched.sort((a, b) => b - a)
    return matched[this.quorum() - 1]
  }

  /** Won once a majority granted, lost once a majority can no longer grant. */
  voteResult (votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    if (this.voters.size === 0) return 'won'
    let granted = 0
    let missing = 0
    for (const id of this.voters) {
      const v = votes.get(id)
      if (v === undefined) missing++
      else if (v) granted++
    }
    const q = this.quorum()
    if (granted >= q) return 'won'
    if (granted + missing >= q) return 'pending'
    return 'lost'
  }
}
