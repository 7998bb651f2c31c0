// Plain-data types of the Raft core: entries, messages, hard state, snapshots, membership and read states.
// Everything here is JSON-friendly except `Uint8Array` payloads, which src/raft/codec.ts encodes for the wire
// and for LevelDB, so the transport and the storage share one codec.

/** A node's id in the Raft group (the daemon uses the libp2p peer id string). */
export type NodeId = string
/** "No node": no vote cast, no leader known. */
export const None: NodeId = ''

export type EntryType = 'normal' | 'confChange'

export interface Entry {
  readonly term: number
  readonly index: number
  readonly type: EntryType
  /** Application command (normal) or an encoded ConfChange (confChange). Empty data is a no-op entry. */
  readonly data: Uint8Array
}

/** What Raft persists before it sends anything that depends on it (Raft §5.1, Figure 2 "Persistent state"). */
export interface HardState {
  readonly term: number
  readonly vote: NodeId
  readonly commit: number
}

export const emptyHardState: HardState = Object.freeze({ term: 0, vote: None, commit: 0 })

/** Cluster membership: voters count towards quorums, learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[]
  readonly learners: readonly NodeId[]
}

export interface SnapshotMetadata {
  readonly index: number
  readonly term: number
  readonly confState: ConfState
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata
  readonly data: Uint8Array
}

export const emptySnapshot: Snapshot = Object.freeze({
  metadata: Object.freeze({ index: 0, term: 0, confState: Object.freeze({ voters: [], learners: [] }) }),
  data: new Uint8Array(0)
})

/** Single-server membership changes (Raft dissertation §4.1). Promoting a learner is `addVoter` of a learner. */
export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode'

export interface ConfChange {
  readonly type: ConfChangeType
  readonly nodeId: NodeId
}

export type MessageType =
  | 'prop' // a proposal forwarded by a follower to the leader
  | 'app' // AppendEntries (Raft §5.3)
  | 'appResp'
  | 'vote' // RequestVote (Raft §5.2)
  | 'voteResp'
  | 'preVote' // PreVote (Raft dissertation §9.6)
  | 'preVoteResp'
  | 'heartbeat' // empty AppendEntries that carries the commit index and ReadIndex contexts
  | 'heartbeatResp'
  | 'snap' // InstallSnapshot (Raft §7)
  | 'timeoutNow' // leadership transfer (Raft dissertation §3.10)
  | 'transferLeader' // a transfer request forwarded to the leader
  | 'readIndex' // a read request forwarded to the leader (Raft dissertation §6.4)
  | 'readIndexResp'

export const messageTypes: readonly MessageType[] = [
  'prop', 'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap',
  'timeoutNow', 'transferLeader', 'readIndex', 'readIndexResp'
]

/**
 * One flat shape for every message, as in etcd's raftpb: fields a type does not use keep their zero value.
 * A flat shape keeps validation at the boundary (codec.ts) a single function.
 */
export interface Message {
  readonly type: MessageType
  readonly from: NodeId
  readonly to: NodeId
  readonly term: number
  /** app: term of the entry before `entries`; vote: term of the candidate's last entry; appResp reject: hint term. */
  readonly logTerm: number
  /** app: index of the entry before `entries`; vote: candidate's last index; appResp: index acked or rejected. */
  readonly index: number
  readonly entries: readonly Entry[]
  readonly commit: number
  readonly reject: boolean
  /** appResp reject: the follower's suggested probe index (fast backtracking). */
  readonly rejectHint: number
  readonly snapshot: Snapshot | null
  /** ReadIndex request context, echoed back in heartbeats and the read state. */
  readonly context: Uint8Array | null
  /** vote: sent because of a leadership transfer, so voters skip the leader-lease check (§4.2.3). */
  readonly transfer: boolean
}

/** Builds a message with zero values for every field not given. */
export function message (fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: null,
    transfer: false,
    ...fields
  }
}

/** A linearizable read point: once the state machine has applied `index`, a read for `context` may be served. */
export interface ReadState {
  readonly index: number
  readonly context: Uint8Array
}

export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader'

export interface SoftState {
  readonly lead: NodeId
  readonly role: StateRole
}

export function isEmptySnapshot (s: Snapshot | null | undefined): boolean {
  return s === null || s === undefined || s.metadata.index === 0
}

export function hardStateEqual (a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

/** Payload bytes of entries, the unit of the size limits on messages and Ready batches. */
export function entriesSizeBytes (entries: readonly Entry[]): number {
  let total = 0
  for (const e of entries) total += e.data.byteLength + 24
  return total
}

/** Keeps the longest prefix of `entries` within `maxBytes`, but always at least one entry. */
export function limitSize (entries: readonly Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return []
  let size = entries[0].data.byteLength + 24
  let n = 1
  for (; n < entries.length; n++) {
    size += entries[n].data.byteLength + 24
    if (size > maxBytes) break
  }
  return entries.slice(0, n)
}
