// mergeFrom's work inside the single writer: decide between no-op, fast-forward and merge commit, validate the
// foreign side, gather everything the index and watchers need, write to git, then hand the durable result to the
// store in the same synchronous step (so no local commit can be recorded in between).
import type { Version } from '../types.js'
import type { CatFile } from './cat-file.js'
import { commitDate } from './commit-message.js'
import type { TreeEntry } from './entry.js'
import { chainSince, readCommitObject, type CommitObject } from './commit-object.js'
import { historyRowsOf, readChangeTrailers, type HistoryRow } from './foreign-history.js'
import { runGit } from './git-process.js'
import { blobOid, type Change, type ExclusiveWriter } from './group-commit.js'
import type { CurrentEntry, IndexDb } from './index-db.js'
import { compareEntriesTotal, mergeCommitMeta } from './merge.js'
import { localOnlyEdits, mergeEdits, planMerge, type KeyOutcome, type MergePlan, type PlanLimits } from './merge-plan.js'
import { compareVersions } from './hlc.js'
import { mergeChainCommitsMax, mergeFileEditsMax, mergeHistoryCommitsMax, mergeNewTreesMax, mergeReadsInFlightMax } from '../limits.js'
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
  /** Queued local changes that lost to a merged entry and will not be written (see dropSuperseded). */
  readonly superseded: readonly Change[]
}

export interface MergeContext {
  readonly gitDir: string
  readonly catFile: CatFile
  readonly index: IndexDb
  readonly limits: PlanLimits
  readonly signal?: AbortSignal
  /** Called synchronously right after the git write is durable. */
  readonly applied: (merge: AppliedMerge) => void
}

/**
 * How `foreign` relates to main, with one `git merge-base` (instead of two `--is-ancestor` runs): contained when it
 * is main's merge base with it, a fast-forward when main is, a merge otherwise (unrelated histories included).
 */
async function relate (gitDir: string, local: string, foreign: string): Promise<MergeOutcome> {
  const r = await runGit(gitDir, ['merge-base', local, foreign])
  if (r.code > 1) throw transferFailed('malformed', `cannot relate ${local} and ${foreign}: ${r.stderr}`)
  const base = r.stdout.toString('utf8').trim()
  return base === foreign ? 'contained' : base === local ? 'fast-forward' : 'merged'
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

/** Merges `foreign` (a complete local commit) into main; runs inside the writer (GroupCommitter.runExclusive). */
export async function mergeInto (ctx: MergeContext, writer: ExclusiveWriter, foreign: string): Promise<MergeResult> {
  ctx.signal?.throwIfAborted()
  const local = writer.head
  if (local === foreign) return { head: local, outcome: 'contained', changedKeys: 0 }
  const foreignCommit = await readCommitObject(ctx.catFile, foreign)
  // The common case, a peer's few new commits on top of main, is recognised from the commit objects alone; anything
  // else asks git once.
  const chain = local === null ? null : await chainSince(ctx.catFile, foreignCommit, local, mergeChainCommitsMax)
  const relation: MergeOutcome = local === null || chain !== null ? 'fast-forward' : await relate(ctx.gitDir, local, foreign)
  if (relation === 'contained') return { head: local as string, outcome: 'contained', changedKeys: 0 }
  const localCommit = local === null ? null : await readCommitObject(ctx.catFile, local)
  // The history (`git log` unless the commit objects already gave it) is read while the trees are compared: the
  // two do not depend on each other, and after a partition each takes a git process and some 100 ms.
  const historyRead: Promise<readonly HistoryRow[]> = chain !== null && chain.every((c) => c.plain)
    ? Promise.resolve(chainHistory(chain, ctx.limits.keyBytesMax))
    : readChangeTrailers(ctx.gitDir, local === null ? [foreign] : [`^${local}`, foreign], ctx.limits.keyBytesMax, mergeHistoryCommitsMax)
  historyRead.catch(() => {}) // awaited below; a plan that fails first must not leave its rejection unhandled
  const plan = await planMerge(ctx.gitDir, ctx.catFile, localCommit?.tree ?? null, foreignCommit.tree, foreign, ctx.limits)
  const pending = await changedEntries(ctx, plan, historyRead)
  const history = await historyRead
  ctx.signal?.throwIfAborted()

  let head: string
  let timeSec: number
  let subject: string
  if (relation === 'fast-forward') {
    await writer.fastForward(foreign)
    head = foreign
    timeSec = foreignCommit.committerTimeSec
    subject = foreignCommit.subject
  } else {
    const localInfo = localCommit as CommitObject
    const meta = mergeCommitMeta({ commit: localInfo.id, authorTimeSec: localInfo.authorTimeSec }, { commit: foreign, authorTimeSec: foreignCommit.authorTimeSec })
    const baseIsLocal = meta.parents[0] === local
    // Main's big one-sided directories were not listed (plan.localOnly): from main's tree they need no edit, from
    // the foreign parent's they are whole subtrees, which the tree path reuses without listing them.
    const needsLocalOnly = !baseIsLocal && plan.localOnly.length > 0
    let built = needsLocalOnly ? mergedTrees(plan, mergeNewTreesMax) : null
    let edits: Array<{ path: string, blob: string | null }> = []
    if (built === null) {
      edits = mergeEdits(plan, baseIsLocal)
      if (needsLocalOnly) for (const e of await localOnlyEdits(ctx.gitDir, plan)) edits.push(e)
      else if (edits.length > mergeFileEditsMax) built = mergedTrees(plan, mergeNewTreesMax)
    }
    if (built !== null) {
      // Mostly whole subtrees from one side: a few new trees and the commit, then main moves to it (decision 0456).
      head = await writeMergeCommit(ctx.gitDir, built, meta)
      await writer.fastForward(head)
    } else {
      head = await writer.commitWithParents({ author: meta.author, committer: meta.committer, message: meta.message, parents: meta.parents, files: edits })
    }
    timeSec = meta.committer.timeSec
    subject = meta.message.split('\n')[0]
  }

  const winners = new Map<string, TreeEntry>(plan.changed.map((o) => [o.key, o.winner]))
  const superseded = writer.dropQueued((c) => {
    const w = winners.get(c.key)
    return w !== undefined && compareEntriesTotal(w, { meta: c.meta, valueOid: c.value === null ? null : blobOid(c.value) }) > 0
  }, head)
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
  return { head, outcome: relation, changedKeys: pending.length }
}
