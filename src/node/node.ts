// NodeCore: a running node without its front ends. It composes the store, replication (and, with issue 14, strong
// operations) and is what front ends call (NodeService): later issues put Raft here, between the front ends and the
// store, without touching a route. Front ends are injected (FrontendFactory) and the node never imports them, so
// the flow is one way (decision 0107); src/daemon/daemon.ts adds the HTTP API and is what `gitconfig node start` runs.
import { resolve } from 'node:path'
import { pino, type Logger } from 'pino'
import { GitConfigError, isGitConfigError } from '../errors.js'
import { keysGaugeMaxAgeMs, watchersMax } from '../limits.js'
import type {
  AuditOptions, AuditPage, CasResult, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  ValueInput, WriteOptions, WriteResult
} from '../types.js'
import { NodeMetrics } from './metrics.js'
import { parseNodeOptions, type NodeOptions } from './options.js'
import { openStore as defaultOpenStore } from './open-store.js'
import { watchCursorCheck, type NodeStore, type StoreOpener } from './store-port.js'
import { packageVersion } from './package-version.js'
import { startReplication, type ReplicationRuntime } from './replication.js'
import type { FrontendFactory, NodeAddress, NodeFrontend, NodeService, NodeState, NodeStatus, WatchHandle } from './service.js'

export type { NodeAddress, NodeState, NodeStatus, WatchHandle } from './service.js'

export interface NodeDependencies {
  /** How the store is opened; the default opens the git store in `options.repo`. */
  readonly openStore?: StoreOpener
  /** A logger to use instead of a new pino logger writing JSON lines to stdout. */
  readonly logger?: Logger
  /** The front end to start with the node (the daemon passes the HTTP API); none by default. */
  readonly frontend?: FrontendFactory
}

export class NodeCore implements NodeService {
  readonly options: NodeOptions
  readonly logger: Logger
  readonly metrics: NodeMetrics
  private readonly openStore: StoreOpener
  private readonly frontendFactory: FrontendFactory | null
  private store: NodeStore | null = null
  private frontend: NodeFrontend | null = null
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
    this.frontendFactory = deps.frontend ?? null
    this.logger = deps.logger ?? pino({ level: this.options.logLevel })
    this.metrics = new NodeMetrics({ keyCount: async () => await this.countKeys() })
  }

  get state (): NodeState { return this.current }

  /**
   * Builds the front end, opens the store, starts replication, then lets the front end listen. Resolves with the
   * front end's address (useful with httpPort 0), or null without a front end.
   */
  async start (): Promise<NodeAddress | null> {
    if (this.current !== 'new') throw new GitConfigError('UNAVAILABLE', `node cannot start: it is ${this.current}`)
    this.current = 'starting'
    const repo = resolve(this.options.repo)
    try {
      // The front end first: a bad setting of it (a TLS file) stops the start before the repository is touched.
      this.frontend = this.frontendFactory === null ? null : await this.frontendFactory(this)
      const store = this.store = await this.openStore(repo, { keyBytesMax: this.options.keyBytesMax, valueBytesMax: this.options.valueBytesMax })
      this.unsubscribeCommits = store.onCommit(e => { this.metrics.observeCommit(e.changes.length) })
      this.replication = await startReplication(store, this.options, this.logger, this.metrics.replication)
      this.address = this.frontend === null ? null : await this.frontend.listen()
    } catch (err) {
      await this.releaseAfterFailedStart()
      throw err
    }
    this.startedAtMs = Date.now()
    this.current = 'running'
    this.logger.info({ url: this.address?.url ?? null, repo, nodeId: this.store.nodeId }, 'gitconfig node listening')
    return this.address
  }

  /** Full multiaddrs of the p2p host (each ending in /p2p/<PeerId>): what other nodes pass as --bootstrap. */
  get p2pMultiaddrs (): readonly string[] {
    return this.replication?.status().p2p?.multiaddrs ?? []
  }

  private async releaseAfterFailedStart (): Promise<void> {
    this.unsubscribeCommits?.()
    await this.frontend?.close().catch(() => {})
    await this.replication?.stop().catch(() => {})
    await this.store?.close().catch(() => {})
    this.current = 'stopped'
  }

  /**
   * Ends open watches, closes the front end (which stops accepting and waits for the requests in flight), waits for
   * in-flight writes, then stops replication and closes the store. Idempotent: concurrent callers share one shutdown.
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
    await this.frontend?.close()
    await Promise.allSettled([...this.writes])
    this.unsubscribeCommits?.()
    // Replication merges into the store, so it ends (jobs aborted, p2p stopped) before the store closes.
    await this.replication?.stop()
    await this.store?.close()
    this.current = 'stopped'
    this.logger.info('gitconfig node stopped')
  }

  private requireStore (): NodeStore {
    if (this.store === null || (this.current !== 'running' && this.current !== 'stopping')) {
      throw new GitConfigError('UNAVAILABLE', 'the node is not running')
    }
    return this.store
  }

  /** Runs a write so that stop() waits for it. Its commit is counted from the store's commit events. */
  private async write<T> (run: (store: NodeStore) => Promise<T>): Promise<T> {
    if (this.current !== 'running') throw new GitConfigError('UNAVAILABLE', 'the node is stopping')
    const pending = run(this.requireStore())
    this.writes.add(pending)
    try {
      return await pending
    } finally {
      this.writes.delete(pending)
    }
  }

  async get (key: string, opts?: GetOptions): Promise<KeyValue | null> {
    return await this.requireStore().get(key, opts)
  }

  async set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult> {
    return await this.write(s => s.set(key, value, opts))
  }

  async delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult> {
    return await this.write(s => s.delete(key, opts))
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
    return await this.write(s => s.compareAndSwap(key, expected, value, opts))
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
    return await this.write(s => s.rollback(key, commit, opts))
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
    const cursor = opts.since ?? store.head
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
      nodeId: store?.nodeId ?? null,
      repository: resolve(this.options.repo),
      head: store?.head ?? null,
      version: packageVersion(),
      state: this.current,
      uptimeSeconds: this.current === 'running' ? Math.round((Date.now() - this.startedAtMs) / 1000) : 0,
      url: this.address?.url ?? null,
      p2p: this.replication?.status().p2p ?? null,
      remote: this.options.remote ?? null
    }
  }

  reportUnexpected (err: unknown, context: Record<string, unknown>): void {
    if (!isGitConfigError(err)) this.logger.error({ err, ...context }, 'unexpected error')
  }
}
