// GitConfigStore: the embedded, git-backed implementation of ConfigStore (docs/store.md).
//
// A change moves through three places, and reads look in them newest first:
//   accepted   queued or in flight to git; only decisions (CAS, delete, expiry) see it, reads do not (not durable)
//   unindexed  durable in git, its LevelDB index write not yet done; reads see it
//   index      LevelDB (with a bounded in-memory cache in front)
// Every durable commit gets the next change-log position when it becomes durable, and live watchers hear of it in
// that same synchronous step (before any writer is answered); its LevelDB index write, which records the change log,
// follows in the background in the same order. A watcher registered at position N replays ..N from LevelDB (after
// waiting for the index to reach N) and receives N+1.. live, with nothing missed or repeated (decision 0306).
import { readFileSync } from 'node:fs'
import { readdir, realpath } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { GitConfigError } from '../errors.js'
import {
  currentCacheBytesMax, currentCacheEntriesMax, expiryCheckIntervalMs, expiryPassKeysMax, historyLimitMax,
  ingestPackBytesMaxDefault, maintenanceIntervalMs, packWantCommitsMax, watchQueueEventsMax, watchReplayPageEntriesMax
} from '../limits.js'
import type {
  AuditEntry, AuditOptions, AuditPage, CasResult, ConfigStore, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  ValueInput, Version, WatchEvent, WatchOptions, WriteOptions, WriteResult
} from '../types.js'
import { auditPage, resolveAuditQuery } from './audit.js'
import { checkAuthor, checkFullCommitId, checkOptionsObject, checkTtl, toValueBytes } from './input-checks.js'
import { CatFile } from './cat-file.js'
import { CurrentCache } from './current-cache.js'
import { decodeMeta, type KeyMeta, type TreeEntry } from './entry.js'
import { commitsExpiry, expiryTombstone } from './merge.js'
import { checkGitVersion } from './git-process.js'
import { GroupCommitter, type Change, type CommittedBatch } from './group-commit.js'
import { compareVersions, HybridLogicalClock } from './hlc.js'
import { IndexDb, type CurrentEntry, type LogRecord } from './index-db.js'
import { isKeyUnder, keyToTreeDir, metaFileName, normalizeKey, normalizePrefix, valueFileName } from './keys.js'
import { Maintenance } from './maintenance.js'
import { resolveStoreOptions, type GitConfigStoreOptions, type ResolvedStoreOptions } from './options.js'
import { catchUpIndex, commitDate } from './rebuild.js'
import {
  clearStaleLocks, formatFileName, formatVersion, loadNodeId, prepareRepository, readHead, readOwnerSync,
  writeOwner, type RepositoryPaths
} from './repository.js'
import { readTreeEntries } from './tree-reader.js'
import { Watcher } from './watcher.js'
import { mergeInto, type AppliedMerge, type MergeResult } from './merge-into.js'
import { Frontiers } from './frontier.js'
import { checkCommitIds, createPack, ingestPack, type PackRequest } from './pack-transfer.js'
import { fetchFromRemote, pushToRemote } from './remote.js'
import type { HistoryRow } from './foreign-history.js'

export type { GitConfigStoreOptions } from './options.js'
export type { Change } from './group-commit.js'
export type { MergeResult, MergeOutcome } from './merge-into.js'
export type { PackRequest } from './pack-transfer.js'

/** Emitted once per durable commit, in commit order (the node counts metrics and gossips heads from it). */
export interface CommitEvent {
  readonly commit: string
  readonly seq: number
  readonly changes: ReadonlyArray<{ readonly key: string, readonly meta: KeyMeta, readonly valueOid: string | null }>
}

/** A commit that became durable on main, as the index and watchers learn of it. */
interface DurableCommit {
  readonly commit: string
  readonly date: string
  /** Subject line. */
  readonly message: string
  /** The changed keys' new entries; `commit` is the commit that wrote each (for merges, a foreign one). */
  readonly entries: readonly CurrentEntry[]
  readonly cleared: ReadonlyArray<readonly [number, string]>
  /** History rows of a merge or fast-forward (the foreign commits), or of a local commit with superseded changes. */
  readonly history?: readonly HistoryRow[]
}

/** What a decision (CAS, delete, expiry) sees for a key: its newest accepted state. */
interface KeyState {
  readonly meta: KeyMeta
  readonly value: Uint8Array | null
}

/** Index folders (real paths) of the stores open in this process: see open(). */
const openInThisProcess = new Set<string>()
const commitIdPattern = /^[0-9a-fA-F]{4,64}$/
/** Open repositories with more loose packs than this get a maintenance round at open. */
const packsBeforeMaintenanceAtOpen = 50

/**
 * Resolves two check phases from now: a durable commit's writers are answered in microtasks (their promises, then
 * the HTTP replies) and the group committer sends the next commit from its own setImmediate, which the writers'
 * new submissions queue during those microtasks; work chained on this runs after both, while git works.
 */
