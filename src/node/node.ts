// GitConfigNode: the composition root of a running node. It owns the store, the HTTP server, the logger and the
// metrics, and is the only thing routes talk to: later issues put replication and Raft here, between the routes and
// the store, without touching the routes.
import { resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { GitConfigError, isGitConfigError } from '../errors.js'
import { keysGaugeMaxAgeMs, watchersMax } from '../limits.js'

/** How often a stopping node closes connections that became idle after the server stopped accepting. */
const idleSweepMs = 50
import type {
  AuditOptions, AuditPage, CasResult, ConfigStore, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  ValueInput, WatchEvent, WriteOptions, WriteResult
} from '../types.js'
import { loadHttpSecurity } from '../api/security.js'
import { buildApi } from '../api/server.js'
import { NodeMetrics } from './metrics.js'
import { parseNodeOptions, type NodeOptions } from './options.js'
import { openStore as defaultOpenStore } from './open-store.js'
import { onStoreCommit, storeHead, storeNodeId, watchCursorCheck, type StoreOpener } from './store-port.js'
import { packageVersion } from './package-version.js'
import { startReplication, type ReplicationRuntime, type ReplicationStatus } from './replication.js'

export interface NodeDependencies {
  /** How the store is opened; the default opens the git store in `options.repo`. */
  readonly openStore?: StoreOpener
  /** A logger to use instead of a new pino logger writing JSON lines to stdout. */
  readonly logger?: Logger
}

export interface NodeAddress {
  readonly host: string
  readonly port: number
  readonly url: string
}

export interface NodeStatus {
  readonly nodeId: string | null
  readonly repository: string
  readonly head: string | null
  readonly version: string
  readonly state: NodeState
  readonly uptimeSeconds: number
  readonly url: string | null
  /** p2p identity, listen addresses and peers; null when p2p is off. */
  readonly p2p: ReplicationStatus['p2p']
  /** The shared remote this node syncs with, or null. */
  readonly remote: string | null
}

/** An open watch: the store's events plus the means to release it (on disconnect, timeout or node stop). */
export interface WatchHandle {
  readonly events: AsyncIterator<WatchEvent>
  readonly signal: AbortSignal
  /** The commit the watch resumes after (given, or the head when it started), null on an empty repository. */
  readonly since: string | null
  /** True when `since` has been checked already (an unknown one made openWatch reject), false when unknown. */
  readonly cursorChecked: boolean
  close (): void
}

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

export class GitConfigNode {
  readonly options: NodeOptions
  readonly logger: Logger
  readonly metrics: NodeMetrics
  private readonly openStore: StoreOpener
  private store: ConfigStore | null = null
  private server: FastifyInstance | null = null
  private address: NodeAddress | null = null
  private unsubscribeCommits: (() => void) | null = null
  private replication: ReplicationRuntime | null = null
  private readonly watches = new Set<AbortController>()
  private readonly writes = new Set<Promise<unknown>>()
  private startedAtMs = 0
  private stopping: Promise<void> | null = null
  private current: NodeState = 'new'
  private keyCountCache: { atMs: number, count: number } | null = null

  /** Validates the options (INVALID_ARGUMENT on any unknown or bad field); nothing is opened until start(). */
  constructor (options: unknown = {}, deps: NodeDependencies = {}) {
    this.options = parseNodeOptions(options)
    this.openStore = deps.openStore ?? defaultOpenStore
    this.logger = deps.logger ?? pino({ level: this.options.logLevel })
    this.metrics = new NodeMetrics({ keyCount: async () => await this.countKeys() })
  }

  get state (): NodeState { return this.current }

  /** Opens the store, then listens; resolves with the bound address (useful with httpPort 0). */
  async start (): Promise<NodeAddress> {
    if (this.current !== 'new') throw new GitConfigError('UNAVAILABLE', `node cannot start: it is ${this.current}`)
    this.current = 'starting'
    const repo = resolve(this.options.repo)
    try {
      // The security files first: a bad one stops the start before the repository is touched.
      const security = await loadHttpSecurity(this.options)
      this.store = await this.openStore(repo, { keyBytesMax: this.options.keyBytesMax, valueBytesMax: this.options.valueBytesMax })
      this.unsubscribeCommits = onStoreCommit(this.store, n => { this.metrics.observeCommit(n.changes) })
      this.replication = await startReplication(this.store, this.options, this.logger, this.metrics.replication)
      this.server = buildApi(this, security)
      await this.server.listen({ host: this.options.host, port: this.options.httpPort })
    } catch (err) {
      await this.releaseAfterFailedStart()
      throw this.startError(err)
    }
    const bound = this.server.server.address()
    const port = typeof bound === 'object' && bound !== null ? bound.port : this.options.httpPort
    const hostInUrl = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
    const scheme = this.options.tlsCertFile === undefined ? 'http' : 'https'
    this.address = { host: this.options.host, port, url: `${scheme}://${hostInUrl}:${port}` }
    this.startedAtMs = Date.now()
    this.current = 'running'
    this.logger.info({ url: this.address.url, repo, nodeId: storeNodeId(this.store) }, 'gitconfig node listening')
    return this.address
  }

  /** Full multiaddrs of the p2p host (each ending in /p2p/<PeerId>): what other nodes pass as --bootstrap. */
  get p2pMultiaddrs (): readonly string[] {
    return this.replication?.status().p2p?.multiaddrs ?? []
  }

  private async releaseAfterFailedStart (): Promise<void> {
    this.unsubscribeCommits?.()
    await this.server?.close().catch(() => {})
    await this.replication?.stop().catch(() => {})
    await this.store?.close().catch(() => {})
    this.current = 'stopped'
  }

  private startError (err: unknown): unknown {
    const code = (err as { code?: unknown }).code
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      return new GitConfigError('UNAVAILABLE', `cannot listen on ${this.options.host}:${this.options.httpPort}: ${(err as Error).message}`)
    }
    return err
  }

  /**
   * Stops accepting requests, ends open watches, waits for in-flight requests (writes included) to be answered,
   * then closes the store. Idempotent: concurrent callers share one shutdown.
   */
  async stop (): Promise<void> {
    if (this.current === 'new' || this.current === 'stopped') { this.current = 'stopped'; return }
    this.stopping ??= this.shutdown()
    await this.stopping
  }

  private async shutdown (): Promise<void> {
    this.current = 'stopping'
    this.logger.info('gitconfig node stopping')
    for (const w of this.watches) w.abort()
    await this.closeServer()
    await Promise.allSettled([...this.writes])
    this.unsubscribeCommits?.()
    // Replication merges into the store, so it ends (jobs aborted, p2p stopped) before the store closes.
    await this.replication?.stop()
    await this.store?.close()
    this.current = 'stopped'
    this.logger.info('gitconfig node stopped')
  }

  /**
   * Closes the HTTP server. close() drops connections that are idle at that moment, but a kept-alive connection
   * whose request was still in flight becomes idle only later and would hold close() for the whole keep-alive
   * timeout (72 s), so idle connections are swept again until the server has closed.
   */
  private async closeServer (): Promise<void> {
    const server = this.server
    if (server === null) return
    const sweep = setInterval(() => { server.server.closeIdleConnections() }, idleSweepMs)
    try {
      await server.close()
    } finally {
      clearInterval(sweep)
    }
  }

  private requireStore (): ConfigStore {
    if (this.store === null || (this.current !== 'running' && this.current !== 'stopping')) {
      throw new GitConfigError('UNAVAILABLE', 'the node is not running')
    }
    return this.store
  }

  /** Runs a write so that stop() waits for it, and counts its commit when the store reports no commit events. */
  private async write<T> (run: (store: ConfigStore) => Promise<T>, commitOf: (r: T) => string | null): Promise<T> {
    if (this.current !== 'running') throw new GitConfigError('UNAVAILABLE', 'the node is stopping')
    const pending = run(this.requireStore())
    this.writes.add(pending)
    try {
      const result = await pending
      const commit = commitOf(result)
      if (commit !== null && this.unsubscribeCommits === null) this.metrics.observeWriteResult(commit)
      return result
    } finally {
      this.writes.delete(pending)
    }
  }

  async get (key: string, opts?: GetOptions): Promise<KeyValue | null> {
    return await this.requireStore().get(key, opts)
  }

  async set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult> {
    return await this.write(s => s.set(key, value, opts), r => r.commit)
  }

  async delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult> {
    return await this.write(s => s.delete(key, opts), r => r.commit)
  }

  async compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<CasResult> {
    // A replicated node accepts plain writes on its own, so a local CAS could succeed on two nodes at once. Across
    // nodes CAS must go through Raft (DESIGN.md "Two paths for writes"), which is not wired in yet: refuse it
    // rather than hand out a lock that two clients can both win.
    if (this.options.p2pPort !== undefined || this.options.remote !== undefined) {
      throw new GitConfigError('CAS_REQUIRES_STRONG_PREFIX',
        'compare-and-swap on a replicated node needs the Raft log for strong prefixes, which this version does not ' +
        'run yet; use CAS on a single node (no --p2p-port or --remote) or in the embedded library', { key })
    }
    return await this.write(s => s.compareAndSwap(key, expected, value, opts), r => r.commit)
  }

  async list (prefix: string, opts?: ListOptions): Promise<ListEntry[]> {
    return await this.requireStore().list(prefix, opts)
  }

  async history (key: string, opts?: HistoryOptions): Promise<HistoryEntry[]> {
    return await this.requireStore().history(key, opts)
  }

  async audit (prefix: string, opts?: AuditOptions): Promise<AuditPage> {
    return await this.requireStore().audit(prefix, opts)
  }

  async rollback (key: string, commit: string, opts?: Pick<WriteOptions, 'author'>): Promise<WriteResult> {
    return await this.write(s => s.rollback(key, commit, opts), r => r.commit)
  }

  /**
   * Opens a watch, counted in the watchers gauge until closed. Without `since` it resumes after the head commit
   * read before the watch starts, so the caller holds a cursor from the first moment and a reconnect misses nothing.
   */
  async openWatch (key: string, opts: { recursive: boolean, since?: string }): Promise<WatchHandle> {
    const store = this.requireStore()
    if (this.current !== 'running') throw new GitConfigError('UNAVAILABLE', 'the node is stopping')
    if (this.watches.size >= watchersMax) {
      throw new GitConfigError('UNAVAILABLE', `too many open watches (limit ${watchersMax})`, { limit: watchersMax })
    }
    // Without a cursor, start after the head and say so: the store then replays anything committed after it, even a
    // commit not yet indexed when the watch registers, and the caller can resume from the head without a gap.
    const cursor = opts.since ?? storeHead(store)
    const controller = new AbortController()
    const events = store.watch(key, { recursive: opts.recursive, since: cursor ?? undefined, signal: controller.signal })[Symbol.asyncIterator]()
    this.watches.add(controller)
    this.metrics.watchers.set(this.watches.size)
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      controller.abort()
      this.watches.delete(controller)
      this.metrics.watchers.set(this.watches.size)
      // Ends the store's generator even when it is not waiting on the signal; a pending next() settles on its own.
      events.return?.().catch(() => {})
    }
    // An unknown cursor fails here, so routes answer with an HTTP error before they start a stream.
    const check = watchCursorCheck(events)
    if (check !== null) {
      try {
        await check
      } catch (err) {
        close()
        throw err
      }
    }
    return { events, signal: controller.signal, since: cursor, cursorChecked: check !== null, close }
  }

  /**
   * Live keys for the keys gauge. The store keeps no counter, so this lists every key; the result is cached for
   * keysGaugeMaxAgeMs so frequent scrapes of a large store cost one listing per interval.
   */
  private async countKeys (): Promise<number | null> {
    if (this.store === null || this.current !== 'running') return null
    const now = Date.now()
    if (this.keyCountCache === null || now - this.keyCountCache.atMs > keysGaugeMaxAgeMs) {
      this.keyCountCache = { atMs: now, count: (await this.store.list('/', { recursive: true })).length }
    }
    return this.keyCountCache.count
  }

  /** Number of open watches (what the watchers gauge shows). */
  get watcherCount (): number { return this.watches.size }

  async status (): Promise<NodeStatus> {
    const store = this.store
    return {
      nodeId: store === null ? null : storeNodeId(store),
      repository: resolve(this.options.repo),
      head: store === null ? null : storeHead(store),
      version: packageVersion(),
      state: this.current,
      uptimeSeconds: this.current === 'running' ? Math.round((Date.now() - this.startedAtMs) / 1000) : 0,
      url: this.address?.url ?? null,
      p2p: this.replication?.status().p2p ?? null,
      remote: this.options.remote ?? null
    }
  }

  /** Logs an unexpected error once, with its stack; expected ones (GitConfigError) are not worth a log line. */
  reportUnexpected (err: unknown, context: Record<string, unknown>): void {
    if (!isGitConfigError(err)) this.logger.error({ err, ...context }, 'unexpected error')
  }
}
