// mergeFrom's work inside the single writer: decide between no-op, fast-forward and merge commit, validate the
// foreign side, gather everything the index and watchers need, write to git, then hand the durable result to the
// store in the same synchronous step (so no local commit can be recorded in between).
import type { Version } from '../types.js'
import type { CatFile } from './cat-file.js'
import { commitDate } from './commit-message.js'
import type { TreeEntry } from './entry.js'
import { chainSince, readCommitObject, type CommitObject } from './commit-object.js'
import { mergeParents, type Frontiers } from './frontier.js'
import { historyRowsOf, readChangeTrailers, type HistoryRow } from './foreign-history.js'
import { blobOid, type Change, type ExclusiveWriter } from './group-commit.js'
import type { CurrentEntry, IndexDb } from './index-db.js'
import { compareEntriesTotal, decideHead, joinFrontiers, type HeadDecision, type MergeParent } from './merge.js'
import { mergeEdits, planMerge, type KeyOutcome, type MergePlan, type PlanLimits } from './merge-plan.js'
import { compareVersions } from './hlc.js'
import { mergeChainCommitsMax, mergeFileEditsMax, mergeHistoryCommitsMax, mergeNewTreesMax, mergeParentsMax, mergeReadsInFlightMax } from '../limits.js'
import { mergedTrees, writeMergeCommit } from './merge-trees.js'
import { transferFailed } from './pack-transfer.js'

export type MergeOutcome = 'contained' | 'fast-forward' | 'merged'

export interface MergeResult {
  readonly head: string
  readonly outcome: MergeOutcome
  readonly changedKeys: number
}

/** A merge or fast-forward that is durable on main. */
export interface AppliedMerge {
  readonly commit: string
  readonly date: string
  readonly message: string
  /** New entries of the keys whose entry on main changed, in key order. */
  readonly entries: readonly CurrentEntry[]
  /** TTL deadlines of the entries they replaced, as [deadlineMs, key]. */
  readonly cleared: ReadonlyArray<readonly [number, string]>
  readonly history: readonly HistoryRow[]
  /** The highest version merged in (null when no key changed). */
  readonly maxVersion: Version | null
  /** Queued local changes that lost to a merged entry: committed for their history, not into the tree. */
  readonly superseded: readonly Change[]
}

export interface MergeContext {
  readonly gitDir: string
  readonly catFile: CatFile
  readonly frontiers: Frontiers
  readonly index: IndexDb
  readonly limits: PlanLimits
  readonly signal?: AbortSignal
  /** Called synchronously right after the git write is durable. */
  readonly applied: (merge: AppliedMerge) => void
}

/** History rows of `chain` (newest first, single-parent commits), oldest first like readChangeTrailers. */
function chainHistory (chain: readonly CommitObject[], keyBytesMax: number): HistoryRow[] {
  const rows: HistoryRow[] = []
  for (let i = chain.length - 1; i >= 0; i--) {
    const c = chain[i]
    rows.push(...historyRowsOf(c.id, c.committerTimeSec, c.subject, c.body, keyBytesMax))
  }
  return rows
}

type PendingEntry = Omit<CurrentEntry, 'commit'> & { readonly writtenIn: string | null }

/** Per key, the merged history rows that changed it. */
function rowsByKey (history: readonly HistoryRow[]): Map<string, HistoryRow | HistoryRow[]> {
  const rowsOfKey = new Map<string, HistoryRow | HistoryRow[]>()
  for (const r of history) {
    const known = rowsOfKey.get(r.key)
    if (known === undefined) rowsOfKey.set(r.key, r)
    else if (Array.isArray(known)) known.push(r)
    else rowsOfKey.set(r.key, [known, r])
  }
  return rowsOfKey
}

/**
 * Values and "written in" commits of the keys that change, read before anything is written. The history may still
 * be on its way (`git log` runs alongside the plan and these reads); it is needed only once a value is in.
 */
