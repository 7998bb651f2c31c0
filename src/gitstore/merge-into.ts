// mergeFrom's work inside the single writer: decide between no-op, fast-forward and merge commit, validate the
// foreign side, gather everything the index and watchers need, write to git, then hand the durable result to the
// store in the same synchronous step (so no local commit can be recorded in between).
import type { Version } from '../types.js'
import type { CatFile } from './cat-file.js'
import { commitDate } from './commit-message.js'
import type { TreeEntry } from './entry.js'
import { readChangeTrailers, type HistoryRow } from './foreign-history.js'
import { runGit, gitOk } from './git-process.js'
import { blobOid, type Change, type ExclusiveWriter } from './group-commit.js'
import type { CurrentEntry, IndexDb } from './index-db.js'
import { compareEntriesTotal, mergeCommitMeta } from './merge.js'
import { mergeEdits, planMerge, type KeyOutcome, type MergePlan, type PlanLimits } from './merge-plan.js'
import { compareVersions } from './hlc.js'
import { mergeHistoryCommitsMax, mergeReadsInFlightMax } from '../limits.js'
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

async function isAncestor (gitDir: string, older: string, newer: string): Promise<boolean> {
  const r = await runGit(gitDir, ['merge-base', '--is-ancestor', older, newer])
  if (r.code > 1) throw transferFailed('malformed', `cannot relate ${older} and ${newer}: ${r.stderr}`)
  return r.code === 0
}

/** Author time (seconds) and subject of a commit. */
async function commitInfo (gitDir: string, commit: string): Promise<{ authorTimeSec: number, committerTimeSec: number, subject: string }> {
  const out = (await gitOk(gitDir, ['show', '-s', '--format=%at%x1f%ct%x1f%s', commit])).toString('utf8').trim()
  const [at, ct, subject] = out.split('\u001f')
  const authorTimeSec = Number(at)
  if (!Number.isSafeInteger(authorTimeSec) || authorTimeSec < 0) throw transferFailed('malformed', `commit ${commit} has an unusable author date`)
  return { authorTimeSec, committerTimeSec: Number(ct), subject: subject ?? '' }
}

type PendingEntry = Omit<CurrentEntry, 'commit'> & { readonly writtenIn: string | null }

/** Values and "written in" commits of the keys that change, read before anything is written. */
async function changedEntries (ctx: MergeContext, plan: MergePlan, history: readonly HistoryRow[]): Promise<PendingEntry[]> {
  const writers = new Map<string, string>()
  for (const r of history) writers.set(`${r.key}\u0000${r.op}\u0000${r.version.wallMs}.${r.version.counter}@${r.version.node}`, r.commit)
  const one = async (o: KeyOutcome): Promise<PendingEntry> => {
    const { meta, valueOid } = o.winner
    let value: Uint8Array | null = null
    if (valueOid !== null) {
      const blob = await ctx.catFile.read(valueOid)
      if (blob === null) throw transferFailed('incomplete', `the value ${valueOid} of ${o.key} is missing`)
      value = new Uint8Array(blob.data)
    }
    const v = meta.version
    const writtenIn = writers.get(`${o.key}\u0000${meta.op}\u0000${v.wallMs}.${v.counter}@${v.node}`) ??
      await ctx.index.commitThatWrote(o.key, meta.op, meta.version)
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
  if (local !== null && (local === foreign || await isAncestor(ctx.gitDir, foreign, local))) {
    return { head: local, outcome: 'contained', changedKeys: 0 }
  }
  const plan = await planMerge(ctx.gitDir, ctx.catFile, local, foreign, ctx.limits)
  const fastForward = local === null || await isAncestor(ctx.gitDir, local, foreign)
  const history = await readChangeTrailers(ctx.gitDir, local === null ? [foreign] : [`^${local}`, foreign], ctx.limits.keyBytesMax, mergeHistoryCommitsMax)
  const foreignInfo = await commitInfo(ctx.gitDir, foreign)
  const pending = await changedEntries(ctx, plan, history)
  ctx.signal?.throwIfAborted()

  let head: string
  let timeSec: number
  let subject: string
  if (fastForward) {
    await writer.fastForward(foreign)
    head = foreign
    timeSec = foreignInfo.committerTimeSec
    subject = foreignInfo.subject
  } else {
    const localInfo = await commitInfo(ctx.gitDir, local as string)
    const meta = mergeCommitMeta({ commit: local as string, authorTimeSec: localInfo.authorTimeSec }, { commit: foreign, authorTimeSec: foreignInfo.authorTimeSec })
    head = await writer.commitWithParents({
      author: meta.author,
      committer: meta.committer,
      message: meta.message,
      parents: meta.parents,
      files: mergeEdits(plan, meta.parents[0] === local)
    })
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
    entries: pending.map(({ writtenIn, ...e }) => ({ ...e, commit: writtenIn ?? head })),
    cleared,
    history,
    maxVersion,
    superseded
  })
  return { head, outcome: fastForward ? 'fast-forward' : 'merged', changedKeys: pending.length }
}
