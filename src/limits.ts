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
/**
 * How long past a deadline a node waits for the writing node's expiry commit before committing the expiry itself
 * (the writer may be down or cut off). The expiry is committed once in a healthy cluster (DESIGN.md "TTL").
 */
export const expiryTakeoverMsDefault = 30_000
/** Most keys expired in one expiry pass; the rest wait for the next pass. */
export const expiryPassKeysMax = 1_000
/**
 * Background maintenance (restart fast-import, repack, commit-graph) after this many commits... fast-import looks
 * every new object up in every pack, including the one it wrote at each checkpoint, so a commit's cost grows with
 * the number of packs (measured: 6 ms -> 29 ms per 20-key commit over 1,500 checkpoints, fsync off). Restarting
 * releases its packs to the geometric repack, which keeps their number logarithmic.
 */
export const maintenanceCommitsInterval = 100
/** ...or after this long with at least one new commit. */
export const maintenanceIntervalMs = 5 * 60_000
/** Changes (and history rows) per LevelDB batch when one commit's index write is large (a merge of many keys). */
export const indexWriteChangesPerBatch = 1_000
/** Change-log entries read per page when a watcher replays from `since`. */
export const watchReplayPageEntriesMax = 256
/** Most commits in createPack's `want` list. */
export const packWantCommitsMax = 256
/** Most commits in createPack's `have` list. */
export const packHaveCommitsMax = 4096
/** Default largest pack ingestPack accepts (option `bytesMax`). */
export const ingestPackBytesMaxDefault = 256 * 1024 * 1024
/** Most git object reads a merge keeps in flight on cat-file at once. */
export const mergeReadsInFlightMax = 256
/**
 * Longest chain of single-parent commits a merge follows through cat-file to recognise a fast-forward (and read
 * its history) without starting git; longer or branching histories ask `git merge-base` and `git log`.
 */
export const mergeChainCommitsMax = 256
/**
 * Merges with more file edits than this are written as trees (whole subtrees reused, `git mktree` + `git
 * commit-tree`) when that takes at most mergeNewTreesMax new trees; fast-import's per-file edits cost about 45 us
 * each, two git starts cost tens of ms on a loaded machine (decision 0456).
 */
export const mergeFileEditsMax = 1024
/** Most new tree objects a merge writes through `git mktree` (each is a loose object, fsynced). */
export const mergeNewTreesMax = 64
/**
 * Most write commits one merge commit joins (its parents). Each node's writes form one chain, so a frontier holds at
 * most one commit per node that wrote since the last merge; more comes only from a crafted head, which is refused.
 */
export const mergeParentsMax = 64
/** Most merge commits walked from one head down to its write commits (merges made by an older rule nest). */
export const mergeFrontierWalkMax = 4096
/** Most foreign commits whose change trailers one merge reads into the key history (older ones are skipped). */
export const mergeHistoryCommitsMax = 100_000
/** Longest commit message line read as a change trailer; longer ones are ignored. */
export const changeTrailerBytesMax = 4 * 1024 + 1024
/** Most refs fetchFromRemote accepts from a shared remote. */
export const remoteRefsMax = 256
/** Longest a push to or fetch from a shared remote may run before it is stopped. */
export const remoteSyncTimeoutMs = 120_000
/** Most bytes of git stderr kept for an error message. */
export const gitStderrBytesMax = 4_096

// --- p2p (src/p2p): every message, queue, stream buffer and peer map of the replication transport. ---
/** Largest accepted gossip head announcement (JSON `{nodeId, commit, hlc}` is about 150 bytes). */
export const p2pHeadAnnouncementBytesMax = 1024
/** Most heads one anti-entropy exchange carries in each direction. */
export const p2pHeadsPerExchangeMax = 256
/** Largest heads exchange message: p2pHeadsPerExchangeMax announcements with room to spare. */
export const p2pHeadsMessageBytesMax = 256 * 1024
/** Most peers a node remembers (bootstrap plus learned), and most entries in one peer-list message. */
export const p2pKnownPeersMax = 256
/** Most multiaddrs kept or accepted per peer. */
export const p2pAddrsPerPeerMax = 16
/** Longest accepted multiaddr string. */
export const p2pMultiaddrBytesMax = 256
/** Largest peer-list message (p2pKnownPeersMax peers with p2pAddrsPerPeerMax addresses each fit). */
export const p2pPeerListBytesMax = 1024 * 1024
/** Most bootstrap multiaddrs accepted in the options. */
export const p2pBootstrapAddrsMax = 64
/** Most commits in a fetch request's `want` list. */
export const p2pFetchWantMax = 256
/** Most commits in a fetch request's `have` list. */
export const p2pFetchHaveMax = 4096
/** Largest fetch request (p2pFetchHaveMax + p2pFetchWantMax quoted 40-hex ids fit). */
export const p2pFetchRequestBytesMax = 256 * 1024
/** Default total pack bytes a requester accepts from one fetch (option `fetchBytesMax`). */
export const p2pFetchBytesMaxDefault = 256 * 1024 * 1024
/** Largest data frame of a fetch response; the responder splits bigger chunks. */
export const p2pFetchFrameBytesMax = 256 * 1024
/** Longest error text a responder may send back. */
export const p2pFetchErrorTextBytesMax = 1024
/** Default time a fetch may go without receiving a byte before it fails (option `fetchIdleTimeoutMs`). */
export const p2pFetchIdleTimeoutMsDefault = 30_000
/** Default deadline of one request/response exchange: heads, peer list (option `requestTimeoutMs`). */
export const p2pRequestTimeoutMsDefault = 10_000
/** Default period of anti-entropy rounds (heads and peer-list exchange with every connected peer). */
export const p2pAntiEntropyIntervalMsDefault = 10_000
/** Bytes a stream reader buffers before it pauses the stream (the muxer then stops granting send window). */
export const p2pStreamReadBufferBytesMax = 1024 * 1024
/** Largest yamux receive window per stream: what a paused stream may still receive. */
export const p2pStreamWindowBytesMax = 4 * 1024 * 1024
/** Largest Raft-channel message. */
export const p2pRaftMessageBytesMax = 8 * 1024 * 1024
/** Most Raft-channel messages queued for one peer; beyond it new messages are dropped and counted. */
export const p2pRaftQueueMessagesMax = 1024
/** Most Raft-channel bytes queued for one peer; beyond it new messages are dropped and counted. */
export const p2pRaftQueueBytesMax = 32 * 1024 * 1024
/** Most inbound streams per connection for each of our protocols. */
export const p2pInboundStreamsPerProtocolMax = 32
/** Re-dial backoff: first retry delay and the cap it doubles up to. */
export const p2pRedialBackoffMsMin = 500
export const p2pRedialBackoffMsMax = 30_000
/** Default period of the re-dial loop's check (option `redialIntervalMs`). */
export const p2pRedialIntervalMsDefault = 1_000
/** Most dials the re-dial loop runs at once. */
export const p2pRedialConcurrencyMax = 8
/** Deadline of one dial attempt. */
export const p2pDialTimeoutMs = 10_000
/** A learned (non-bootstrap) peer unreachable for this long is forgotten. */
export const p2pLearnedPeerForgetMs = 10 * 60 * 1000