function afterAcknowledgements (): Promise<void> {
  return new Promise((resolve) => { setImmediate(() => setImmediate(resolve)) })
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export class GitConfigStore implements ConfigStore {
  private readonly accepted = new Map<string, Change>()
  /** Each accepted change's commit promise, for decisions that must wait until the change they rest on is durable. */
  private readonly durableOf = new WeakMap<Change, Promise<string>>()
  /** Changes committed for their history only: a merged entry outranked them (GroupCommitter.markSuperseded). */
  private readonly committedUnder = new WeakSet<Change>()
  private readonly unindexed = new Map<string, CurrentEntry>()
  private readonly cache = new CurrentCache(currentCacheEntriesMax, currentCacheBytesMax)
  private readonly watchers = new Set<Watcher>()
  private readonly commitListeners = new Set<(e: CommitEvent) => void>()
  private readonly committer: GroupCommitter
  private readonly maintenance: Maintenance
  private readonly frontiers: Frontiers
  /** Bumped after every index write, so a LevelDB read that raced one is retried. */
  private indexGeneration = 0
  private indexTail: Promise<void> = Promise.resolve()
  private indexFailure: GitConfigError | null = null
  /** Change-log position of the newest durable commit (live watchers have been offered everything up to it). */
  private seq: number
  /** The newest durable commit on main as the change log knows it (position `seq`). */
  private durableHead: string | null
  private indexedSeq: number
  private maxVersion: Version | null
  private closing: Promise<void> | null = null
  private expiryTimer: NodeJS.Timeout | null = null
  private expiryRunning: Promise<void> | null = null
  private lastMaintenanceMs: number
  /** Packs ingested, or remote fetches that brought new commits, since the last maintenance round. */
  private receivedSinceMaintenance = 0
  /** The remote branches' commits at the last fetch, to tell a fetch that brought something from one that did not. */
  private lastRemoteCommits = ''
  /** A round was started without a maintenance window: fast-import is replaced after it (see the constructor). */
  private renewFastImportAfterRound = false
  /** The most recent failure of a background task (expiry, maintenance, index), for diagnostics. */
  lastBackgroundError: Error | null = null

  private constructor (
    readonly dir: string,
    readonly nodeId: string,
    private readonly paths: RepositoryPaths,
    private readonly opts: ResolvedStoreOptions,
    private readonly index: IndexDb,
    private readonly catFile: CatFile,
    private readonly hlc: HybridLogicalClock,
    head: string | null,
    seq: number,
    maxVersion: Version | null,
    private readonly lockKey: string
  ) {
    this.seq = seq
    this.durableHead = head
    this.indexedSeq = seq
    this.maxVersion = maxVersion
    this.lastMaintenanceMs = opts.clock()
    this.frontiers = new Frontiers(paths.gitDir, catFile)
    // After a repack the long-lived git processes move to new ones, which let go of the deleted packs: cat-file
    // always, fast-import when no maintenance window (which replaces it anyway) preceded the round.
    this.maintenance = new Maintenance(paths.gitDir, () => {
      this.catFile.recycle()
      if (this.renewFastImportAfterRound) {
        this.renewFastImportAfterRound = false
        this.committer.renewFastImport()
      }
    })
    this.committer = new GroupCommitter(paths.gitDir, nodeId, opts.clock, head, {
      onCommitted: (batch) => this.onCommitted(batch),
      onFailed: () => this.accepted.clear(),
      onRestart: (actual) => this.catchUpAfterRestart(actual),
      onMaintenanceWindow: () => { this.startMaintenance(false) },
      maintenanceDue: (n) => this.maintenanceDue(n)
    })
  }

  /**
   * Opens (creating if missing or empty) the repository in `dir`. Fails with REPOSITORY_LOCKED when another process
   * has it open, INVALID_ARGUMENT when `dir` is something else, GIT_UNAVAILABLE without a usable git.
   */
  static async open (dir: string, options?: GitConfigStoreOptions): Promise<GitConfigStore> {
    const opts = resolveStoreOptions(options)
    if (typeof dir !== 'string' || dir === '') throw new GitConfigError('INVALID_ARGUMENT', 'the repository path must be a non-empty string')
    await checkGitVersion()
    const paths = await prepareRepository(dir)
    // LevelDB's lock is a POSIX record lock, which a process drops as soon as it closes *any* descriptor of the
    // LOCK file, including the one a failed second open in the same process closes. So a second open in this
    // process must be refused before it reaches LevelDB, or it would silently unlock the repository.
    const lockKey = join(await realpath(paths.gitDir).catch(() => resolve(paths.gitDir)), 'gitconfig', 'index')
    if (openInThisProcess.has(lockKey)) {
      throw new GitConfigError('REPOSITORY_LOCKED', `the repository is already open by another process (pid ${process.pid}, this process); ` +
        'share the open store instead of opening it twice')
    }
    openInThisProcess.add(lockKey)
    let index: IndexDb
    try {
      index = await IndexDb.open(paths.indexDir, () => readOwnerSync(paths, (p) => readFileSync(p, 'utf8')))
    } catch (err) {
      openInThisProcess.delete(lockKey)
      throw err
    }
    const catFile = new CatFile(paths.gitDir)
    try {
      await writeOwner(paths)
      await clearStaleLocks(paths.gitDir)
      const nodeId = await loadNodeId(paths, opts.nodeId)
      const head = await readHead(paths.gitDir)
      if (head !== null) {
        const format = await catFile.read(`${head}:${formatFileName}`)
        const text = format?.data.toString('utf8').trim()
        if (text !== formatVersion) {
          throw new GitConfigError('INVALID_ARGUMENT', `${dir} holds storage format ${JSON.stringify(text ?? 'none')}; this version reads format ${formatVersion}`)
        }
      }
      const caught = await catchUpIndex(paths.gitDir, catFile, index, head, opts.keyBytesMax)
      const hlc = new HybridLogicalClock(nodeId, opts.clock)
      if (caught.maxVersion !== null) hlc.restore(caught.maxVersion)
      const store = new GitConfigStore(dir, nodeId, paths, opts, index, catFile, hlc, head, caught.seq, caught.maxVersion, lockKey)
      if (caught.entriesSkipped > 0) {
        store.lastBackgroundError = new GitConfigError('INTERNAL', `the index rebuild passed over ${caught.entriesSkipped} ` +
          'unreadable key entries in earlier commits on main (written by a peer); current values come from later commits')
      }
      await store.start()
      return store
    } catch (err) {
      await catFile.close().catch(() => {})
      await index.close().catch(() => {})
      openInThisProcess.delete(lockKey)
      throw err
    }
  }

  private async start (): Promise<void> {
    // Keys that expired while the store was closed become expire commits now, before anyone reads.
    await this.expirePass()
    this.expiryTimer = setInterval(() => { void this.expirePass() }, expiryCheckIntervalMs)
    this.expiryTimer.unref()
    if (this.opts.maintenance) {
      const packs = await readdir(join(this.paths.gitDir, 'objects', 'pack')).catch(() => [] as string[])
      if (packs.filter((n) => n.endsWith('.pack')).length > packsBeforeMaintenanceAtOpen) this.startMaintenance()
    }
  }

  // ---------------------------------------------------------------- reads

  async get (key: string, opts?: GetOptions): Promise<KeyValue | null> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const o = checkOptionsObject(opts, 'get')
    if (o.commit !== undefined) return await this.getAtCommit(k, o.commit)
    // Hot path without an extra await: durable-but-unindexed entries, then the cache.
    const e = this.unindexed.get(k) ?? this.cache.get(k) ?? await this.readCurrent(k)
    if (e === null || !this.isLive(e)) return null
    return this.toKeyValue(e)
  }

  async list (prefix: string, opts?: ListOptions): Promise<ListEntry[]> {
    this.assertOpen()
    const base = normalizePrefix(prefix, this.opts.keyBytesMax)
    const o = checkOptionsObject(opts, 'list')
    const withValues = o.values === true
    await this.indexSettled()
    const out: ListEntry[] = []
    if (o.recursive === true) {
      await this.index.scanCurrent(base + '/', base + '0', (e) => {
        if (this.isLive(e)) out.push(withValues ? { key: e.key, value: e.value ?? new Uint8Array() } : { key: e.key })
        return undefined
      })
      return out
    }
    const children = new Map<string, { value: Uint8Array | null, hasChildren: boolean }>()
    const child = (key: string): { value: Uint8Array | null, hasChildren: boolean } => {
      let c = children.get(key)
      if (c === undefined) { c = { value: null, hasChildren: false }; children.set(key, c) }
      return c
    }
    await this.index.scanCurrent(base + '/', base + '0', (e) => {
      const rest = e.key.slice(base.length + 1)
      const slash = rest.indexOf('/')
      if (slash < 0) {
        if (this.isLive(e)) child(e.key).value = e.value
        return undefined
      }
      if (!this.isLive(e)) return undefined
      const childKey = `${base}/${rest.slice(0, slash)}`
      child(childKey).hasChildren = true
      return childKey + '0' // past every key below childKey: '/' sorts just before '0'
    })
    for (const [key, c] of [...children].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      const entry: { key: string, value?: Uint8Array, hasChildren: boolean } = { key, hasChildren: c.hasChildren }
      if (withValues && c.value !== null) entry.value = c.value
      out.push(entry)
    }
    return out
  }

  async history (key: string, opts?: HistoryOptions): Promise<HistoryEntry[]> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const o = checkOptionsObject(opts, 'history')
    const limit = o.limit ?? historyLimitMax
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > historyLimitMax) {
      throw new GitConfigError('INVALID_ARGUMENT', `limit must be a whole number from 1 to ${historyLimitMax}`)
    }
    await this.indexSettled()
    return await this.index.history(k, limit)
  }

  async audit (prefix: string, opts?: AuditOptions): Promise<AuditPage> {
    this.assertOpen()
    const base = normalizePrefix(prefix, this.opts.keyBytesMax)
    const query = resolveAuditQuery(checkOptionsObject(opts, 'audit'))
    await this.indexSettled()
    const index = this.index
    // The prefix's own key, then every key below it ('/' sorts just before '0'); the root is every key.
    const ranges: Array<[string, string]> = base === '' ? [['/', '0']] : [[base + '\u0000', base + '\u0001'], [base + '/', base + '0']]
    async function * rows (): AsyncGenerator<AuditEntry> {
      for (const [gte, lt] of ranges) yield * index.scanHistory(gte, lt)
    }
    return await auditPage(rows(), query)
  }

  watch (keyOrPrefix: string, opts?: WatchOptions): AsyncIterable<WatchEvent> & AsyncIterableIterator<WatchEvent> {
    this.assertOpen()
    const o = checkOptionsObject(opts, 'watch')
    const base = normalizePrefix(keyOrPrefix, this.opts.keyBytesMax)
    const recursive = o.recursive === true || base === ''
    const matches = recursive ? (key: string) => isKeyUnder(key, base) : (key: string) => key === base
    const since = o.since
    if (since !== undefined && (typeof since !== 'string' || !commitIdPattern.test(since))) {
      throw new GitConfigError('INVALID_ARGUMENT', `since must be a commit id (hex), got ${JSON.stringify(since)}`)
    }
    // Taken in the same tick as registration: replay covers positions up to here, live delivery the rest.
    const replayThrough = this.seq
    // The cursor is looked up now rather than at the first next(), so a server can refuse an unknown `since` before
    // it starts a stream (Watcher.cursorChecked). Its failure surfaces there and through next().
    const cursorSeq = since === undefined ? null : this.seqOfCommitRef(since)
    cursorSeq?.catch(() => {})
    let replayAfter: number | null = null
    const replay = cursorSeq === null
      ? null
      : async (): Promise<WatchEvent[] | null> => {
        if (replayAfter === null) {
          replayAfter = await cursorSeq
          // `since` may be newer than the index position taken at registration (its index write was in flight).
          watcher.coverThrough(replayAfter)
        }
        if (replayAfter >= replayThrough) return null
        // Live delivery runs ahead of the index: wait until the change log holds every position the replay covers.
        if (this.indexedSeq < replayThrough) await this.indexSettled()
        if (this.indexFailure !== null) throw this.indexFailure
        const records = await this.index.logRange(replayAfter, replayThrough, watchReplayPageEntriesMax)
        if (records.length === 0) return null
        replayAfter = records[records.length - 1].seq
        const events: WatchEvent[] = []
        for (const r of records) events.push(...await this.eventsOf(r, matches))
        return events
      }
    const watcher: Watcher = new Watcher({
      matches,
      replay,
      startCommit: since ?? this.durableHead,
      cursorChecked: cursorSeq ?? undefined,
      queueEventsMax: watchQueueEventsMax,
      onEnd: () => { this.watchers.delete(watcher) },
      signal: o.signal instanceof AbortSignal ? o.signal : undefined
    })
    // Positions up to replayThrough are the replay's (or in the past): never delivered live, even if offered again
    // (the catch-up after a fast-import restart offers positions it has just assigned).
    watcher.coverThrough(replayThrough)
    this.watchers.add(watcher)
    return watcher
  }

  // ---------------------------------------------------------------- writes

  async set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const bytes = toValueBytes(value, this.opts.valueBytesMax)
    const o = checkOptionsObject(opts, 'set')
    const ttlMs = checkTtl(o.ttlMs)
    const author = checkAuthor(o.author)
    const version = this.hlc.now()
    const commit = await this.commitChanges([{
      key: k,
      meta: { op: 'set', version, expiresAtMs: ttlMs === null ? null : version.wallMs + ttlMs, author: author ?? this.nodeId, raftIndex: null },
      value: bytes,
      clientAuthor: author,
      clearsDeadlineMs: null
    }])
    return { key: k, commit, version }
  }

  async delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const author = checkAuthor(checkOptionsObject(opts, 'delete').author)
    const commit = await this.decideAndCommit(k, (state) => {
      if (state === null || !this.isLive(state)) return null
      return {
        key: k,
        meta: { op: 'delete', version: this.hlc.now(), expiresAtMs: null, author: author ?? this.nodeId, raftIndex: null },
        value: null,
        clientAuthor: author,
        clearsDeadlineMs: null
      }
    })
    return { key: k, deleted: commit !== null, commit }
  }

  async cas (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<boolean> {
    return (await this.compareAndSwap(key, expected, value, opts)).swapped
  }

  async compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<CasResult> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const want = expected === null ? null : toValueBytes(expected, this.opts.valueBytesMax)
    const bytes = toValueBytes(value, this.opts.valueBytesMax)
    const o = checkOptionsObject(opts, 'cas')
    const ttlMs = checkTtl(o.ttlMs)
    const author = checkAuthor(o.author)
    let current: Uint8Array | null = null
    const commit = await this.decideAndCommit(k, (state) => {
      current = state !== null && this.isLive(state) ? state.value : null
      const matches = want === null || want.length === 0 ? current === null : current !== null && bytesEqual(current, want)
      if (!matches) return null
      const version = this.hlc.now()
      return {
        key: k,
        meta: { op: 'cas', version, expiresAtMs: ttlMs === null ? null : version.wallMs + ttlMs, author: author ?? this.nodeId, raftIndex: null },
        value: bytes,
        clientAuthor: author,
        clearsDeadlineMs: null
      }
    })
    return commit === null ? { swapped: false, commit: null, current } : { swapped: true, commit, current: null }
  }

  async rollback (key: string, commit: string, opts?: Pick<WriteOptions, 'author'>): Promise<WriteResult> {
    this.assertOpen()
    const k = normalizeKey(key, this.opts.keyBytesMax)
    const author = checkAuthor(checkOptionsObject(opts, 'rollback').author)
    const full = await this.resolveCommit(commit)
    const restored = (await this.readTreeKey(full, k))?.value ?? null
    this.assertOpen()
    // A rollback that would change nothing makes no commit, as a delete of an absent key makes none (decision 0321).
    // When the key durably holds the restored state already (the value without a TTL, or a tombstone), the answer
    // names the commit that made that state; a key never written is NOT_FOUND, like that delete. A state not yet
    // durable does not count as there: the rollback commits.
    const decided: { version?: Version, unchanged?: CurrentEntry } = {}
    const result = await this.decideAndCommit(k, (state) => {
      if (state === null && restored === null) return null
      const current = state !== null && this.isLive(state) ? state.value : null
      const same = restored === null ? state?.value === null : current !== null && bytesEqual(current, restored) && state?.meta.expiresAtMs === null
      if (same && !this.accepted.has(k)) {
        decided.unchanged = state as CurrentEntry // with nothing accepted for k, decideAndCommit passes the durable entry
        return null
      }
      decided.version = this.hlc.now()
      // The restored value carries no TTL: its old deadline is in the past, and restoring means "make it current".
      return {
        key: k,
        meta: { op: 'rollback', version: decided.version, expiresAtMs: null, author: author ?? this.nodeId, raftIndex: null },
        value: restored,
        clientAuthor: author,
        clearsDeadlineMs: null
      }
    })
    if (result !== null && decided.version !== undefined) return { key: k, commit: result, version: decided.version }
    if (decided.unchanged !== undefined) return { key: k, commit: decided.unchanged.commit, version: decided.unchanged.meta.version }
    throw new GitConfigError('NOT_FOUND', `key ${k} not found: it was never written, so there is nothing to roll back`, { key: k })
  }

  /**
   * Internal hook for later layers (Raft-applied operations, merges, expiry): commits fully specified changes
   * together in one commit and resolves with it once durable. Keys must be normalised and distinct.
   */
  commitChanges (changes: readonly Change[]): Promise<string> {
    this.assertOpen()
    const keys = new Set(changes.map((c) => c.key))
    if (keys.size !== changes.length || changes.length === 0) {
      return Promise.reject(new GitConfigError('INVALID_ARGUMENT', 'commitChanges needs at least one change and distinct keys'))
    }
    for (const c of changes) this.accepted.set(c.key, c)
    const commit = this.committer.submit(changes)
    for (const c of changes) this.durableOf.set(c, commit)
    return commit
  }

  /** Subscribes to durable commits, in commit order; returns the unsubscribe function. */
  onCommit (listener: (e: CommitEvent) => void): () => void {
    this.commitListeners.add(listener)
    return () => { this.commitListeners.delete(listener) }
  }

  /** Every key's entry (tombstones included) in the tree of `commit` (default: main), for merges. */
  async readTree (commit?: string): Promise<Map<string, TreeEntry>> {
    this.assertOpen()
    const full = commit === undefined ? this.committer.currentHead : await this.resolveCommit(commit)
    if (full === null) return new Map()
    return await readTreeEntries(this.paths.gitDir, this.catFile, full)
  }

  /** The commit refs/heads/main points to (null before the first write). */
  get head (): string | null { return this.committer.currentHead }

  // ---------------------------------------------------------------- replication (docs/store.md "Replication")

  /**
   * True when the commit and everything it reaches are present locally. Objects only ever enter the repository
   * complete (the writer's own commits, packs checked by ingestPack, fetches git checks itself), so the commit's
   * presence is enough, and cat-file answers without starting a process (decision 0455).
   */
  async hasCommit (commit: string): Promise<boolean> {
    this.assertOpen()
    return await this.commitExists(checkFullCommitId(commit))
  }

  private async commitExists (id: string): Promise<boolean> {
    return (await this.catFile.read(`${id}^{commit}`))?.type === 'commit'
  }

  /** A thin pack of what `want` reaches minus what `have` reaches (unknown haves ignored, unknown wants UNKNOWN_COMMIT). */
  createPack (req: PackRequest, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    this.assertOpen()
    return createPack(this.paths.gitDir, req, async (id) => await this.commitExists(id), signal)
  }

  /**
   * Stores a received pack, bounded by bytesMax, once every `expect` commit is complete with it; TRANSFER_FAILED
   * (reason malformed, overflow or incomplete) leaves the repository and index unchanged.
   */
  async ingestPack (chunks: AsyncIterable<Uint8Array>, opts: { expect: readonly string[], bytesMax?: number, signal?: AbortSignal }): Promise<void> {
    this.assertOpen()
    const o = checkOptionsObject(opts, 'ingestPack')
    const expect = checkCommitIds(o.expect, 'expect', packWantCommitsMax)
    const bytesMax = o.bytesMax ?? ingestPackBytesMaxDefault
    if (typeof bytesMax !== 'number' || !Number.isSafeInteger(bytesMax) || bytesMax < 1) {
      throw new GitConfigError('INVALID_ARGUMENT', 'bytesMax must be a positive whole number of bytes')
    }
    await ingestPack(this.paths.gitDir, chunks, {
      expect, bytesMax, signal: o.signal instanceof AbortSignal ? o.signal : undefined, exists: async (id) => await this.commitExists(id)
    })
    this.noteReceived()
  }

  /**
   * Merges a complete local commit (usually a peer's head) into main, serialised with local writes: a no-op when
   * main contains it, a fast-forward when main is behind it, else the deterministic merge commit (merge.ts).
   */
  async mergeFrom (commit: string, opts?: { signal?: AbortSignal }): Promise<MergeResult> {
    this.assertOpen()
    const foreign = checkFullCommitId(commit)
    const signal = checkOptionsObject(opts, 'mergeFrom').signal
    if (!(await this.commitExists(foreign))) {
      throw new GitConfigError('UNKNOWN_COMMIT', `${foreign} is not a complete commit of this repository (ingest its pack first)`, { commit: foreign })
    }
    this.assertOpen()
    return await this.committer.runExclusive(async (writer) => await mergeInto({
      gitDir: this.paths.gitDir,
      catFile: this.catFile,
      frontiers: this.frontiers,
      index: this.index,
      limits: { keyBytesMax: this.opts.keyBytesMax, valueBytesMax: this.opts.valueBytesMax },
      signal: signal instanceof AbortSignal ? signal : undefined,
      applied: (m) => this.onMerged(m)
    }, writer, foreign))
  }

  /** Pushes main to refs/heads/gitconfig/<nodeId> on a shared remote. */
  async pushToRemote (remote: string): Promise<void> {
    this.assertOpen()
    await pushToRemote(this.paths.gitDir, remote, this.nodeId, this.committer.currentHead)
  }

  /** Fetches the remote's refs/heads/gitconfig/* into refs/remotes/gitconfig/*; returns their commit ids. */
  async fetchFromRemote (remote: string): Promise<string[]> {
    this.assertOpen()
    const commits = await fetchFromRemote(this.paths.gitDir, remote)
    const seen = [...commits].sort().join()
    if (seen !== this.lastRemoteCommits) {
      this.lastRemoteCommits = seen
      this.noteReceived()
    }
    return commits
  }

  /** Waits for the running background maintenance round, if any (tests). */
  async maintenanceSettled (): Promise<{ ok: boolean, message: string } | null> {
    await this.maintenance.settle()
    return this.maintenance.lastReport
  }

  /** Runs an expiry pass now (or joins the running one) and waits for its commits (tests). */
  async expireNow (): Promise<void> {
    this.assertOpen()
    await this.expirePass()
  }

  /** Waits until every acknowledged commit is indexed (tests, benchmarks). */
  async flush (): Promise<void> {
    await this.committer.idle()
    await this.indexSettled()
  }

  async close (): Promise<void> {
    if (this.closing !== null) return await this.closing
    this.closing = (async () => {
      if (this.expiryTimer !== null) clearInterval(this.expiryTimer)
      await this.expiryRunning
      await this.committer.close()
      await this.indexTail
      for (const w of [...this.watchers]) w.end(null)
      await this.maintenance.settle()
      await this.catFile.close()
      await this.index.close()
      openInThisProcess.delete(this.lockKey)
    })()
    return await this.closing
  }

  // ---------------------------------------------------------------- internals

  /**
   * Objects arrived from elsewhere (a pack, or loose objects from a small `git fetch`). A node that only receives (a
   * replica nobody writes to) makes no local commits, so the group committer's count would never call maintenance
   * and they would pile up, one pack per replicated head. A round needs no fast-import window here: the running
   * fast-import's own packs are kept out of it (.keep).
   */
  private noteReceived (): void {
    this.receivedSinceMaintenance += 1
    if (this.maintenanceDue(this.receivedSinceMaintenance)) this.startMaintenance()
  }

  /** After `count` commits (or received packs) since the last round, or once the interval has passed. */
  private maintenanceDue (count: number): boolean {
    return this.opts.maintenance && (count >= this.opts.maintenanceCommits || this.opts.clock() - this.lastMaintenanceMs >= maintenanceIntervalMs)
  }

  /**
   * Starts a maintenance round (or queues one behind the running round); it folds every pack made so far.
   * `renewFastImport`: no maintenance window has just replaced fast-import.
   */
  private startMaintenance (renewFastImport = true): void {
    if (this.closing !== null) return // close() has waited for the last round
    if (renewFastImport) this.renewFastImportAfterRound = true
    this.lastMaintenanceMs = this.opts.clock()
    this.receivedSinceMaintenance = 0
    this.maintenance.trigger()
  }

  private assertOpen (): void {
    if (this.closing !== null) throw new GitConfigError('UNAVAILABLE', 'the store is closed')
    if (this.indexFailure !== null) throw this.indexFailure
  }

  private isLive (s: KeyState): boolean {
    return s.value !== null && (s.meta.expiresAtMs === null || s.meta.expiresAtMs > this.opts.clock())
  }

  private toKeyValue (e: CurrentEntry): KeyValue {
    return { key: e.key, value: e.value ?? new Uint8Array(), version: e.meta.version, expiresAtMs: e.meta.expiresAtMs, commit: e.commit }
  }

  private indexSettled (): Promise<void> {
    return this.indexTail
  }

  /** The durable current entry: unindexed, then cache, then LevelDB (retried if an index write raced the read). */
  private async readCurrent (key: string): Promise<CurrentEntry | null> {
    while (true) {
      const hot = this.unindexed.get(key) ?? this.cache.get(key)
      if (hot !== undefined) return hot
      const generation = this.indexGeneration
      const e = await this.index.getCurrent(key)
      if (generation !== this.indexGeneration) continue
      if (e !== null) this.cache.set(e)
      return e
    }
  }

  /**
   * Decides a change against the newest accepted state of `key` and submits it in the same synchronous step, so no
   * other write to the key can slip in between; the change commits after the one it was decided against.
   * A refusal (a CAS that does not swap, `deleted: false`, an expiry with nothing to do) decided against a change
   * that is not durable yet is answered only once that change is durable and visible to reads, and decided again if
   * it failed or a merge outranked it: the answer takes effect at the moment that change became visible, which lies
   * within the call. Answering at once would let a read issued after the refusal still see the older durable value
   * (issue 13.1: single-node CAS was not linearizable).
   */
  private async decideAndCommit (key: string, decide: (state: KeyState | null) => Change | null): Promise<string | null> {
    while (true) {
      const acceptedChange = this.accepted.get(key)
      const pending: KeyState | undefined = acceptedChange ?? this.unindexed.get(key) ?? this.cache.get(key)
      let state: KeyState | null
      if (pending !== undefined) {
        state = pending
      } else {
        const generation = this.indexGeneration
        const e = await this.index.getCurrent(key)
        this.assertOpen()
        if (generation !== this.indexGeneration || this.accepted.has(key) || this.unindexed.has(key)) continue
        if (e !== null) this.cache.set(e)
        state = e
      }
      const change = decide(state)
      if (change !== null) return await this.commitChanges([change])
      if (acceptedChange === undefined) return null
      const visible = await (this.durableOf.get(acceptedChange) ?? Promise.reject(new Error('untracked'))).then(() => true, () => false)
      this.assertOpen()
      if (visible && !this.committedUnder.has(acceptedChange)) return null
    }
  }

  private onCommitted (batch: CommittedBatch): void {
    const entries: CurrentEntry[] = []
    batch.changes.forEach((c, i) => {
      if (this.accepted.get(c.key) === c) this.accepted.delete(c.key)
      if (batch.superseded.has(c)) this.committedUnder.add(c)
      if (c.meta.op !== 'expire') this.noteVersion(c.meta.version)
      if (!batch.superseded.has(c)) entries.push({ key: c.key, meta: c.meta, valueOid: batch.valueOids[i], value: c.value, commit: batch.commit })
    })
    const cleared = batch.changes.flatMap((c) => (c.clearsDeadlineMs === null || batch.superseded.has(c) ? [] : [[c.clearsDeadlineMs, c.key] as const]))
    const date = commitDate(batch.timeSec)
    // A superseded change is in the commit's history but not its tree: the history rows are given explicitly.
    const history = batch.superseded.size === 0
      ? undefined
      : batch.changes.map((c) => ({
        key: c.key, commit: batch.commit, date, author: c.meta.author, message: batch.subject, op: c.meta.op, version: c.meta.version, node: c.meta.version.node
      }))
    this.recordDurable({ commit: batch.commit, date, message: batch.subject, entries, cleared, history })
  }

  private onMerged (m: AppliedMerge): void {
    for (const c of m.superseded) if (this.accepted.get(c.key) === c) this.accepted.delete(c.key)
    // Only versions the clock accepts count: one far in the future (a peer's wrong clock) must not be restored.
    if (m.maxVersion !== null && this.hlc.observe(m.maxVersion)) this.noteVersion(m.maxVersion)
    this.recordDurable({ commit: m.commit, date: m.date, message: m.message, entries: m.entries, cleared: m.cleared, history: m.history })
  }

  private noteVersion (v: Version): void {
    if (this.maxVersion === null || compareVersions(v, this.maxVersion) > 0) this.maxVersion = v
  }

  /**
   * Makes a durable commit visible: reads see its entries at once (unindexed), watchers and commit listeners hear of
   * it, and its index write is queued behind the previous ones. Runs synchronously, in commit order, before any
   * writer of the commit is answered, so a watcher's event never waits on LevelDB.
   */
  private recordDurable (d: DurableCommit): void {
    this.seq += 1
    const seq = this.seq
    this.durableHead = d.commit
    for (const e of d.entries) this.unindexed.set(e.key, e)
    if (this.watchers.size > 0) {
      const events: WatchEvent[] = d.entries.map((e) => ({ key: e.key, op: e.meta.op, value: e.value, commit: d.commit, version: e.meta.version }))
      for (const w of [...this.watchers]) w.offer(seq, events)
    }
    const record: LogRecord = {
      seq,
      commit: d.commit,
      date: d.date,
      message: d.message,
      changes: d.entries.map((e) => ({ key: e.key, meta: e.meta, valueOid: e.valueOid }))
    }
    const event: CommitEvent = { commit: d.commit, seq, changes: record.changes }
    for (const listener of this.commitListeners) {
      try { listener(event) } catch (err) { this.lastBackgroundError = err as Error }
    }
    const maxVersion = this.maxVersion ?? d.entries[0]?.meta.version ?? { wallMs: 0, counter: 0, node: this.nodeId }
    const writtenIn = d.history === undefined ? undefined : d.entries.map((e) => e.commit)
    // The index write starts after the writers of this commit have been answered: its synchronous part (encoding
    // every record and handing the batch to LevelDB) would otherwise run ahead of their replies (decision 0308).
    this.indexTail = this.indexTail.then(afterAcknowledgements).then(async () => {
      if (this.indexFailure !== null) return
      try {
        await this.index.write({ record, values: d.entries.map((e) => e.value), clearedDeadlines: d.cleared, history: d.history, writtenIn }, maxVersion)
      } catch (err) {
        this.indexFailure = new GitConfigError('INTERNAL', `the index write failed (${(err as Error).message}); ` +
          'the data is safe in git: reopen the store to rebuild the index')
        for (const w of [...this.watchers]) w.end(this.indexFailure)
        return
      }
      this.afterIndexed(record, d.entries)
    })
  }

  private afterIndexed (record: LogRecord, entries: readonly CurrentEntry[]): void {
    for (const e of entries) {
      if (this.unindexed.get(e.key) === e) {
        this.unindexed.delete(e.key)
        this.cache.set(e)
      } else {
        this.cache.delete(e.key)
      }
    }
    this.indexGeneration += 1
    this.indexedSeq = record.seq
  }

  /** Before fast-import restarts on a main that moved without us (a commit whose answer was lost). */
  private async catchUpAfterRestart (actualHead: string | null): Promise<void> {
    await this.indexTail
    const before = this.indexedSeq
    const caught = await catchUpIndex(this.paths.gitDir, this.catFile, this.index, actualHead, this.opts.keyBytesMax)
    this.cache.clear()
    this.indexGeneration += 1
    this.seq = caught.seq
    this.durableHead = actualHead
    this.indexedSeq = caught.seq
    if (caught.maxVersion !== null) {
      this.hlc.restore(caught.maxVersion)
      this.maxVersion = caught.maxVersion
    }
    if (caught.rebuiltFromScratch) {
      const err = new GitConfigError('WATCH_OVERFLOW', 'the index was rebuilt; watch again with since to resume')
      for (const w of [...this.watchers]) w.end(err)
      return
    }
    for (const r of await this.index.logRange(before, caught.seq, Number.MAX_SAFE_INTEGER)) {
      const events = await this.eventsOf(r, () => true)
      for (const w of [...this.watchers]) w.offer(r.seq, events)
    }
  }

  /** Watch events of one change-log record, values read from git by blob id. */
  private async eventsOf (r: LogRecord, matches: (key: string) => boolean): Promise<WatchEvent[]> {
    const out: WatchEvent[] = []
    for (const c of r.changes) {
      if (!matches(c.key)) continue
      let value: Uint8Array | null = null
      if (c.valueOid !== null) {
        const blob = await this.catFile.read(c.valueOid)
        if (blob === null) throw new GitConfigError('INTERNAL', `blob ${c.valueOid} of ${c.key} is missing`)
        value = new Uint8Array(blob.data)
      }
      out.push({ key: c.key, op: c.meta.op, value, commit: r.commit, version: c.meta.version })
    }
    return out
  }

  /** Full id of a commit given by (possibly abbreviated) hex id; INVALID_ARGUMENT or UNKNOWN_COMMIT otherwise. */
  private async resolveCommit (ref: unknown): Promise<string> {
    if (typeof ref !== 'string' || !commitIdPattern.test(ref)) {
      throw new GitConfigError('INVALID_ARGUMENT', `a commit id is 4 to 64 hex digits, got ${JSON.stringify(ref)}`)
    }
    const obj = await this.catFile.read(`${ref.toLowerCase()}^{commit}`)
    if (obj === null || obj.type !== 'commit') {
      throw new GitConfigError('UNKNOWN_COMMIT', `${ref} does not name a commit of this repository`, { commit: ref })
    }
    return obj.oid
  }

  private async seqOfCommitRef (ref: string): Promise<number> {
    const full = await this.resolveCommit(ref)
    await this.indexSettled()
    const seq = await this.index.seqOfCommit(full)
    if (seq === null) throw new GitConfigError('UNKNOWN_COMMIT', `${ref} is not a commit on this repository's main branch`, { commit: ref })
    return seq
  }

  /** A key's state in the tree of a commit; null when the key has no entry there. */
  private async readTreeKey (commit: string, key: string): Promise<{ meta: KeyMeta, value: Uint8Array | null } | null> {
    const dir = keyToTreeDir(key)
    const metaBlob = await this.catFile.read(`${commit}:${dir}/${metaFileName}`)
    if (metaBlob === null) return null
    const meta = decodeMeta(metaBlob.data.toString('utf8'))
    if (meta === null) throw new GitConfigError('INTERNAL', `unreadable ${dir}/${metaFileName} in ${commit}`)
    const valueBlob = await this.catFile.read(`${commit}:${dir}/${valueFileName}`)
    return { meta, value: valueBlob === null ? null : new Uint8Array(valueBlob.data) }
  }

  /** The key as stored in the tree of `ref` (history is shown as recorded, TTL deadlines included). */
  private async getAtCommit (key: string, ref: unknown): Promise<KeyValue | null> {
    const full = await this.resolveCommit(ref)
    const state = await this.readTreeKey(full, key)
    if (state === null || state.value === null) return null
    await this.indexSettled()
    const changedIn = await this.index.commitThatWrote(key, state.meta.op, state.meta.version)
    return { key, value: state.value, version: state.meta.version, expiresAtMs: state.meta.expiresAtMs, commit: changedIn ?? full }
  }

  /**
   * Turns every key whose deadline has passed into an `expire` tombstone commit (expiry in docs/store.md). A key is
   * expired by the node that wrote it, so the expiry is committed once in a cluster; another node takes over only
   * when the writer's expiry has not reached it expiryTakeoverMs after the deadline (a writer that is down or cut
   * off). Takeovers on several nodes write identical tombstones, so they still merge to one state. Reads hide an
   * expired value on every node meanwhile.
   */
  private expirePass (): Promise<void> {
    if (this.expiryRunning !== null) return this.expiryRunning
    this.expiryRunning = (async () => {
      try {
        while (this.closing === null) {
          const now = this.opts.clock()
          const due = await this.index.dueDeadlines(now, expiryPassKeysMax)
          const commits: Array<Promise<string | null>> = []
          let waiting = 0
          for (const [deadline, key] of due) {
            let stale = false
            commits.push(this.decideAndCommit(key, (state) => {
              // Keys written through Raft expire through Raft (DESIGN.md "TTL"); reads hide them meanwhile.
              if (state !== null && state.value !== null && state.meta.raftIndex !== null) return null
              if (state === null || state.value === null || state.meta.expiresAtMs !== deadline) { stale = true; return null }
              if (!commitsExpiry(state.meta, this.nodeId, now, this.opts.expiryTakeoverMs)) { waiting += 1; return null }
              return expireChange(key, state.meta, deadline)
            }).then(async (commit) => {
              if (stale) await this.index.dropDeadline(deadline, key)
              return commit
            }))
          }
          const results = await Promise.allSettled(commits)
          for (const r of results) if (r.status === 'rejected') this.lastBackgroundError = r.reason as Error
          await this.indexSettled()
          // Deadlines left waiting for their writer stay first in the index: passing them again would spin.
          if (due.length < expiryPassKeysMax || waiting > 0 || results.some((r) => r.status === 'rejected')) break
        }
      } catch (err) {
        this.lastBackgroundError = err as Error
      } finally {
        this.expiryRunning = null
      }
    })()
    return this.expiryRunning
  }
}

/**
 * The expire change for a write whose deadline passed: the shared expiryTombstone (merge.ts), so this node's expiry
 * is byte-identical to the one any other node derives from the same write.
 */
export function expireChange (key: string, expired: KeyMeta, deadlineMs: number): Change {
  const tombstone = expiryTombstone({ meta: expired, valueOid: null })
  return { key, meta: tombstone.meta, value: null, clientAuthor: null, clearsDeadlineMs: deadlineMs }
}
