// What the tree records about each key besides its value: operation, version, TTL deadline, author. Shared by the
// writer, the index and the merge, so all three agree on one canonical encoding (merge commits must be
// byte-identical on every node, so the meta blob must be too).
import type { Operation, Version } from '../types.js'
import { compareVersions, formatVersion, parseVersion } from './hlc.js'

export interface KeyMeta {
  readonly op: Operation
  readonly version: Version
  /** Absolute deadline in epoch ms; null: never expires. Kept on tombstones too (null there). */
  readonly expiresAtMs: number | null
  readonly author: string
  /** Raft log index for changes made through Raft (strong keys); null for plain writes. */
  readonly raftIndex: number | null
}

/** A key's state in a tree: its meta and the blob id of its value, or null for a tombstone (delete, expire). */
export interface TreeEntry {
  readonly meta: KeyMeta
  readonly valueOid: string | null
}

const operations: ReadonlySet<string> = new Set<Operation>(['set', 'delete', 'cas', 'expire', 'rollback', 'merge'])

/** Canonical meta blob text: fixed key order, no whitespace, trailing newline. */
export function encodeMeta (meta: KeyMeta): string {
  return JSON.stringify({
    op: meta.op,
    version: formatVersion(meta.version),
    expiresAtMs: meta.expiresAtMs,
    author: meta.author,
    raftIndex: meta.raftIndex
  }) + '\n'
}

/** Parses a meta blob; null when it is not one (a corrupt or foreign file). */
export function decodeMeta (text: string): KeyMeta | null {
  let raw: unknown
  try { raw = JSON.parse(text) } catch { return null }
  if (typeof raw !== 'object' || raw === null) return null
  const r = raw as Record<string, unknown>
  const version = typeof r.version === 'string' ? parseVersion(r.version) : null
  if (version === null || typeof r.op !== 'string' || !operations.has(r.op) || typeof r.author !== 'string') return null
  const expiresAtMs = r.expiresAtMs === null ? null : Number.isSafeInteger(r.expiresAtMs) ? r.expiresAtMs as number : undefined
  const raftIndex = r.raftIndex === null || r.raftIndex === undefined ? null : Number.isSafeInteger(r.raftIndex) ? r.raftIndex as number : undefined
  if (expiresAtMs === undefined || raftIndex === undefined) return null
  return { op: r.op as Operation, version, expiresAtMs, author: r.author, raftIndex }
}

export function isTombstone (entry: TreeEntry): boolean {
  return entry.valueOid === null
}

/** Among changes with equal versions, an expiry ranks just above the write it expires (decision 0501). */
export function opRank (op: Operation): number {
  return op === 'expire' ? 1 : 0
}

/**
 * Total order used by the merge: the higher version wins. An expiry tombstone carries the version of the write it
 * expires (so every node derives the identical tombstone) and ranks just above that write; any later write, a
 * renewal included, still wins over it. See docs/decisions/0501-expiry-tombstones.md.
 */
export function compareEntries (a: TreeEntry, b: TreeEntry): number {
  const byVersion = compareVersions(a.meta.version, b.meta.version)
  if (byVersion !== 0) return byVersion
  return opRank(a.meta.op) - opRank(b.meta.op)
}
