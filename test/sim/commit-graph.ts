// Commit identity for the replication simulation: content-addressed commits (write commits and merge commits) in
// one store shared by every replica, as git objects are the same bytes everywhere. Merge commit ids are computed
// with the store's own functions (mergeCommitMeta, mergeCommitId over a digest standing for the tree), so two
// replicas that make "the same" merge get the same id exactly when the git store would.
import { createHash } from 'node:crypto'
import { encodeMeta, type TreeEntry } from '../../src/gitstore/entry.js'
import { decideHead, joinFrontiers, mergeCommitId, mergeCommitMeta, type KeyState } from '../../src/gitstore/merge.js'

export interface SimCommit {
  readonly id: string
  readonly parents: readonly string[]
  readonly state: KeyState
  /** A digest of the state, standing for the tree id. */
  readonly tree: string
  readonly authorTimeSec: number
  /** 1 + the highest parent generation: prunes ancestry searches. */
  readonly generation: number
}

export type MergeFn = (a: KeyState, b: KeyState) => Map<string, TreeEntry>

/**
 * How a replica joins a foreign head into its own: its new head (itself when nothing changes), and whether it wrote
 * a merge commit for it (as the store would, even when another replica made the same one).
 */
export type HeadRule = (graph: CommitGraph, local: SimCommit, foreign: SimCommit, merge: MergeFn) => { readonly head: SimCommit, readonly wrote: boolean }

export function stateDigest (state: KeyState): string {
  const hash = createHash('sha1')
  for (const key of [...state.keys()].sort()) {
    const e = state.get(key) as TreeEntry
    hash.update(`${key}\0${encodeMeta(e.meta)}${e.valueOid ?? '-'}\n`)
  }
  return hash.digest('hex')
}

export class CommitGraph {
  private readonly commits = new Map<string, SimCommit>()
  /** Commit ids in creation order of their first creation, with the tick (the checks count merges made when). */
  readonly created: Array<{ readonly id: string, readonly merge: boolean, readonly tick: number }> = []
  readonly root: SimCommit

  constructor (private readonly now: () => number) {
    const state = new Map<string, TreeEntry>()
    this.root = { id: createHash('sha1').update('root').digest('hex'), parents: [], state, tree: stateDigest(state), authorTimeSec: 0, generation: 0 }
    this.commits.set(this.root.id, this.root)
  }

  get (id: string): SimCommit {
    const c = this.commits.get(id)
    if (c === undefined) throw new Error(`unknown commit ${id}`)
    return c
  }

  /** Stores a commit; one that exists already (the same id made elsewhere) is returned as stored. */
  add (id: string, parents: readonly string[], state: KeyState, authorTimeSec: number): SimCommit {
    const known = this.commits.get(id)
    if (known !== undefined) return known
    const generation = 1 + Math.max(...parents.map((p) => this.get(p).generation))
    const c: SimCommit = { id, parents, state, tree: stateDigest(state), authorTimeSec, generation }
    this.commits.set(id, c)
    this.created.push({ id, merge: parents.length > 1, tick: this.now() })
    return c
  }

  /** A write commit: unique to its writer, parent and content. */
  write (parent: SimCommit, writer: string, state: KeyState, authorTimeSec: number): SimCommit {
    const id = createHash('sha1').update(`write\0${parent.id}\0${writer}\0${stateDigest(state)}\0${authorTimeSec}`).digest('hex')
    return this.add(id, [parent.id], state, authorTimeSec)
  }

  /** Whether `a` is an ancestor of (or equal to) `b`. */
  isAncestor (a: string, b: string): boolean {
    const target = this.get(a)
    const seen = new Set<string>()
    const todo = [b]
    while (todo.length > 0) {
      const id = todo.pop() as string
      if (id === a) return true
      if (seen.has(id)) continue
      seen.add(id)
      for (const p of this.get(id).parents) if (this.get(p).generation >= target.generation) todo.push(p)
    }
    return false
  }

  /** The commits of `ids` that are no ancestor of another (git merge-base --independent), sorted. */
  independent (ids: readonly string[]): string[] {
    return ids.filter((a) => !ids.some((b) => b !== a && this.isAncestor(a, b))).sort()
  }

  /** The write commits below `head` through merge commits, less ancestors of others (frontier.ts). */
  frontier (head: string): string[] {
    const writes = new Set<string>()
    const todo = [head]
    const seen = new Set<string>()
    while (todo.length > 0) {
      const id = todo.pop() as string
      if (seen.has(id)) continue
      seen.add(id)
      const c = this.get(id)
      if (c.parents.length <= 1) writes.add(id)
      else todo.push(...c.parents)
    }
    return this.independent([...writes])
  }
}

/**
 * The store's rule (merge-into.ts): join the frontiers, then decideHead. Synchronous here: the graph answers
 * ancestry at once, where the store asks git.
 */
export const canonicalHeads: HeadRule = (graph, local, foreign, merge) => {
  if (foreign.id === local.id) return { head: local, wrote: false }
  const union = joinFrontiers(graph.frontier(local.id), graph.frontier(foreign.id))
  const joined = 'joined' in union ? union.joined : graph.independent(union.candidates)
  const decision = decideHead({ commit: local.id, tree: local.tree }, { commit: foreign.id, tree: foreign.tree },
    joined.map((id) => ({ commit: id, authorTimeSec: graph.get(id).authorTimeSec })))
  switch (decision.kind) {
    case 'contained': return { head: local, wrote: false }
    case 'fast-forward': return { head: graph.get(decision.to), wrote: false }
    case 'merge': {
      const state = merge(local.state, foreign.state)
      return { head: graph.add(mergeCommitId(stateDigest(state), decision.meta), decision.meta.parents, state, decision.meta.author.timeSec), wrote: true }
    }
  }
}

/**
 * The rule before issue 12: a merge commit is a function of the pair of heads that met (parents sorted, the later
 * date); fast-forward when one contains the other. Kept to show that the simulation catches it.
 */
export const pairwiseHeads: HeadRule = (graph, local, foreign, merge) => {
  if (graph.isAncestor(foreign.id, local.id)) return { head: local, wrote: false }
  if (graph.isAncestor(local.id, foreign.id)) return { head: foreign, wrote: false }
  const meta = mergeCommitMeta({ commit: local.id, authorTimeSec: local.authorTimeSec }, { commit: foreign.id, authorTimeSec: foreign.authorTimeSec })
  const state = merge(local.state, foreign.state)
  return { head: graph.add(mergeCommitId(stateDigest(state), meta), meta.parents, state, meta.author.timeSec), wrote: true }
}
