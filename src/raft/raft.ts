// The Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", and Ongaro's
// dissertation for PreVote, CheckQuorum, ReadIndex, leadership transfer and membership changes), in the manner of
// etcd's raft library: no I/O, no clock, no randomness of its own. Inputs are tick(), step(), propose() and
// friends; outputs accumulate in `msgs` and `readStates` and are collected by RawNode into a Ready.
//
// Term handling, vote granting and the PreVote/lease rules live in step(); everything else branches by role into
// short handlers.
import { GitConfigError } from '../errors.js'
import { raftLearnersMax, raftPendingReadIndexMax, raftVotersMax } from '../limits.js'
import type { RaftConfig } from './config.js'
import { RaftLog } from './log.js'
import { Progress, ProgressTracker } from './progress.js'
import { ReadOnly } from './read-only.js'
import type { RaftStorage } from './storage.js'
import { decodeConfChange } from './conf-change.js'
import { None, message, emptyHardState } from './types.js'
import type { ConfChange, ConfState, Entry, HardState, Message, MessageType, NodeId, ReadState, Snapshot, SoftState, StateRole } from './types.js'

export type ProposeResult = 'proposed' | 'forwarded' | 'dropped'

function voteRespType (t: MessageType): MessageType {
  return t === 'preVote' ? 'preVoteResp' : 'voteResp'
}

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId = None
  lead: NodeId = None
  role: StateRole = 'follower'
  readonly log: RaftLog
  readonly trk: ProgressTracker
  /** Outgoing messages, collected by the next Ready. */
  msgs: Message[] = []
  readStates: ReadState[] = []
  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  /** The node a leadership transfer is handing over to (dissertation §3.10). */
  leadTransferee: NodeId = None
  /** Index of the latest membership change proposed by this leader; another waits until it is applied. */
  pendingConfIndex = 0
  private readOnly = new ReadOnly(raftPendingReadIndexMax)
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = []
  protected readonly config: RaftConfig

  constructor (config: RaftConfig, storage: RaftStorage) {
    this.config = config
    this.id = config.id
    this.log = new RaftLog(storage, config.committedBytesPerReadyMax)
    this.trk = new ProgressTracker(config.inflightMessagesMax)
    const { hardState, confState } = storage.initialState()
    this.trk.applyConfState(confState, this.log.lastIndex() + 1)
    this.loadState(hardState)
    if (config.applied > 0) this.log.appliedTo(Math.min(config.applied, this.log.committed))
    this.becomeFollower(this.term, None)
  }

  private loadState (hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new GitConfigError('INTERNAL', `raft: stored commit ${hs.commit} outside the stored log [${this.log.committed}, ${this.log.lastIndex()}]`)
    }
    this.log.committed = hs.commit
    this.term = hs.term
    this.vote = hs.vote
  }

  hardState (): HardState {
    if (this.term === 0 && this.vote === None && this.log.committed === 0) return emptyHardState
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  softState (): SoftState { return { lead: this.lead, role: this.role } }

  /** A voter that can campaign: in the configuration, not a learner, and not waiting on a pending snapshot. */
  promotable (): boolean {
    return this.trk.isVoter(this.id) && this.log.unstableSnapshot() === null
  }

  // ---- outgoing messages -------------------------------------------------------------------------------------

  protected send (m: Message): void {
    // Proposals and forwarded reads carry no term: the leader treats them as local requests (etcd convention).
    const term = m.type === 'prop' || m.type === 'readIndex' || m.type === 'transferLeader' ? 0 : (m.term === 0 ? this.term : m.term)
    // A forwarded transfer request names the transferee in `from` (as etcd does); everything else is from us.
    const from = m.type === 'transferLeader' ? m.from : this.id
    this.msgs.push({ ...m, from, term })
  }

  /** Sends an append (or a snapshot when the needed entries are compacted). Returns whether anything was sent. */
  private maybeSendAppend (to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to)
    if (pr === undefined || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.config.messageBytesMax)
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr)
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send(message({
      type: 'app', from: this.id, to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed
    }))
    pr.sentEntries(prevIndex + entries.length, entries.length)
    return true
  }

  /** Raft §7: a follower whose next entry is compacted away receives the latest snapshot. */
  private sendSnapshot (to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false // a peer not heard from lately is not worth a snapshot
    const snapshot = this.log.snapshot()
    if (snapshot.metadata.index === 0) return false
    this.send(message({ type: 'snap', from: this.id, to, snapshot }))
    pr.becomeSnapshot(snapshot.metadata.index)
    return true
  }

  sendAppend (to: NodeId): void { this.maybeSendAppend(to, true) }

  private sendEmptyAppend (to: NodeId, pr: Progress): void {
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) return
    this.send(message({ type: 'app', from: this.id, to, index: prevIndex, logTerm: prevTerm, commit: this.log.committed }))
  }

  private sendHeartbeat (to: NodeId, context: Uint8Array | null): void {
    const pr = this.trk.progress.get(to)
    if (pr === undefined) return
    // Never tell a follower to commit beyond what it is known to hold (it may lack those entries).
    const commit = Math.min(pr.match, this.log.committed)
    this.send(message({ type: 'heartbeat', from: this.id, to, commit, context }))
  }

  private forEachPeer (fn: (id: NodeId, pr: Progress) => void): void {
    for (const [id, pr] of this.trk.progress) if (id !== this.id) fn(id, pr)
  }

  bcastAppend (): void { this.forEachPeer(id => this.sendAppend(id)) }

  private bcastHeartbeat (): void {
    const context = this.readOnly.lastPendingContext()
    this.forEachPeer(id => this.sendHeartbeat(id, context))
  }

  // ---- role transitions --------------------------------------------------------------------------------------

  private reset (term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = None
    }
    this.lead = None
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.leadTransferee = None
    this.trk.resetVotes()
    this.trk.resetProgress(this.log.lastIndex(), this.id)
    this.pendingConfIndex = 0
    this.readOnly = new ReadOnly(raftPendingReadIndexMax)
    this.pendingReadIndexMessages = []
  }

  /** Raft §5.2: randomised election timeouts in [electionTicks, 2*electionTicks) make split votes rare. */
  private resetRandomizedElectionTimeout (): void {
    this.randomizedElectionTimeout = this.config.electionTicks + this.config.random(this.config.electionTicks)
  }

  becomeFollower (term: number, lead: NodeId): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
  }

  becomeCandidate (): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become candidate')
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  /** Dissertation §9.6: a pre-candidate changes neither its term nor its vote. */
  becomePreCandidate (): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become pre-candidate')
    this.trk.resetVotes()
    this.lead = None
    this.role = 'preCandidate'
  }

  becomeLeader (): void {
    if (this.role === 'follower') throw new Error('raft: follower cannot become leader directly')
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    const self = this.trk.progress.get(this.id)
    if (self !== undefined) self.becomeReplicate()
    // A membership change may be proposed only after everything up to here is applied (dissertation §4.1 bug fix).
    this.pendingConfIndex = this.log.lastIndex()
    // Raft §8: a new leader commits a no-op entry of its term, which also commits earlier terms' entries (§5.4.2).
    this.appendEntries([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }])
  }

  // ---- ticks -------------------------------------------------------------------------------------------------

  tick (): void {
    if (this.role === 'leader') this.tickHeartbeat()
    else this.tickElection()
  }

  private pastElectionTimeout (): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout
  }

  private tickElection (): void {
    this.electionElapsed++
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0
      this.hup(false)
    }
  }

  private tickHeartbeat (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0
      if (this.config.checkQuorum) this.checkQuorum()
      // A transfer that did not finish within an election timeout is abandoned (dissertation §3.10).
      if (this.role === 'leader' && this.leadTransferee !== None) this.leadTransferee = None
    }
    if (this.role !== 'leader') return
    this.forEachPeer((id, pr) => {
      if (pr.state !== 'snapshot') return
      // The snapshot (or its answer) was lost: fall back to probing, which sends it again if still needed.
      if (++pr.snapshotTicks > this.config.electionTicks) pr.becomeProbe()
    })
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
  }

  /** Dissertation §6.2: a leader that has not heard from a quorum within an election timeout steps down. */
  private checkQuorum (): void {
    if (!this.trk.quorumActive(this.id)) {
      this.becomeFollower(this.term, None)
      return
    }
    this.forEachPeer((_id, pr) => { pr.recentActive = false })
  }

  // ---- elections ---------------------------------------------------------------------------------------------

  /** Starts an election (or a pre-election), unless this node cannot or should not. */
  hup (transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return
    if (this.hasUnappliedConfChanges()) return // the configuration we would campaign in is not final yet
    if (this.config.preVote && !transfer) this.campaign('preVote', false)
    else this.campaign('vote', transfer)
  }

  private hasUnappliedConfChanges (): boolean {
    if (this.log.applied >= this.log.committed) return false
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER) ?? []
    return ents.some(e => e.type === 'confChange')
  }

  private campaign (kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number
    if (kind === 'preVote') {
      this.becomePreCandidate()
      term = this.term + 1 // the term we would campaign in, without adopting it yet
    } else {
      this.becomeCandidate()
      term = this.term
    }
    if (this.poll(this.id, true) === 'won') {
      // A single-voter cluster wins at once.
      if (kind === 'preVote') this.campaign('vote', false)
      else this.becomeLeader()
      return
    }
    for (const id of this.trk.voters.voters) {
      if (id === this.id) continue
      this.send(message({
        type: kind, from: this.id, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), transfer
      }))
    }
  }

  private poll (id: NodeId, granted: boolean): 'pending' | 'won' | 'lost' {
    this.trk.recordVote(id, granted)
    return this.trk.voteResult()
  }

  /** Raft §5.2, §5.4.1: grant at most one vote per term, and only to a candidate at least as up to date as us. */
  protected canGrantVote (m: Message): boolean {
    const canVote = this.vote === m.from ||
      (this.vote === None && this.lead === None) ||
      (m.type === 'preVote' && m.term > this.term)
    return canVote && this.log.isUpToDate(m.index, m.logTerm)
  }

  private handleVoteRequest (m: Message): void {
    if (this.canGrantVote(m)) {
      // A pre-vote answer carries the candidate's future term, so it is not mistaken for a stale reply.
      this.send(message({ type: voteRespType(m.type), from: this.id, to: m.from, term: m.term }))
      if (m.type === 'vote') {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.send(message({ type: voteRespType(m.type), from: this.id, to: m.from, term: this.term, reject: true }))
    }
  }

  // ---- step --------------------------------------------------------------------------------------------------

  /** Processes one message that RawNode has already validated and addressed to this node. */
  step (m: Message): void {
    if (m.term === 0) {
      // Local requests: proposals, forwarded reads and transfer requests.
    } else if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return
    } else if (m.term < this.term) {
      this.stepLowerTerm(m)
      return
    }
    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m)
      return
    }
    switch (this.role) {
      case 'leader': this.stepLeader(m); break
      case 'candidate': case 'preCandidate': this.stepCandidate(m); break
      case 'follower': this.stepFollower(m); break
    }
  }

  /** Returns false when the message is to be ignored. */
  private stepHigherTerm (m: Message): boolean {
    if (m.type === 'vote' || m.type === 'preVote') {
      // Dissertation §4.2.3: while we hear from a leader, ignore candidates (a removed or partitioned server must
      // not depose a working leader), unless the vote comes from a leadership transfer.
      const inLease = this.config.checkQuorum && this.lead !== None && this.electionElapsed < this.config.electionTicks
      if (inLease && !m.transfer) return false
    }
    if (m.type === 'preVote') return true // pre-votes never change our term
    if (m.type === 'preVoteResp' && !m.reject) return true // we adopt the term only when the pre-election is won
    if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') this.becomeFollower(m.term, m.from)
    else this.becomeFollower(m.term, None)
    return true
  }

  private stepLowerTerm (m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
      // A leader from an old term (e.g. back from a partition) learns the current term from this answer and steps
      // down; without it, PreVote/CheckQuorum could leave it unable to ever rejoin (etcd issue 5451).
      this.send(message({ type: 'appResp', from: this.id, to: m.from }))
    } else if (m.type === 'preVote') {
      this.send(message({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true }))
    }
    // Anything else from an old term is stale and ignored (Raft §5.1).
  }

  private stepLeader (m: Message): void {
    switch (m.type) {
      case 'prop': this.leaderPropose(m.entries); return
      case 'readIndex': this.leaderReadIndex(m); return
      case 'transferLeader': this.leaderTransfer(m.from); return
      default: break
    }
    const pr = this.trk.progress.get(m.from)
    if (pr === undefined) return // not a member (any more): its answers count for nothing
    switch (m.type) {
      case 'appResp': this.handleAppendResponse(m, pr); break
      case 'heartbeatResp': this.handleHeartbeatResponse(m, pr); break
      default: break
    }
  }

  private stepCandidate (m: Message): void {
    const myRespType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp'
    switch (m.type) {
      case 'app': this.becomeFollower(m.term, m.from); this.handleAppendEntries(m); break
      case 'heartbeat': this.becomeFollower(m.term, m.from); this.handleHeartbeat(m); break
      case 'snap': this.becomeFollower(m.term, m.from); this.handleSnapshot(m); break
      case 'voteResp': case 'preVoteResp': {
        if (m.type !== myRespType) return
        const result = this.poll(m.from, !m.reject)
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('vote', false)
          else {
            this.becomeLeader()
            this.bcastAppend()
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, None)
        }
        break
      }
      default: break // proposals are dropped: there is no leader to forward them to
    }
  }

  private stepFollower (m: Message): void {
    switch (m.type) {
      case 'prop': case 'readIndex': case 'transferLeader':
        // A request forwarded to us by a node that took us for the leader is not forwarded again: nodes with stale
        // ideas of the leader could pass it around in a loop. The sender's client times out and retries.
        break
      case 'app': this.electionElapsed = 0; this.lead = m.from; this.handleAppendEntries(m); break
      case 'heartbeat': this.electionElapsed = 0; this.lead = m.from; this.handleHeartbeat(m); break
      case 'snap': this.electionElapsed = 0; this.lead = m.from; this.handleSnapshot(m); break
      case 'timeoutNow': this.hup(true); break
      case 'readIndexResp':
        if (m.context !== null) this.readStates.push({ index: m.index, context: m.context })
        break
      default: break
    }
  }

  // ---- follower handlers -------------------------------------------------------------------------------------

  /** Raft §5.3: the AppendEntries receiver, answering with a fast-backtracking hint on rejection. */
  private handleAppendEntries (m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: 'appResp', from: this.id, to: m.from, index: this.log.committed }))
      return
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
    if (lastNew !== undefined) {
      this.send(message({ type: 'appResp', from: this.id, to: m.from, index: lastNew }))
      return
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm)
    this.send(message({
      type: 'appResp', from: this.id, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term
    }))
  }

  private handleHeartbeat (m: Message): void {
    // The leader sends min(match, commit), so this is within our log unless our disk lost data; never go beyond it.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
    this.send(message({ type: 'heartbeatResp', from: this.id, to: m.from, context: m.context }))
  }

  /** Raft §7 InstallSnapshot receiver. */
  private handleSnapshot (m: Message): void {
    const s = m.snapshot
    if (s === null) return
    const index = this.restore(s) ? this.log.lastIndex() : this.log.committed
    this.send(message({ type: 'appResp', from: this.id, to: m.from, index }))
  }

  /** Returns whether the snapshot replaced our log. */
  restore (s: Snapshot): boolean {
    const { index, term } = s.metadata
    if (index <= this.log.committed) return false
    if (this.log.matchTerm(index, term)) {
      // Raft §7: we already hold the snapshot's last entry; keep the log after it and just commit up to it.
      this.log.commitTo(index)
      return false
    }
    this.log.restore(s)
    this.trk.applyConfState(s.metadata.confState, this.log.lastIndex() + 1)
    return true
  }

  // ---- leader handlers ---------------------------------------------------------------------------------------

  private handleAppendResponse (m: Message, pr: Progress): void {
    pr.recentActive = true
    if (m.reject) {
      // Fast backtracking: jump to the last entry that can possibly match the follower's hinted term.
      let nextProbe = m.rejectHint
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.sendAppend(m.from)
      }
      return
    }
    const oldPaused = pr.isPaused()
    if (!pr.maybeUpdate(m.index)) {
      return
    }
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe()
      pr.becomeReplicate()
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index)

    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages()
      this.bcastAppend()
    } else if (oldPaused) {
      this.sendAppend(m.from)
    }
    // Keep sending while the window allows: a follower far behind catches up without waiting for heartbeats.
    while (this.maybeSendAppend(m.from, false)) { /* pipeline */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send(message({ type: 'timeoutNow', from: this.id, to: m.from }))
    }
  }

  private handleHeartbeatResponse (m: Message, pr: Progress): void {
    pr.recentActive = true
    pr.probeSent = false
    if (pr.match < this.log.lastIndex()) {
      if (pr.state === 'replicate' && pr.inflights.full()) {
        // The window may be full of appends that were lost: an empty append at `next` either is acknowledged
        // (freeing the window) or rejected (dropping back to probe), so replication cannot stall for good.
        this.sendEmptyAppend(m.from, pr)
      } else {
        this.sendAppend(m.from)
      }
    }
    if (m.context === null) return
    const acks = this.readOnly.recvAck(m.from, m.context)
    if (acks === undefined) return
    const ackMap = new Map<NodeId, boolean>()
    for (const id of acks) ackMap.set(id, true)
    ackMap.set(this.id, true)
    if (this.trk.voters.voteResult(ackMap) !== 'won') return
    for (const status of this.readOnly.advance(m.context)) this.respondToReadIndex(status.request, status.index)
  }

  /** Counts replicas and commits (only entries of the current term; see RaftLog.maybeCommit). */
  protected maybeCommit (): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term)
  }

  // ---- proposals, reads, transfers, membership ---------------------------------------------------------------

  /** Appends entries to the leader's log, stamping term and index. */
  private appendEntries (entries: readonly Entry[]): void {
    let index = this.log.lastIndex()
    const stamped = entries.map(e => ({ ...e, term: this.term, index: ++index }))
    this.log.append(stamped)
    // The leader's own copy counts towards the quorum; it is persisted before any message of this Ready is sent.
    this.trk.progress.get(this.id)?.maybeUpdate(this.log.lastIndex())
    this.maybeCommit()
  }

  private leaderPropose (entries: readonly Entry[]): boolean {
    if (!this.trk.progress.has(this.id)) return false // removed from the cluster
    if (this.leadTransferee !== None) return false // dissertation §3.10: stop accepting during a transfer
    if (this.log.lastIndex() - this.log.committed >= this.config.uncommittedEntriesMax) return false
    const accepted: Entry[] = []
    for (const e of entries) {
      if (e.type === 'confChange') {
        // Single-server changes one at a time: wait until the previous one is applied (dissertation §4.1).
        if (this.pendingConfIndex > this.log.applied) continue
        if (!this.confChangeWithinLimits(e.data)) continue
        this.pendingConfIndex = this.log.lastIndex() + accepted.length + 1
      }
      accepted.push(e)
    }
    if (accepted.length === 0) return false
    this.appendEntries(accepted)
    this.bcastAppend()
    return true
  }

  /** Membership stays within raftVotersMax voters and raftLearnersMax learners; a malformed change is refused. */
  private confChangeWithinLimits (data: Uint8Array): boolean {
    const cc = decodeConfChange(data)
    if (cc === undefined) return false
    if (cc.type === 'addVoter' && !this.trk.isVoter(cc.nodeId)) return this.trk.voters.size < raftVotersMax
    if (cc.type === 'addLearner' && !this.trk.learners.has(cc.nodeId)) return this.trk.learners.size < raftLearnersMax
    return true
  }

  propose (entries: readonly Entry[]): ProposeResult {
    if (this.role === 'leader') return this.leaderPropose(entries) ? 'proposed' : 'dropped'
    if (this.role !== 'follower' || this.lead === None) return 'dropped'
    this.send(message({ type: 'prop', from: this.id, to: this.lead, entries }))
    return 'forwarded'
  }

  /** Dissertation §6.4: serve a read at the current commit index once a heartbeat quorum confirms leadership. */
  readIndex (context: Uint8Array): boolean {
    const m = message({ type: 'readIndex', from: this.id, to: this.id, context })
    if (this.role === 'leader') return this.leaderReadIndex(m)
    if (this.role !== 'follower' || this.lead === None) return false
    this.send({ ...m, to: this.lead })
    return true
  }

  private committedEntryInCurrentTerm (): boolean {
    return this.log.term(this.log.committed) === this.term
  }

  private leaderReadIndex (m: Message): boolean {
    if (m.context === null) return false
    if (this.trk.voters.size <= 1) {
      this.respondToReadIndex(m, this.log.committed)
      return true
    }
    if (!this.committedEntryInCurrentTerm()) {
      // Dissertation §6.4 step 1: the commit index is only known to be current once an entry of this term commits.
      if (this.pendingReadIndexMessages.length >= raftPendingReadIndexMax) return false
      this.pendingReadIndexMessages.push(m)
      return true
    }
    if (!this.readOnly.addRequest(this.log.committed, m)) return false
    this.bcastHeartbeatWith(m.context)
    return true
  }

  private bcastHeartbeatWith (context: Uint8Array): void {
    this.forEachPeer(id => this.sendHeartbeat(id, context))
    // A single-voter quorum (self) is already satisfied.
    const acks = new Map<NodeId, boolean>([[this.id, true]])
    if (this.trk.voters.voteResult(acks) === 'won') {
      for (const status of this.readOnly.advance(context)) this.respondToReadIndex(status.request, status.index)
    }
  }

  private releasePendingReadIndexMessages (): void {
    if (!this.committedEntryInCurrentTerm()) return
    const pending = this.pendingReadIndexMessages
    this.pendingReadIndexMessages = []
    for (const m of pending) this.leaderReadIndex(m)
  }

  private respondToReadIndex (request: Message, index: number): void {
    if (request.context === null) return
    if (request.from === None || request.from === this.id) {
      this.readStates.push({ index, context: request.context })
    } else {
      this.send(message({ type: 'readIndexResp', from: this.id, to: request.from, index, context: request.context }))
    }
  }

  /** Dissertation §3.10: bring the transferee up to date, then tell it to campaign at once. */
  transferLeader (transferee: NodeId): void {
    const m = message({ type: 'transferLeader', from: transferee, to: this.id })
    if (this.role === 'leader') this.leaderTransfer(transferee)
    else if (this.role === 'follower' && this.lead !== None && transferee !== this.lead) this.send({ ...m, to: this.lead })
  }

  private leaderTransfer (transferee: NodeId): void {
    const pr = this.trk.progress.get(transferee)
    if (pr === undefined || pr.isLearner || transferee === this.id) return
    if (this.leadTransferee === transferee) return
    this.leadTransferee = transferee
    this.electionElapsed = 0 // the transfer must finish within one election timeout
    if (pr.match === this.log.lastIndex()) {
      this.send(message({ type: 'timeoutNow', from: this.id, to: transferee }))
    } else {
      this.sendAppend(transferee)
    }
  }

  /** Applies a committed membership change (called by the host when it applies the entry). */
  applyConfChange (cc: ConfChange): ConfState {
    const cs = this.trk.confState()
    const voters = new Set(cs.voters)
    const learners = new Set(cs.learners)
    switch (cc.type) {
      case 'addVoter': learners.delete(cc.nodeId); voters.add(cc.nodeId); break
      case 'addLearner': if (!voters.has(cc.nodeId)) learners.add(cc.nodeId); break
      case 'removeNode': voters.delete(cc.nodeId); learners.delete(cc.nodeId); break
    }
    this.trk.applyConfState({ voters: [...voters], learners: [...learners] }, this.log.lastIndex() + 1)
    if (this.role === 'leader') {
      if (!this.trk.isVoter(this.id)) {
        // Removed (or demoted): stop leading; the remaining voters elect a leader among themselves.
        this.becomeFollower(this.term, None)
      } else {
        if (this.leadTransferee !== None && !this.trk.isVoter(this.leadTransferee)) this.leadTransferee = None
        // The quorum changed: entries may now be committed, and new members need the log.
        if (this.maybeCommit()) this.releasePendingReadIndexMessages()
        this.bcastAppend()
      }
    }
    return this.trk.confState()
  }

  applyConfChangeEntry (e: Entry): ConfState | undefined {
    const cc = decodeConfChange(e.data)
    return cc === undefined ? undefined : this.applyConfChange(cc)
  }

  reportUnreachable (id: NodeId): void {
    const pr = this.trk.progress.get(id)
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe()
  }

  reportSnapshot (id: NodeId, ok: boolean): void {
    const pr = this.trk.progress.get(id)
    if (this.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return
    if (!ok) pr.pendingSnapshot = 0
    pr.becomeProbe()
    pr.probeSent = true // wait for the follower's answer (or the next heartbeat) before probing again
  }
}