async function changedEntries (ctx: MergeContext, plan: MergePlan, history: Promise<readonly HistoryRow[]>): Promise<PendingEntry[]> {
  // The commit that wrote each key's winning entry, found among the merged history rows by op and version. Rows per
  // key rather than one string per row and lookup: a partition's merge has 10,000 of each.
  const byKey = history.then(rowsByKey)
  byKey.catch(() => {}) // not awaited when no key changes; the caller awaits the history itself
  const writerOf = (rowsOfKey: Map<string, HistoryRow | HistoryRow[]>, key: string, op: string, v: Version): string | undefined => {
    const rows = rowsOfKey.get(key)
    if (rows === undefined) return undefined
    const list = Array.isArray(rows) ? rows : [rows]
    // The last matching row, as the map of one row per string key kept before.
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]
      if (r.op === op && r.version.wallMs === v.wallMs && r.version.counter === v.counter && r.version.node === v.node) return r.commit
    }
    return undefined
  }
  const one = async (o: KeyOutcome): Promise<PendingEntry> => {
    const { meta, valueOid } = o.winner
    let value: Uint8Array | null = null
    if (valueOid !== null) {
      const blob = await ctx.catFile.read(valueOid)
      if (blob === null || blob.type !== 'blob') throw transferFailed('incomplete', `the value ${valueOid} of ${o.key} is missing`)
      if (blob.data.length > ctx.limits.valueBytesMax) {
        throw transferFailed('malformed', `the value of ${o.key} is ${blob.data.length} bytes; the limit is ${ctx.limits.valueBytesMax}`)
      }
      value = new Uint8Array(blob.data)
    }
    const writtenIn = writerOf(await byKey, o.key, meta.op, meta.version) ?? await ctx.index.commitThatWrote(o.key, meta.op, meta.version)
    return { key: o.key, meta, valueOid, value, writtenIn }
  }
  const out: PendingEntry[] = []
  for (let i = 0; i < plan.changed.length; i += mergeReadsInFlightMax) {
    out.push(...await Promise.all(plan.changed.slice(i, i + mergeReadsInFlightMax).map(one)))
  }
  return out
}

/** The frontier joined with the dates the merge commit's metadata takes; at most mergeParentsMax commits. */
async function withDates (catFile: CatFile, joined: readonly string[]): Promise<MergeParent[]> {
  if (joined.length > mergeParentsMax) {
    throw transferFailed('malformed', `a merge would join ${joined.length} write commits; the limit is ${mergeParentsMax}`)
  }
  return await mergeParents(catFile, joined)
}

/**
 * What main becomes with `foreign`: the canonical head of the joined frontiers (merge.ts decideHead). The common
 * case, a peer's few new commits on top of main, is recognised from the commit objects alone.
 */
async function decide (ctx: MergeContext, local: CommitObject | null, foreign: CommitObject): Promise<{ decision: HeadDecision, chain: CommitObject[] | null }> {
  const chain = local === null ? null : await chainSince(ctx.catFile, foreign, local.id, mergeChainCommitsMax)
  if (chain !== null) return { decision: { kind: 'fast-forward', to: foreign.id }, chain }
  const foreignFrontier = await ctx.frontiers.of(foreign.id)
  const localFrontier = local === null ? [] : await ctx.frontiers.of(local.id)
  const union = joinFrontiers(localFrontier, foreignFrontier)
  const joined = 'joined' in union ? union.joined : await ctx.frontiers.independent(union.candidates)
  const decision = decideHead(local === null ? null : { commit: local.id, tree: local.tree }, { commit: foreign.id, tree: foreign.tree },
    await withDates(ctx.catFile, joined))
  return { decision, chain: null }
}

/**
 * Joins `foreign` (a complete local commit) into main; runs inside the writer (GroupCommitter.runExclusive). Main
 * ends on the canonical head of every write commit the two hold (docs/merge.md): unchanged when it already is,
 * fast-forwarded when the foreign head (or one write commit of it) is, else a new merge commit whose tree is the
 * per-key join of the two trees.
 */
