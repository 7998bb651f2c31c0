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
/**
 * Background maintenance (restart fast-import, repack, commit-graph) after this many commits... fast-import looks
 * every new object up in every pack, including the one it wrote at each checkpoint, so a commit's cost grows with
 * the number of packs (measured: 6 ms -> 29 ms per 20-key commit over 1,500 checkpoints, fsync off). Restarting
 * releases its packs to the geometric repack, which keeps their number logarithmic.
 */
export const maintenanceCommitsInterval = 100
/** ...or after this long with at least one new commit. */
export const maintenanceIntervalMs = 5 * 60_000
/** Change-log entries read per page when a watcher replays from `since`. */
export const watchReplayPageEntriesMax = 256
/** Most bytes of git stderr kept for an error message. */
export const gitStderrBytesMax = 4_096