// HTTP node (src/node, src/api). Configurable ones are node options validated in src/node/options.ts.
/** Largest request body the node reads (a CAS body carries two base64 values, so it is larger than a value). */
export const requestBytesMaxDefault = 3 * 1024 * 1024
/** Open HTTP connections per node; more are refused by the server (bounds in-flight requests of every kind). */
export const httpConnectionsMax = 20_000
/** Time a client has to send a whole request, headers and body; the node answers 408 after it. */
export const httpRequestReceiveMsMax = 60_000
/** Watchers (SSE streams plus waiting long-polls) one node serves at once; more are refused with 503. */
export const watchersMax = 10_000
/** Longest a long-poll watch waits for a change before answering with no events. */
export const watchWaitSecondsMax = 300
/** Wait used by a long-poll watch that does not say how long to wait. */
export const watchWaitSecondsDefault = 30
/** Most events one long-poll answer carries (it never splits a commit, so it may exceed this by one commit). */
export const watchBatchEventsMax = 1000
/** How long a long-poll keeps collecting events that are already available after the first one. */
export const watchBatchGraceMs = 5
/** Interval of SSE comment lines that keep idle streams open through proxies and reveal dead peers. */
export const sseHeartbeatMs = 15_000
/** Shortest API token accepted: a guessable token would be worse than none, because it looks like protection. */
export const apiTokenBytesMin = 16
/** Most entries in one audit page (also the default page size). */
export const auditLimitMax = 1000
/** `limit` of a history request that gives none (the largest is historyLimitMax). */
export const historyLimitDefault = 100
/** Cached label sets (route x method x status) of the request metrics; beyond it children are looked up each time. */
export const metricsLabelSetsMax = 512
/** The keys gauge lists the store; it reuses a count younger than this instead of listing on every scrape. */
export const keysGaugeMaxAgeMs = 10_000
/** After SIGTERM/SIGINT, how long the node waits for in-flight requests before it exits anyway. */
export const shutdownGraceMs = 15_000
/** The HTTP client's watch reconnects after a dropped stream, backing off up to this delay. */
export const clientWatchRetryDelayMsMax = 5_000
/** Default deadline of one GitConfigClient request (watches excepted: they stay open). */
export const clientRequestTimeoutMsDefault = 30_000
/** Consecutive failed reconnects after which the client's watch gives up and throws. */
export const clientWatchRetriesMax = 20
/** Buffered, unparsed SSE text the client accepts before it treats the stream as broken. */
export const clientSseBufferBytesMax = 8 * 1024 * 1024

// Replication in the node (src/node/replicator.ts): the wiring of store and p2p.
/** Default period of the shared-remote sync (option syncIntervalSeconds, flag --sync-interval). */
export const remoteSyncIntervalSecondsDefault = 30
/** Fetch-and-merge jobs one node runs at once; further heads wait (the newest per announcing node is kept). */
export const replicationFetchConcurrencyMax = 2
/** Announcing nodes whose newest head may wait for a free fetch slot; heads from further nodes are dropped and counted. */
export const replicationPendingHeadsMax = 256
/** Commits remembered as already merged (or our own), so repeated announcements of them cost nothing. */
export const replicationKnownCommitsMax = 4096
/** Last head merged from each other node, offered as `have` in fetches so packs stay thin. */
export const replicationPeerHeadsMax = 256
/** Heads fetched lately that are offered as `have` in later fetches (besides our head and replicationPeerHeadsMax). */
export const replicationFetchedHeadsMax = 16
/** Largest pack accepted from one fetch. */
export const replicationFetchBytesMax = 256 * 1024 * 1024
/**
 * Deadline of one fetch (a peer that stalls is dropped and retried on its next announcement). The merge after it has
 * no deadline: it is local work, and cutting a slow one short would only start it again from scratch.
 */
export const replicationFetchTimeoutMs = 120_000

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
/** Strong operations (proposals and ReadIndex reads) waiting inside one node's Raft host for their answer. */
export const strongPendingRequestsMax = 10_000
