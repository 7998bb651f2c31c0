// The merge of two replicas' states, as pure functions over maps (DESIGN.md "Two paths for writes", "Convergence",
// "TTL"). A state maps each key to its TreeEntry, tombstones included. The git store turns trees into such maps,
// calls these functions, and writes the result as a merge commit whose metadata also comes from here, so two nodes
// that merge the same heads produce byte-identical commits.
//
// The merge is a join on a total order of entries, applied per key: the result keeps, for every key, the greatest
// entry either side holds. Joins of a total order are commutative, associative and idempotent, which is exactly what
// convergence needs: replicas may exchange states in any order, any number of times, and still agree.
import { compareEntries, encodeMeta, isTombstone, type TreeEntry } from './entry.js'

/** A replica's state: key -> entry, tombstones included. */
export type KeyState = ReadonlyMap<string, TreeEntry>

/**
 * The total order the merge uses: compareEntries (the higher version wins; an expiry tombstone ranks just above the
 * write it expires), then, only for entries that compare equal yet differ, the canonical meta text and the value id.
 * Equal versions with different content cannot come from honest nodes (a version includes its node id), but a
 * corrupt or hostile peer can send them; the tie-break keeps the merge commutative even then, instead of letting the
 * argument order decide.
 */
export function compareEntriesTotal (a: TreeEntry, b: TreeEntry): number {
  const byOrder = compareEntries(a, b)
  if (byOrder !== 0) return byOrder
  if (a === b) return 0
  const metaA = encodeMeta(a.meta)
  const metaB = encodeMeta(b.meta)
  if (metaA !== metaB) return metaA < metaB ? -1 : 1
  if (a.valueOid === b.valueOid) return 0
  if (a.valueOid === null) return -1
  if (b.valueOid === null) return 1
  return a.valueOid < b.valueOid ? -1 : 1
}

/**
 * True when an entry's op and value agree: `delete` and `expire` never carry a value, `set` always does. (A
 * `rollback` may restore absence, so it may be a tombstone; `cas` and `merge` are left to their writers.) Entries
 * from a peer that fail this are corrupt and should be rejected where trees are decoded, before they reach the merge,
 * which would otherwise rank, say, an `expire` that still carries a value above the write it claims to expire.
 */
export function isWellFormedEntry (entry: TreeEntry): boolean {
  switch (entry.meta.op) {
    case 'delete':
    case 'expire':
      return entry.valueOid === null
    case 'set':
      return entry.valueOid !== null
    default:
      return true
  }
}

/** True when two entries record the same thing (same meta text, same value id). */
export function sameEntry (a: TreeEntry, b: TreeEntry): boolean {
  return a === b || (a.valueOid === b.valueOid && encodeMeta(a.meta) === encodeMeta(b.meta))
}

