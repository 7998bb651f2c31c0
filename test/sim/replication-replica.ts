// One replica of the replication simulation: a durable state map (key -> TreeEntry), a hybrid logical clock on
// the replica's own skewed wall clock, and the replication protocol of DESIGN.md "Convergence" reduced to its
// logic: announce the head after every change (gossip), fetch the commit behind an unknown head from the peer that
// announced it, join it into the replica's head with the head rule under test (the store's canonical rule by
// default), and exchange heads on (re)connect and periodically (anti-entropy). Heads are commit ids from a shared
// content-addressed commit graph (commit-graph.ts), so the simulation sees whether replicas agree on commits, not
// only on states.
import type { TreeEntry } from '../../src/gitstore/entry.js'
import { HybridLogicalClock, compareVersions } from '../../src/gitstore/hlc.js'
import type { Version } from '../../src/types.js'
import { commitsExpiry, diffStates, expireDue, liveEntry, type EntryChange, type KeyState } from '../../src/gitstore/merge.js'
import { canonicalHeads, type CommitGraph, type HeadRule, type MergeFn, type SimCommit } from './commit-graph.js'

export type { MergeFn } from './commit-graph.js'
/** The expiry tombstones due in a state at a time (expireDue, unless a test injects a broken one). */
export type ExpireFn = (state: KeyState, nowMs: number) => Map<string, TreeEntry>
/** Whether a replica commits a due expiry itself (commitsExpiry: the writer, others after a takeover time). */
export type ExpiryOwnerFn = (entry: TreeEntry, replica: string, nowMs: number) => boolean

/** Virtual ms a replica waits for the writer's expiry before committing it itself (the store's default is 30 s). */
export const simExpiryTakeoverMs = 1_000

export type ReplicaMessage =
  /** Gossip of a new head, or the answer to a sync. */
  | { readonly type: 'head', readonly head: string }
  /** Anti-entropy: "here is my head, tell me yours". */
  | { readonly type: 'sync', readonly head: string }
  /** Asks the receiver for its state. */
  | { readonly type: 'fetch' }
  /** The sender's head commit at the time of sending (its objects come with it). */
  | { readonly type: 'state', readonly head: string }

/** Heads remembered as already merged; older ones are forgotten, which costs at most a redundant fetch. */
export const seenHeadsMax = 256

export type Send = (to: number, msg: ReplicaMessage) => void

/** Called with every change of a replica's state before it is adopted; the simulation checks invariants here. */
export type StateChangeCheck = (replica: Replica, changes: readonly EntryChange[]) => void

export class Replica {
  private commit: SimCommit
  up = true
  /** Commits this replica wrote (writes, expiries, merges). */
  commitsMade = 0
  skewMs: number
  private clock: HybridLogicalClock
  private readonly seenHeads = new Map<string, true>()
  private readonly peers: number[]

  constructor (readonly id: number, replicaCount: number, skewMs: number, private readonly trueTimeMs: () => number,
    private readonly graph: CommitGraph, private readonly merge: MergeFn, private readonly expireFn: ExpireFn = expireDue,
    private readonly onChange: StateChangeCheck = () => {}, private readonly headRule: HeadRule = canonicalHeads,
    private readonly expiryOwner: ExpiryOwnerFn = (e, r, now) => commitsExpiry(e.meta, r, now, simExpiryTakeoverMs)) {
    this.commit = graph.root
    this.skewMs = skewMs
    this.clock = this.newClock()
    this.peers = Array.from({ length: replicaCount }, (_, i) => i).filter(i => i !== id)
    this.remember(this.head)
  }

  get name (): string { return `r${this.id}` }
  get head (): string { return this.commit.id }
  get state (): KeyState { return this.commit.state }

  /** This replica's wall clock: true time plus its skew. */
  nowMs (): number { return this.trueTimeMs() + this.skewMs }

  private newClock (): HybridLogicalClock {
    return new HybridLogicalClock(`r${this.id}`, () => this.nowMs())
  }

