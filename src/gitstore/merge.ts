// The merge of two replicas' states, as pure functions over maps (DESIGN.md "Two paths for writes", "Convergence",
// "TTL"). A state maps each key to its TreeEntry, tombstones included. The git store turns trees into such maps,
// calls these functions, and writes the result as a merge commit whose metadata also comes from here, so two nodes
// that merge the same heads produce byte-identical commits.
//
// The merge is a join on a total order of entries, applied per key: the result keeps, for every key, the greatest
// entry either side holds. Joins of a total order are commutative, associative and idempotent, which is exactly what
// convergence needs: replicas may exchange states in any order, any number of times, and still agree.
import { createHash } from 'node:crypto'
import { compareEntries, encodeMeta, isTombstone, type KeyMeta, type TreeEntry } from './entry.js'

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

/**
 * Whether `node` commits the expiry of a value written with `meta` at nowMs: the node that wrote it does from the
 * deadline on, any other node only `takeoverMs` later (the writer is down or cut off). So a healthy cluster commits
 * each expiry once, and takeovers write the identical tombstone (expiryTombstone), which merges to the same state.
 * Reads hide the value from the deadline on everywhere, committed or not. Keys written through Raft never.
 */
export function commitsExpiry (meta: KeyMeta, node: string, nowMs: number, takeoverMs: number): boolean {
  if (meta.expiresAtMs === null || meta.expiresAtMs > nowMs || meta.raftIndex !== null) return false
  return meta.version.node === node || nowMs >= meta.expiresAtMs + takeoverMs
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
  /** Sorted by commit id: the canonical parent order. At least two. */
  readonly parents: readonly string[]
  readonly author: MergeSignature
  readonly committer: MergeSignature
  readonly message: string
}

/** The fixed identity of merge commits: not any node's, so that every node writes the same commit. */
export const mergeIdentity = { name: 'gitconfig-merge', email: 'merge@gitconfig.invalid' } as const

const commitIdPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

function byId (a: MergeParent, b: MergeParent): number {
  return a.commit < b.commit ? -1 : a.commit > b.commit ? 1 : 0
}

/**
 * Everything about a merge commit except its tree, as a function of the set of commits it joins: parents sorted by
 * id, the latest of their author dates as both dates (never the local clock), a fixed identity and a message naming
 * them. Nodes that join the same write commits into the same tree therefore create the same commit id, whichever
 * heads they merged on the way (docs/merge.md "Merge commits").
 */
export function mergeCommitMeta (...joined: readonly MergeParent[]): MergeCommitMeta {
  for (const p of joined) {
    if (!commitIdPattern.test(p.commit)) throw new Error(`merge parent is not a full lowercase commit id: ${JSON.stringify(p.commit)}`)
    if (!Number.isSafeInteger(p.authorTimeSec) || p.authorTimeSec < 0) throw new Error(`merge parent ${p.commit} has an invalid date ${p.authorTimeSec}`)
  }
  const sorted = [...joined].sort(byId)
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].commit === sorted[i - 1].commit) throw new Error(`merging a commit with itself: ${sorted[i].commit}`)
  }
  if (sorted.length < 2) throw new Error('a merge joins at least two commits')
  const timeSec = Math.max(...sorted.map((p) => p.authorTimeSec))
  const signature: MergeSignature = { ...mergeIdentity, timeSec }
  const short = sorted.map((p) => p.commit.slice(0, 12))
  const subject = short.length === 2 ? `merge ${short[0]} and ${short[1]}` : `merge ${short.slice(0, -1).join(', ')} and ${short[short.length - 1]}`
  return {
    parents: sorted.map((p) => p.commit),
    author: signature,
    committer: signature,
    message: `${subject}\n\nHeads:\n${sorted.map((p) => p.commit).join('\n')}\n`
  }
}

/**
 * The id git gives the commit with `tree` and `meta` (SHA-1 object format, no encoding header: what fast-import
 * and commit-tree write for it). A head whose id equals this for its own tree is that canonical merge.
 */
export function mergeCommitId (tree: string, meta: MergeCommitMeta): string {
  const sig = (kind: string, s: MergeSignature): string => `${kind} ${s.name} <${s.email}> ${s.timeSec} +0000\n`
  const body = `tree ${tree}\n${meta.parents.map((p) => `parent ${p}\n`).join('')}${sig('author', meta.author)}${sig('committer', meta.committer)}\n${meta.message}`
  const bytes = Buffer.from(body, 'utf8')
  return createHash('sha1').update(`commit ${bytes.length}\u0000`).update(bytes).digest('hex')
}

/**
 * The join of two frontiers (the newest write commits each head holds, none an ancestor of another) is their union
 * less the commits that are ancestors of others. When the foreign frontier adds nothing (a node that already holds
 * every write of the head it was sent) that is the local frontier, known at once (`joined`); otherwise the caller
 * reduces `candidates` with its ancestry test (git merge-base --independent in the store). Sorted by id.
 */
export function joinFrontiers (local: readonly string[], foreign: readonly string[]): { readonly joined: string[] } | { readonly candidates: string[] } {
  const mine = new Set(local)
  if (foreign.every((c) => mine.has(c))) return { joined: [...mine].sort() }
  return { candidates: [...new Set([...local, ...foreign])].sort() }
}

/** A head as the decision sees it: its id and tree. */
export interface HeadTree {
  readonly commit: string
  readonly tree: string
}

/** What a node does with a foreign head (docs/merge.md "Merge commits"). */
export type HeadDecision =
  | { readonly kind: 'contained' }
  | { readonly kind: 'fast-forward', readonly to: string }
  | { readonly kind: 'merge', readonly meta: MergeCommitMeta }

/**
 * The canonical head for `joined` (the joined frontier, with author dates): the one write commit when it is alone,
 * else the merge commit of them all. Contained when main already is that commit; a fast-forward when the foreign
 * head (or, for one write commit, that commit) is it; a merge commit to write otherwise. Main is never kept when
 * it is not canonical (a merge made by an older rule, or crafted by a peer): it moves to the canonical commit, so
 * every node holding the same writes ends on the same head.
 */
export function decideHead (local: HeadTree | null, foreign: HeadTree, joined: readonly MergeParent[]): HeadDecision {
  if (joined.length === 0) throw new Error('a head holds at least one write commit')
  if (joined.length === 1) {
    const only = joined[0].commit
    return only === local?.commit ? { kind: 'contained' } : { kind: 'fast-forward', to: only }
  }
  const meta = mergeCommitMeta(...joined)
  if (local !== null && mergeCommitId(local.tree, meta) === local.commit) return { kind: 'contained' }
  if (mergeCommitId(foreign.tree, meta) === foreign.commit) return { kind: 'fast-forward', to: foreign.commit }
  return { kind: 'merge', meta }
}
