// What a node's front ends (the HTTP API today) see of it, and how the node starts and stops them. The flow is one
// way (decision 0107): front ends call the node through NodeService; the node composes the store, replication and
// strong operations, and never imports a front end. A front end reaches the node as an injected FrontendFactory.
import type { Logger } from 'pino'
import type {
  AuditOptions, AuditPage, CasResult, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  ValueInput, WatchEvent, WriteOptions, WriteResult
} from '../types.js'
import type { NodeMetrics } from './metrics.js'
import type { NodeOptions } from './options.js'
import type { ReplicationStatus } from './replication.js'

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

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

/** The node as its front ends call it. */
export interface NodeService {
  readonly options: NodeOptions
  readonly logger: Logger
  readonly metrics: NodeMetrics
  readonly state: NodeState
  get (key: string, opts?: GetOptions): Promise<KeyValue | null>
  set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult>
  delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult>
  compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<CasResult>
  list (prefix: string, opts?: ListOptions): Promise<ListEntry[]>
  history (key: string, opts?: HistoryOptions): Promise<HistoryEntry[]>
  audit (prefix: string, opts?: AuditOptions): Promise<AuditPage>
  rollback (key: string, commit: string, opts?: Pick<WriteOptions, 'author'>): Promise<WriteResult>
  openWatch (key: string, opts: { recursive: boolean, since?: string }): Promise<WatchHandle>
  status (): Promise<NodeStatus>
  /** Logs an unexpected error once, with its stack; expected ones (GitConfigError) are not worth a log line. */
  reportUnexpected (err: unknown, context: Record<string, unknown>): void
}

/** A front end started and stopped with the node. */
export interface NodeFrontend {
  /** Starts accepting requests (after the store and replication are up); resolves with the address served. */
  listen (): Promise<NodeAddress>
  /** Stops accepting and resolves once the requests in flight were answered or their connections closed. */
  close (): Promise<void>
}

/**
 * Builds a front end for `node`. It runs first in start(), before the repository is touched, so a bad front-end
 * setting (an unreadable TLS file) stops the start early.
 */
export type FrontendFactory = (node: NodeService) => Promise<NodeFrontend>
