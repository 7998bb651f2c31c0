// The leader's view of each follower (Raft §5.3 nextIndex/matchIndex), with etcd's three replication states:
// probe (one append per heartbeat until the follower's position is found), replicate (pipelined appends within
// the inflight window) and snapshot (waiting for an InstallSnapshot to land).
import { Inflights } from './inflights.js'
import { MajorityConfig } from './quorum.js'
import type { VoteResult } from './quorum.js'
import type { ConfState, NodeId } from './types.js'

export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export class Progress {
  match = 0
  next: number
  state: ProgressState = 'probe'
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0
  /** Ticks spent in snapshot state: after an election timeout the snapshot is presumed lost and sent again. */
  snapshotTicks = 0
  /** Heard from since the last CheckQuorum round (Raft dissertation §6.2). */
  recentActive = false
  /** In probe state: an append was sent and no answer has come yet (one probe per heartbeat). */
  probeSent = false
  readonly inflights: Inflights
  isLearner: boolean

  constructor (next: number, inflightCapacity: number, isLearner: boolean) {
    this.next = next
    this.inflights = new Inflights(inflightCapacity)
    this.isLearner = isLearner
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.snapshotTicks = 0
    this.state = state
    this.inflights.reset()
  }

  becomeProbe (): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  becomeReplicate (): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot (snapshotIndex: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = snapshotIndex
  }

  /** An append up to `lastIndex` was sent. */
  sentEntries (lastIndex: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1
        this.inflights.add(lastIndex)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** A successful append response for `index`. Returns false when it is stale (nothing new). */
  maybeUpdate (index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /**
   * A rejected append for `rejected`, with the follower's hint. Returns false when the rejection is stale
   * (it answers an older probe). Raft §5.3: decrement nextIndex and retry, here jumping straight to the hint.
   */
  maybeDecrTo (rejected: number, matchHint: number): boolean {
    // A rejection at or below `match` contradicts an earlier acknowledgement: stale, or a forged message. Acting on
    // it would resend the same append forever, so it is ignored.
    if (rejected <= this.match) return false
    if (this.state === 'replicate') {
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /** Whether the leader should hold back appends to this follower. */
  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.full()
      case 'snapshot': return true
    }
  }
}

/** Membership plus every follower's progress and the current election's votes. */
export class ProgressTracker {
  voters: MajorityConfig = new MajorityConfig([])
  learners: Set<NodeId> = new Set()
  readonly progress = new Map<NodeId, Progress>()
  readonly votes = new Map<NodeId, boolean>()

  constructor (private readonly inflightCapacity: number) {}

  confState (): ConfState {
    return { voters: [...this.voters.voters].sort(), learners: [...this.learners].sort() }
  }

  isVoter (id: NodeId): boolean { return this.voters.voters.has(id) }

  /** Replaces membership, keeping progress of nodes that stay and creating it for new ones. */
  applyConfState (cs: ConfState, nextIndex: number): void {
    this.voters = new MajorityConfig(cs.voters)
    this.learners = new Set(cs.learners.filter(id => !this.voters.voters.has(id)))
    const members = new Set([...this.voters.voters, ...this.learners])
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id)
    for (const id of members) {
      const existing = this.progress.get(id)
      if (existing === undefined) {
        const pr = new Progress(nextIndex, this.inflightCapacity, this.learners.has(id))
        // A new member counts as active so CheckQuorum does not depose a leader that just added it.
        pr.recentActive = true
        this.progress.set(id, pr)
      } else {
        existing.isLearner = this.learners.has(id)
      }
    }
  }

  resetProgress (lastIndex: number, selfId: NodeId): void {
    for (const [id, old] of [...this.progress]) {
      const pr = new Progress(lastIndex + 1, this.inflightCapacity, old.isLearner)
      if (id === selfId) pr.match = lastIndex
      this.progress.set(id, pr)
    }
  }

  /** Raft §5.3/§5.4: the highest index stored on a majority of voters. */
  committed (): number {
    return this.voters.committedIndex(id => this.progress.get(id)?.match)
  }

  recordVote (id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted)
  }

  voteResult (): VoteResult { return this.voters.voteResult(this.votes) }

  resetVotes (): void { this.votes.clear() }

  /** Raft dissertation §6.2: whether a majority of voters was heard from recently (self counts). */
  quorumActive (selfId: NodeId): boolean {
    const active = new Map<NodeId, boolean>()
    for (const id of this.voters.voters) {
      const pr = this.progress.get(id)
      active.set(id, id === selfId || (pr?.recentActive ?? false))
    }
    return this.voters.voteResult(active) === 'won'
  }
}
