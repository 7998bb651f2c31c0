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

// HTTP node (src/node, src/api). Configurable ones are node options validated in src/node/options.ts.
/** Largest request body the node reads (a CAS body carries two base64 values, so it is larger than a value). */
export const requestBytesMaxDefault = 3 * 1024 * 1024
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
/** `limit` of a history request that gives none (the largest is historyLimitMax). */
export const historyLimitDefault = 100
/** Recently seen commit ids the node remembers to count each group commit once in its metrics. */
export const metricsCommitIdsRemembered = 4096
/** Cached label sets (route x method x status) of the request metrics; beyond it children are looked up each time. */
export const metricsLabelSetsMax = 512
/** The keys gauge lists the store; it reuses a count younger than this instead of listing on every scrape. */
export const keysGaugeMaxAgeMs = 10_000
/** After SIGTERM/SIGINT, how long the node waits for in-flight requests before it exits anyway. */
export const shutdownGraceMs = 15_000
/** The HTTP client's watch reconnects after a dropped stream, backing off up to this delay. */
export const clientWatchRetryDelayMsMax = 5_000
/** Consecutive failed reconnects after which the client's watch gives up and throws. */
export const clientWatchRetriesMax = 20
/** Buffered, unparsed SSE text the client accepts before it treats the stream as broken. */
export const clientSseBufferBytesMax = 8 * 1024 * 1024