  private remember (head: string): void {
    this.seenHeads.delete(head)
    this.seenHeads.set(head, true)
    if (this.seenHeads.size > seenHeadsMax) {
      const oldest = this.seenHeads.keys().next()
      if (oldest.done !== true) this.seenHeads.delete(oldest.value)
    }
  }

  /** Moves to a new head commit (checking the state change) and announces it to every peer. */
  private adopt (next: SimCommit, send: Send): boolean {
    if (next.id === this.commit.id) return false
    const changes = diffStates(this.state, next.state)
    if (changes.length > 0) this.onChange(this, changes)
    this.commit = next
    this.remember(next.id)
    for (const p of this.peers) send(p, { type: 'head', head: next.id })
    return true
  }

  /** A commit of this replica's own on top of its head. */
  private commitOwn (state: KeyState, send: Send): boolean {
    this.commitsMade += 1
    return this.adopt(this.graph.write(this.commit, this.name, state, Math.max(0, Math.floor(this.nowMs() / 1000))), send)
  }

  /** A plain write, acknowledged once it is in the (durable) state. Returns the entry written. */
  write (key: string, op: 'set' | 'delete', ttlMs: number | null, valueOid: string, author: string, send: Send): TreeEntry {
    const version = this.clock.now()
    const entry: TreeEntry = {
      meta: { op, version, expiresAtMs: op === 'set' && ttlMs !== null ? version.wallMs + ttlMs : null, author, raftIndex: null },
      valueOid: op === 'set' ? valueOid : null
    }
    this.commitOwn(this.merge(this.state, new Map([[key, entry]])), send)
    return entry
  }

  /** What a client reading `key` here gets: the live entry, or null (absent, deleted or expired by our clock). */
  read (key: string): TreeEntry | null {
    return liveEntry(this.state.get(key), this.nowMs())
  }

  /** Commits the expiry tombstones due by our clock that are ours to commit. */
  expire (send: Send): boolean {
    const now = this.nowMs()
    const due = new Map([...this.expireFn(this.state, now)].filter(([k]) => this.expiryOwner(this.state.get(k) as TreeEntry, this.name, now)))
    return due.size > 0 && this.commitOwn(this.merge(this.state, due), send)
  }

  /** Anti-entropy towards one peer (periodic, or because the link to it came back). */
  sync (peer: number, send: Send): void {
    send(peer, { type: 'sync', head: this.head })
  }

  syncAll (send: Send): void {
    for (const p of this.peers) this.sync(p, send)
  }

  pickPeer (pick: (peers: readonly number[]) => number): number {
    return pick(this.peers)
  }

  receive (from: number, msg: ReplicaMessage, send: Send): void {
    switch (msg.type) {
      case 'head':
        if (!this.seenHeads.has(msg.head)) send(from, { type: 'fetch' })
        return
      case 'sync':
        if (!this.seenHeads.has(msg.head)) send(from, { type: 'fetch' })
        if (msg.head !== this.head) send(from, { type: 'head', head: this.head })
        return
      case 'fetch':
        send(from, { type: 'state', head: this.head })
        return
      case 'state': {
        const foreign = this.graph.get(msg.head)
        this.observeVersions(foreign.state)
        const next = this.headRule(this.graph, this.commit, foreign, this.merge)
        if (next.wrote) this.commitsMade += 1
        this.adopt(next.head, send)
        this.remember(msg.head)
      }
    }
  }

  /** Versions merged in move our clock forward, so our next write orders after everything we have seen. */
  private observeVersions (state: KeyState): void {
    let max: Version | null = null
    for (const e of state.values()) if (max === null || compareVersions(e.meta.version, max) > 0) max = e.meta.version
    if (max !== null) this.clock.observe(max)
  }

  crash (): void {
    this.up = false
  }

  /** Back from a crash: the durable state is intact; the clock restarts from the versions in it (as at start-up). */
  restart (send: Send, antiEntropy: boolean): void {
    this.up = true
    this.clock = this.newClock()
    this.observeVersions(this.state)
    if (antiEntropy) this.syncAll(send)
  }
}
