// RawNode: the application's handle on the Raft state machine, and the Ready/advance protocol.
//
// What a host must do with each Ready. The host loop itself is written once, in src/strong/host.ts, and both the
// daemon and the simulator run it (STYLE.md, decision 0107):
//
//   for each input (tick, message, proposal, read):  call tick()/step()/propose()/readIndex()
//   while hasReady():
//     rd = ready()
//     1. persist rd.hardState, rd.snapshot and rd.entries (durably)         -- Raft §5.1: before anything is sent
//     2. send rd.messages                                                   -- only after step 1 completed
//     3. apply rd.snapshot (if any), then rd.committedEntries in order; for a confChange entry call applyConfChange()
//     4. serve rd.readStates once the state machine has applied their index
//     5. advance(rd)
//
// Nothing in here does I/O, reads a clock or draws randomness (the election jitter comes from config.random).
import { validate } from './config.js'
import type { RaftConfigInput } from './config.js'
import { parseMessage } from './codec.js'
import { encodeConfChange } from './conf-change.js'
import { Raft } from './raft.js'
import type { ProposeResult } from './raft.js'
import type { RaftStorage } from './storage.js'
import { hardStateEqual, isEmptySnapshot } from './types.js'
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot, SoftState, StateRole } from './types.js'

export interface Ready {
  /** Set when leader or role changed since the last Ready (informational, never persisted). */
  readonly softState: SoftState | null
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState: HardState | null
  /** Entries to persist (they may replace a conflicting suffix of the stored log). */
  readonly entries: readonly Entry[]
  /** A snapshot received from the leader: persist it and restore the state machine from it. */
  readonly snapshot: Snapshot | null
  /** Committed entries to apply, in order, after persisting. */
  readonly committedEntries: readonly Entry[]
  /** Messages to send after persisting. */
  readonly messages: readonly Message[]
  readonly readStates: readonly ReadState[]
  /** Whether the write of this Ready must be synced to disk before sending (term, vote or entries changed). */
  readonly mustSync: boolean
}

export interface Status {
  readonly id: NodeId
  readonly term: number
  readonly vote: NodeId
  readonly commit: number
  readonly applied: number
  readonly lead: NodeId
  readonly role: StateRole
  readonly lastIndex: number
  readonly confState: ConfState
}

/** Builds the state machine; the simulator's fault-injection tests substitute a subclass here. */
export type RaftFactory = (config: ReturnType<typeof validate>, storage: RaftStorage) => Raft

export class RawNode {
  readonly raft: Raft
  private prevSoftState: SoftState
  private prevHardState: HardState
  /** Messages dropped by step() because they were malformed or misaddressed (a counted drop, not an error). */
  droppedMessages = 0

  constructor (config: RaftConfigInput, storage: RaftStorage, factory: RaftFactory = (c, s) => new Raft(c, s)) {
    this.raft = factory(validate(config), storage)
    this.prevSoftState = this.raft.softState()
    this.prevHardState = this.raft.hardState()
  }

  /**
   * Creates the initial membership of a brand-new cluster: one committed confChange entry per voter at term 1,
   * identical on every founding node (etcd's Bootstrap). Only valid on empty storage.
   */
  bootstrap (voters: readonly NodeId[]): void {
    const r = this.raft
    if (r.log.lastIndex() !== 0 || r.term !== 0) throw new Error('raft: bootstrap needs empty storage')
    if (voters.length === 0) throw new Error('raft: bootstrap needs at least one voter')
    const entries: Entry[] = voters.map((nodeId, i) => ({
      term: 1, index: i + 1, type: 'confChange', data: encodeConfChange({ type: 'addVoter', nodeId })
    }))
    r.becomeFollower(1, '')
    r.log.append(entries)
    r.log.committed = entries.length
    for (const id of voters) r.applyConfChange({ type: 'addVoter', nodeId: id })
  }

  tick (): void { this.raft.tick() }

  /** Starts an election now (tests and operators); does nothing on a learner or a leader. */
  campaign (): void { this.raft.hup(false) }

  /**
   * Steps a message received from a peer. Anything malformed, misaddressed or of a term-less type from a peer
   * that should not send it is dropped (returns false); it never throws for bad input.
   */
  step (input: unknown): boolean {
    const m = parseMessage(input)
    if (m === undefined || m.to !== this.raft.id) {
      this.droppedMessages++
      return false
    }
    this.raft.step(m)
    return true
  }

  propose (data: Uint8Array): ProposeResult {
    return this.raft.propose([{ term: 0, index: 0, type: 'normal', data }])
  }

  proposeConfChange (cc: ConfChange): ProposeResult {
    return this.raft.propose([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }])
  }

  /** Applies a committed confChange entry; returns the new membership. */
  applyConfChange (cc: ConfChange): ConfState { return this.raft.applyConfChange(cc) }

  /** Requests a linearizable read point; the answer comes as a ReadState with the same context. */
  readIndex (context: Uint8Array): boolean { return this.raft.readIndex(context) }

  transferLeader (transferee: NodeId): void { this.raft.transferLeader(transferee) }

  reportUnreachable (id: NodeId): void { this.raft.reportUnreachable(id) }
  reportSnapshot (id: NodeId, ok: boolean): void { this.raft.reportSnapshot(id, ok) }

  hasReady (): boolean {
    const r = this.raft
    const ss = r.softState()
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) return true
    if (!hardStateEqual(r.hardState(), this.prevHardState)) return true
    if (r.log.unstableSnapshot() !== null) return true
    if (r.msgs.length > 0 || r.log.unstable.entries.length > 0 || r.readStates.length > 0) return true
    return r.log.hasNextCommittedEntries()
  }

  ready (): Ready {
    const r = this.raft
    const ss = r.softState()
    const hs = r.hardState()
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role
    const hardChanged = !hardStateEqual(hs, this.prevHardState)
    const entries = r.log.unstableEntries()
    const snapshot = r.log.unstableSnapshot()
    const rd: Ready = {
      softState: softChanged ? ss : null,
      hardState: hardChanged ? hs : null,
      entries,
      snapshot,
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: entries.length > 0 || (hardChanged && (hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote))
    }
    // Hand over ownership of the outputs: new ones accumulate from here on.
    r.msgs = []
    r.readStates = []
    return rd
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance (rd: Ready): void {
    const r = this.raft
    if (rd.softState !== null) this.prevSoftState = rd.softState
    if (rd.hardState !== null) this.prevHardState = rd.hardState
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]
      r.log.stableTo(last.index, last.term)
    }
    if (rd.snapshot !== null && !isEmptySnapshot(rd.snapshot)) {
      r.log.stableSnapTo(rd.snapshot.metadata.index)
      r.log.appliedTo(rd.snapshot.metadata.index)
    }
    if (rd.committedEntries.length > 0) {
      r.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index)
    }
  }

  status (): Status {
    const r = this.raft
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      lastIndex: r.log.lastIndex(),
      confState: r.trk.confState()
    }
  }
}
