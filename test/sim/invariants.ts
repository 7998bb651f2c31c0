// Raft's safety properties (Raft §5.2, Figure 3), checked while the simulation runs:
//   election safety       at most one leader per term
//   log matching          entries with the same index and term hold the same data and follow the same term
//   leader completeness   a new leader's log holds every entry committed before it
//   state machine safety  no two nodes apply different entries at the same index
// Each violation is recorded with the virtual time and a description; the run reports them by kind.
import type { Entry, NodeId } from '../../src/raft/types.js'
import type { SimNode } from './sim-node.js'

export type ViolationKind =
  | 'election-safety' | 'log-matching' | 'leader-completeness' | 'state-machine-safety' | 'lock-exclusivity'
  | 'linearizability' | 'liveness' | 'crash'

export interface Violation { readonly kind: ViolationKind, readonly timeMs: number, readonly detail: string }

export function hashBytes (b: Uint8Array): number {
  // FNV-1a: enough to tell entries apart in a simulation.
  let h = 0x811c9dc5
  for (let i = 0; i < b.byteLength; i++) {
    h ^= b[i]
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

interface AppliedEntry { readonly term: number, readonly hash: number, readonly type: Entry['type'] }

export class RaftInvariants {
  private readonly leaderOfTerm = new Map<number, NodeId>()
  /** index -> term -> {hash, prevTerm} of every entry ever persisted anywhere. */
  private readonly persisted = new Map<number, Map<number, { hash: number, prevTerm: number | undefined }>>()
  readonly applied = new Map<number, AppliedEntry>()
  appliedMax = 0
  private readonly checkedLeaders = new Set<string>()
  private readonly reportedTerms = new Set<number>()

  constructor (private readonly report: (kind: ViolationKind, detail: string) => void) {}

  /** After every event: election safety, and leader completeness for each leader seen for the first time. */
  checkLeaders (nodes: readonly SimNode[]): void {
    for (const n of nodes) {
      const r = n.raw?.raft
      if (r === undefined || r.role !== 'leader') continue
      const seen = this.leaderOfTerm.get(r.term)
      if (seen === undefined) this.leaderOfTerm.set(r.term, n.id)
      else if (seen !== n.id && !this.reportedTerms.has(r.term)) {
        this.reportedTerms.add(r.term)
        this.report('election-safety', `term ${r.term} has two leaders: ${seen} and ${n.id}`)
      }
      const key = `${n.id}@${r.term}`
      if (!this.checkedLeaders.has(key)) {
        this.checkedLeaders.add(key)
        this.checkLeaderCompleteness(n)
      }
    }
  }

  private checkLeaderCompleteness (n: SimNode): void {
    const log = n.raw?.raft.log
    if (log === undefined) return
    for (let i = Math.max(1, log.firstIndex()); i <= this.appliedMax; i++) {
      const committed = this.applied.get(i)
      if (committed === undefined) continue
      const t = log.term(i)
      if (t !== committed.term) {
        this.report('leader-completeness', `new leader ${n.id} (term ${n.raw?.raft.term}) has term ${t ?? 'none'} at committed index ${i} (committed term ${committed.term})`)
        return
      }
    }
  }

  persistedEntries (n: SimNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const hash = hashBytes(e.data)
      const prevTerm = n.storage.term(e.index - 1)
      let byTerm = this.persisted.get(e.index)
      if (byTerm === undefined) {
        byTerm = new Map()
        this.persisted.set(e.index, byTerm)
      }
      const seen = byTerm.get(e.term)
      if (seen === undefined) {
        byTerm.set(e.term, { hash, prevTerm })
        continue
      }
      if (seen.hash !== hash) {
        this.report('log-matching', `${n.id} persisted a different entry at index ${e.index} term ${e.term}`)
      } else if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        this.report('log-matching', `${n.id}: entry ${e.index}/${e.term} follows term ${prevTerm}, elsewhere term ${seen.prevTerm}`)
      }
    }
  }

  /** Returns true when this is the first application of the index anywhere. */
  appliedEntry (n: SimNode, e: Entry): boolean {
    const seen = this.applied.get(e.index)
    const hash = hashBytes(e.data)
    if (seen === undefined) {
      this.applied.set(e.index, { term: e.term, hash, type: e.type })
      if (e.index > this.appliedMax) this.appliedMax = e.index
      return true
    }
    if (seen.term !== e.term || seen.hash !== hash || seen.type !== e.type) {
      this.report('state-machine-safety', `${n.id} applied ${e.index}/${e.term}, but ${e.index}/${seen.term} was applied elsewhere`)
    }
    return false
  }
}
