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

// --- git-backed store (src/gitstore) ---
/** Most changes in one group commit; more waiting callers go into the next commit. */
export const commitBatchChangesMax = 512
/** Most changes accepted but not yet committed; beyond it writes fail fast with UNAVAILABLE (back-pressure). */
export const writeQueueChangesMax = 100_000
/** Most keys named in a commit subject before it is truncated with "...". */
export const commitSubjectKeysMax = 5
/** Most events buffered for one watcher; a watcher that falls further behind is ended (resume with `since`). */
export const watchQueueEventsMax = 10_000
/** Current entries kept in memory in front of the LevelDB index. */
export const currentCacheEntriesMax = 200_000
/** Value bytes kept in memory in front of the LevelDB index. */
export const currentCacheBytesMax = 64 * 1024 * 1024
/** Most entries one history() call returns. */
export const historyLimitMax = 10_000
/** How often the store looks for keys whose TTL ran out (expiry commits land within this much of the deadline). */
export const expiryCheckIntervalMs = 250
/** Most keys expired in one expiry pass; the rest wait for the next pass. */
export const expiryPassKeysMax = 1_000
/** Background maintenance (restart fast-import, repack, commit-graph) after this many commits... */
export const maintenanceCommitsInterval = 2_000
/** ...or after this long with at least one new commit. */
export const maintenanceIntervalMs = 5 * 60_000
/** Change-log entries read per page when a watcher replays from `since`. */
export const watchReplayPageEntriesMax = 256
/** Longest time close() waits for pending writes before failing them. */
export const closeDrainMsMax = 30_000
/** Most bytes of git stderr kept for an error message. */
export const gitStderrBytesMax = 4_096

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
