// The frontier of a head: the newest write commits (commits with at most one parent) it holds, none an ancestor of
// another. A canonical merge's frontier is its parents; a write commit's is itself. Merges made by an older rule
// (merges of merges) or crafted by a peer are walked through to the write commits below them, so they are flattened
// like any other merge (docs/merge.md "Merge commits").
import type { CatFile } from './cat-file.js'
import { readCommitObject } from './commit-object.js'
import { runGit } from './git-process.js'
import { mergeCommitId, mergeCommitMeta, type MergeParent } from './merge.js'
import { transferFailed } from './pack-transfer.js'
import { mergeFrontierWalkMax, mergeParentsMax } from '../limits.js'

/** Frontiers of merge commits already walked (commits never change, so entries never go stale). */
const frontierCacheMax = 1024

/** Commits as merge parents: each with its author date, which the merge commit's metadata takes. */
export async function mergeParents (catFile: CatFile, commits: readonly string[]): Promise<MergeParent[]> {
  return await Promise.all(commits.map(async (commit) => ({ commit, authorTimeSec: (await readCommitObject(catFile, commit)).authorTimeSec })))
}

export class Frontiers {
  private readonly cache = new Map<string, readonly string[]>()

  constructor (private readonly gitDir: string, private readonly catFile: CatFile) {}

  /** The write commits below `head` through merge commits only (a superset of its frontier), sorted. */
  async below (head: string): Promise<readonly string[]> {
    const known = this.cache.get(head)
    if (known !== undefined) return known
    const writes = new Set<string>()
    const seen = new Set<string>([head])
    const todo = [head]
    let merges = 0
    while (todo.length > 0) {
      const id = todo.pop() as string
      const cached = this.cache.get(id)
      if (cached !== undefined) { for (const w of cached) writes.add(w); continue }
      const c = await readCommitObject(this.catFile, id)
      if (c.parents.length <= 1) { writes.add(id); continue }
      merges += 1
      if (merges > mergeFrontierWalkMax) {
        throw transferFailed('malformed', `${head} reaches more than ${mergeFrontierWalkMax} merge commits before its write commits`, { commit: head })
      }
      for (const p of c.parents) if (!seen.has(p)) { seen.add(p); todo.push(p) }
    }
    const out = [...writes].sort()
    this.remember(head, out)
    return out
  }

  /** The frontier of `head`: `below`, less the commits that are ancestors of others. */
  async of (head: string): Promise<readonly string[]> {
    const below = await this.below(head)
    if (below.length <= 1) return below
    // A canonical merge (its id is the one decideHead gives its parents and tree) was made from a reduced
    // frontier: its parents are the answer without asking git. A crafted one that only looks canonical can at
    // worst make this node's next merge join one commit too many; the union is reduced by git before any merge.
    if (await this.isCanonicalMergeOf(head, below)) return below
    const reduced = await this.independent(below)
    if (reduced.length !== below.length) this.remember(head, reduced)
    return reduced
  }

  /** The commits of `commits` that are not ancestors of another one (git merge-base --independent), sorted. */
  async independent (commits: readonly string[]): Promise<readonly string[]> {
    if (commits.length <= 1) return [...commits]
    if (commits.length > mergeParentsMax * 4) {
      throw transferFailed('malformed', `a merge would join ${commits.length} heads; the limit is ${mergeParentsMax}`)
    }
    const r = await runGit(this.gitDir, ['merge-base', '--independent', ...commits])
    if (r.code !== 0) throw transferFailed('malformed', `cannot relate ${commits.length} heads: ${r.stderr}`)
    return r.stdout.toString('utf8').split('\n').filter((l) => l !== '').sort()
  }

  private async isCanonicalMergeOf (head: string, below: readonly string[]): Promise<boolean> {
    const c = await readCommitObject(this.catFile, head)
    if (c.parents.length !== below.length || c.parents.some((p, i) => p !== below[i])) return false
    return mergeCommitId(c.tree, mergeCommitMeta(...await mergeParents(this.catFile, c.parents))) === head
  }

  private remember (head: string, frontier: readonly string[]): void {
    this.cache.delete(head)
    this.cache.set(head, frontier)
    if (this.cache.size > frontierCacheMax) {
      const oldest = this.cache.keys().next().value
      if (oldest !== undefined) this.cache.delete(oldest)
    }
  }
}
