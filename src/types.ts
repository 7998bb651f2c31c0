// Public types shared by the embedded store (GitConfigStore), the HTTP client (GitConfigClient) and the node.
// Both implementations satisfy `ConfigStore`, so an application switches between embedded and remote with one line.

/** A value as given by a caller: strings are stored as their UTF-8 bytes. */
export type ValueInput = string | Uint8Array

/**
 * Hybrid logical clock version of a change: wall-clock milliseconds, a counter for changes within one
 * millisecond, and the writing node's id as the tie-break. Ordered lexicographically in that order.
 */
export interface Version {
  readonly wallMs: number
  readonly counter: number
  readonly node: string
}

export type Operation = 'set' | 'delete' | 'cas' | 'expire' | 'rollback' | 'merge'

export interface KeyValue {
  readonly key: string
  readonly value: Uint8Array
  readonly version: Version
  /** Absolute deadline (epoch ms) after which the key reads as absent; null when it never expires. */
  readonly expiresAtMs: number | null
  /** The commit that last changed this key. */
  readonly commit: string
}

export interface GetOptions {
  /** Read the value as it was at this commit (full or abbreviated id). */
  readonly commit?: string
}

export interface WriteOptions {
  /** Time to live in milliseconds; the key expires at now + ttlMs. */
  readonly ttlMs?: number
  /** Client identity recorded in the commit. */
  readonly author?: string
}

export interface WriteResult {
  readonly key: string
  readonly commit: string
  readonly version: Version
}

export interface DeleteResult {
  readonly key: string
  /** False when the key was already absent (no commit is made). */
  readonly deleted: boolean
  readonly commit: string | null
}

export interface CasResult {
  readonly swapped: boolean
  /** The commit holding the new value when swapped. */
  readonly commit: string | null
  /** The current value when not swapped (null: absent). */
  readonly current: Uint8Array | null
}

export interface ListOptions {
  /** All keys below the prefix, not only its direct children. */
  readonly recursive?: boolean
  /** Include values in the result. */
  readonly values?: boolean
}

export interface ListEntry {
  readonly key: string
  readonly value?: Uint8Array
  /** Non-recursive listings only: true when keys exist below this one. */
  readonly hasChildren?: boolean
}

export interface HistoryOptions {
  readonly limit?: number
}

export interface HistoryEntry {
  readonly commit: string
  /** ISO-8601 commit date. */
  readonly date: string
  readonly author: string
  readonly message: string
  readonly op: Operation
  readonly version: Version
  readonly node: string
}

export interface AuditOptions {
  /** Only changes committed at or after this time (ISO-8601 date or date-time, e.g. `2026-11-01` or `2026-11-01T12:00:00Z`). */
  readonly since?: string
  /** Only changes committed before this time (same forms as `since`). */
  readonly until?: string
  /** At most this many entries in the page (default and maximum: auditLimitMax in limits.ts). */
  readonly limit?: number
  /** The `next` cursor of the previous page: continue after its last entry. */
  readonly after?: string
}

/** One change in an audit export: a history entry with the key it changed. */
export interface AuditEntry extends HistoryEntry {
  readonly key: string
}

export interface AuditPage {
  /** Oldest first: by commit date, then version, then key. */
  readonly entries: AuditEntry[]
  /** Pass as `after` for the next page; null when this page holds the last matching change. */
  readonly next: string | null
}

export interface WatchOptions {
  /** Watch every key below the given prefix, not only the key itself. */
  readonly recursive?: boolean
  /** Resume after this commit: first the changes made after it, then live ones. */
  readonly since?: string
  readonly signal?: AbortSignal
}

export interface WatchEvent {
  readonly key: string
  readonly op: Operation
  /** The new value; null for delete and expire. */
  readonly value: Uint8Array | null
  readonly commit: string
  readonly version: Version
}

export interface ConfigStore {
  get (key: string, opts?: GetOptions): Promise<KeyValue | null>
  set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult>
  delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult>
  /** Compare-and-swap; `expected` null or '' means the key must be absent. Resolves true when it swapped. */
  cas (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<boolean>
  /** The same as `cas`, with the current value when it did not swap. */
  compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<CasResult>
  list (prefix: string, opts?: ListOptions): Promise<ListEntry[]>
  history (key: string, opts?: HistoryOptions): Promise<HistoryEntry[]>
  /** A new commit restoring the key's value (or its absence) as of `commit`. */
  rollback (key: string, commit: string, opts?: Pick<WriteOptions, 'author'>): Promise<WriteResult>
  /** Every change to the prefix's keys (the prefix itself included) in a date range, oldest first, a page at a time. */
  audit (prefix: string, opts?: AuditOptions): Promise<AuditPage>
  watch (keyOrPrefix: string, opts?: WatchOptions): AsyncIterable<WatchEvent>
  close (): Promise<void>
}
