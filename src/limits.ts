// Every limit of the system, named with its unit, in one place (STYLE.md: "a limit on everything").
// Defaults only: the configurable ones are validated and overridden at the edge (store options, node flags).

/** Maximum UTF-8 length of a normalised key (DESIGN.md: configurable, default 1024). */
export const keyBytesMaxDefault = 1024
/** Maximum value size (DESIGN.md: configurable, default 1 MiB). */
export const valueBytesMaxDefault = 1024 * 1024
/** Longest accepted TTL: ten years. */
export const ttlMsMax = 10 * 365 * 24 * 3600 * 1000
/** Longest author string recorded in a commit. */
export const authorBytesMax = 256

// Raft (src/raft). Defaults of the per-node settings validated in src/raft/config.ts, and hard bounds on what a
// message from the network may carry (checked in src/raft/codec.ts before the state machine sees it).
/** Most voters in one Raft group (DESIGN.md: "up to 5 voters, the rest learners"). */
export const raftVotersMax = 5
/** Most learners in one Raft group. */
export const raftLearnersMax = 64
/** Longest node id accepted in a message or a membership change. */
export const raftNodeIdBytesMax = 256
/** Default byte budget of the entries in one append message. */
export const raftMessageBytesMaxDefault = 1024 * 1024
/** Default number of append messages in flight to one follower before the leader waits for acks. */
export const raftInflightMessagesMaxDefault = 256
/** Default byte budget of committed entries handed to the application in one Ready batch. */
export const raftCommittedBytesPerReadyMaxDefault = 16 * 1024 * 1024
/** Default number of appended but uncommitted entries above which a leader drops new proposals. */
export const raftUncommittedEntriesMaxDefault = 10_000
/** Most ReadIndex requests a leader keeps waiting for their heartbeat quorum. */
export const raftPendingReadIndexMax = 4096
/** Largest entry payload accepted from the network (a value of valueBytesMaxDefault plus command framing). */
export const raftEntryBytesMax = 2 * 1024 * 1024
/** Most entries in one message accepted from the network. */
export const raftEntriesPerMessageMax = 10_000
/** Largest ReadIndex context accepted from the network. */
export const raftReadContextBytesMax = 256
/** Largest snapshot payload accepted from the network. */
export const raftSnapshotBytesMax = 512 * 1024 * 1024
/** Keys held by the strong (Raft) key-value state machine. */
export const kvStrongKeysMax = 100_000
/** Locks held at once by the strong state machine. */
export const kvLocksMax = 10_000
/** Client sessions remembered for duplicate detection; the least recently used is forgotten first. */
export const kvClientSessionsMax = 10_000