export async function mergeInto (ctx: MergeContext, writer: ExclusiveWriter, foreign: string): Promise<MergeResult> {
  ctx.signal?.throwIfAborted()
  const local = writer.head
  if (local === foreign) return { head: local, outcome: 'contained', changedKeys: 0 }
  const foreignCommit = await readCommitObject(ctx.catFile, foreign)
  const localCommit = local === null ? null : await readCommitObject(ctx.catFile, local)
  const { decision, chain } = await decide(ctx, localCommit, foreignCommit)
  if (decision.kind === 'contained') return { head: local as string, outcome: 'contained', changedKeys: 0 }
  // The commit whose tree is joined with main's: the foreign head, or the one write commit main moves to.
  const source = decision.kind === 'fast-forward' && decision.to !== foreign ? await readCommitObject(ctx.catFile, decision.to) : foreignCommit
  // The history (`git log` unless the commit objects already gave it) is read while the trees are compared: the
  // two do not depend on each other, and after a partition each takes a git process and some 100 ms.
  const historyRead: Promise<readonly HistoryRow[]> = chain !== null && chain.every((c) => c.plain)
    ? Promise.resolve(chainHistory(chain, ctx.limits.keyBytesMax))
    : readChangeTrailers(ctx.gitDir, local === null ? [source.id] : [`^${local}`, source.id], ctx.limits.keyBytesMax, mergeHistoryCommitsMax)
  historyRead.catch(() => {}) // awaited below; a plan that fails first must not leave its rejection unhandled
  const plan = await planMerge(ctx.gitDir, ctx.catFile, localCommit?.tree ?? null, source.tree, source.id, ctx.limits)
  const pending = await changedEntries(ctx, plan, historyRead)
  const history = await historyRead
  ctx.signal?.throwIfAborted()

  let head: string
  let timeSec: number
  let subject: string
  if (decision.kind === 'fast-forward') {
    await writer.fastForward(source.id)
    head = source.id
    timeSec = source.committerTimeSec
    subject = source.subject
  } else {
    const meta = decision.meta
    // Mostly whole subtrees from one side: a few new trees and the commit, then main moves to it (decision 0456).
    // Otherwise fast-import starts from main's tree (whichever parent comes first) and takes the foreign winners.
    const edits = localCommit === null ? [] : mergeEdits(plan, true)
    const built = edits.length > mergeFileEditsMax ? mergedTrees(plan, mergeNewTreesMax) : null
    if (built !== null) {
      head = await writeMergeCommit(ctx.gitDir, built, meta)
      await writer.fastForward(head)
    } else {
      head = await writer.commitWithParents({
        author: meta.author, committer: meta.committer, message: meta.message, parents: meta.parents,
        rootTree: localCommit?.tree ?? source.tree, files: edits
      })
    }
    timeSec = meta.committer.timeSec
    subject = meta.message.split('\n')[0]
  }

  const winners = new Map<string, TreeEntry>(plan.changed.map((o) => [o.key, o.winner]))
  // Queued local writes that lose to a merged entry are still committed (their history and their writers' replies
  // name a commit that records them), but leave the merged entry in the tree: see GroupCommitter.markSuperseded.
  const superseded = writer.markSuperseded((c) => {
    const w = winners.get(c.key)
    return w !== undefined && compareEntriesTotal(w, { meta: c.meta, valueOid: c.value === null ? null : blobOid(c.value) }) > 0
  })
  let maxVersion: Version | null = null
  for (const e of pending) if (maxVersion === null || compareVersions(e.meta.version, maxVersion) > 0) maxVersion = e.meta.version
  const cleared = plan.changed.flatMap((o) => (o.local?.meta.expiresAtMs != null ? [[o.local.meta.expiresAtMs, o.key] as const] : []))
  ctx.applied({
    commit: head,
    date: commitDate(timeSec),
    message: subject,
    // Object literals, not rest/spread: V8 gives each object made by `{ ...rest }` a hidden class of its own,
    // 10,000 of them after a partition (about 250 bytes each and slower property access everywhere after).
    entries: pending.map((e) => ({ key: e.key, meta: e.meta, valueOid: e.valueOid, value: e.value, commit: e.writtenIn ?? head })),
    cleared,
    history,
    maxVersion,
    superseded
  })
  return { head, outcome: decision.kind === 'fast-forward' ? 'fast-forward' : 'merged', changedKeys: pending.length }
}