function byKey (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Per key, the entry that wins by compareEntriesTotal. Keys present on one side only are kept as they are: a
 * tombstone is kept like any entry, so an older write arriving later still loses to it. The result iterates in key
 * order, so whatever is derived from it by iteration is the same on every node.
 */
export function mergeStates (a: KeyState, b: KeyState): Map<string, TreeEntry> {
  const keys = new Set<string>(a.keys())
  for (const k of b.keys()) keys.add(k)
  const merged = new Map<string, TreeEntry>()
  for (const key of [...keys].sort(byKey)) {
    const ea = a.get(key)
    const eb = b.get(key)
    if (ea === undefined) merged.set(key, eb as TreeEntry)
    else if (eb === undefined) merged.set(key, ea)
    else merged.set(key, compareEntriesTotal(ea, eb) >= 0 ? ea : eb)
  }
  return merged
}

/** One key's change between two states; null stands for "no entry at all" (not even a tombstone). */
export interface EntryChange {
  readonly key: string
  readonly before: TreeEntry | null
  readonly after: TreeEntry | null
}

/**
 * The keys whose entry differs between `before` and `after`, in key order: what a merge changed, for watch events
 * and index updates. Entries that differ only in object identity are not changes. A change from a tombstone to
 * another tombstone is reported too (its meta changed, the index must record it); callers that only care about
 * values can test `isTombstone` on both sides.
 */
export function diffStates (before: KeyState, after: KeyState): EntryChange[] {
  const keys = new Set<string>(before.keys())
  for (const k of after.keys()) keys.add(k)
  const changes: EntryChange[] = []
  for (const key of [...keys].sort(byKey)) {
    const b = before.get(key) ?? null
    const a = after.get(key) ?? null
    if (b !== null && a !== null && sameEntry(b, a)) continue
    if (b === null && a === null) continue
    changes.push({ key, before: b, after: a })
  }
  return changes
}

/** True when the entry holds a value that has reached its deadline: from `expiresAtMs` on, it reads as absent. */
export function isExpired (entry: TreeEntry, nowMs: number): boolean {
  return !isTombstone(entry) && entry.meta.expiresAtMs !== null && entry.meta.expiresAtMs <= nowMs
}

/** The entry if it holds a readable value at nowMs; null when absent, a tombstone, or expired. */
export function liveEntry (entry: TreeEntry | undefined, nowMs: number): TreeEntry | null {
  if (entry === undefined || isTombstone(entry) || isExpired(entry, nowMs)) return null
  return entry
}

/**
 * The expiry tombstone of a write: op 'expire', the same version and author as the write, the deadline kept, no
 * value. Every node derives the identical entry from the write alone, so expiries made independently on several
 * nodes merge to one result; and because it carries the write's version rather than the deadline, any later write
 * (a renewal, or a TTL-less write from another node made before the deadline) still beats it.
 * See docs/decisions/0501-expiry-tombstones.md.
 */
export function expiryTombstone (write: TreeEntry): TreeEntry {
  return {
    meta: { op: 'expire', version: write.meta.version, expiresAtMs: write.meta.expiresAtMs, author: write.meta.author, raftIndex: null },
    valueOid: null
  }
}

/**
 * The expiry tombstones due at nowMs: one for each live plain-write entry whose deadline has passed, in key order.
 * Merging them into the state (mergeStates(state, expireDue(state, nowMs))) removes the expired values; doing so
 * again, or on another node, changes nothing further. Keys written through Raft (raftIndex set) are skipped: their
 * expiry goes through Raft (DESIGN.md "TTL"), and reads hide them anyway through isExpired.
 */
export function expireDue (state: KeyState, nowMs: number): Map<string, TreeEntry> {
  const due = new Map<string, TreeEntry>()
  for (const key of [...state.keys()].sort(byKey)) {
    const entry = state.get(key) as TreeEntry
    if (entry.meta.raftIndex === null && isExpired(entry, nowMs)) due.set(key, expiryTombstone(entry))
  }
  return due
}

/** A commit about to be merged: its id and its author date. */
export interface MergeParent {
  readonly commit: string
  /** Author date, seconds since the epoch. */
  readonly authorTimeSec: number
}

/** Same shape as the store's fast-import Signature; the zone is always +0000. */
export interface MergeSignature {
  readonly name: string
  readonly email: string
  readonly timeSec: number
}

export interface MergeCommitMeta {
  /** Sorted by commit id: the canonical parent order. */
  readonly parents: readonly [string, string]
  readonly author: MergeSignature
  readonly committer: MergeSignature
  readonly message: string
}

/** The fixed identity of merge commits: not any node's, so that every node writes the same commit. */
export const mergeIdentity = { name: 'gitconfig-merge', email: 'merge@gitconfig.invalid' } as const

const commitIdPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/**
 * Everything about a merge commit except its tree, as a function of the two heads only: parents sorted by id, the
 * later of the two author dates as both dates (never the local clock), a fixed identity and a message naming the
 * heads. Two nodes merging the same heads into the same tree therefore create the same commit id.
 */
export function mergeCommitMeta (parentA: MergeParent, parentB: MergeParent): MergeCommitMeta {
  for (const p of [parentA, parentB]) {
    if (!commitIdPattern.test(p.commit)) throw new Error(`merge parent is not a full lowercase commit id: ${JSON.stringify(p.commit)}`)
    if (!Number.isSafeInteger(p.authorTimeSec) || p.authorTimeSec < 0) throw new Error(`merge parent ${p.commit} has an invalid date ${p.authorTimeSec}`)
  }
  if (parentA.commit === parentB.commit) throw new Error(`merging a commit with itself: ${parentA.commit}`)
  const [first, second] = parentA.commit < parentB.commit ? [parentA, parentB] : [parentB, parentA]
  const timeSec = Math.max(first.authorTimeSec, second.authorTimeSec)
  const signature: MergeSignature = { ...mergeIdentity, timeSec }
  return {
    parents: [first.commit, second.commit],
    author: signature,
    committer: signature,
    message: `merge ${first.commit.slice(0, 12)} and ${second.commit.slice(0, 12)}\n\nHeads:\n${first.commit}\n${second.commit}\n`
  }
}
