// One replica of the replication simulation: a durable state map (key -> TreeEntry), a hybrid logical clock on
// the replica's own skewed wall clock, and the replication protocol of DESIGN.md "Convergence" reduced to its
// logic: announce the head after every change (gossip), fetch the state behind an unknown head from the peer that
// announced it, merge, and exchange heads on (re)connect and periodically (anti-entropy). A head here is a digest
// of the state, standing in for the commit id the git store would announce.
import { createHash } from 'node:crypto'
import { encodeMeta, type TreeEntry } from '../../src/gitstore/entry.js'
import { HybridLogicalClock, compareVersions } from '../../src/gitstore/hlc.js'
import type { Version } from '../../src/types.js'
import { diffStates, expireDue, liveEntry, type EntryChange, type KeyState } from '../../src/gitstore/merge.js'

export type MergeFn = (a: KeyState, b: KeyState) => Map<string, TreeEntry>
/** The expiry tombstones due in a state at a time (expireDue, unless a test injects a broken one). */
export type ExpireFn = (state: KeyState, nowMs: number) => Map<string, TreeEntry>

export type ReplicaMessage =
  /** Gossip of a new head, or the answer to a sync. */
  | { readonly type: 'head', readonly head: string }
  /** Anti-entropy: "here is my head, tell me yours". */
  | { readonly type: 'sync', readonly head: string }
  /** Asks the receiver for its state. */
  | { readonly type: 'fetch' }
  /** The sender's state at the time of sending, and its head. */
  | { readonly type: 'state', readonly head: string, readonly state: KeyState }

/** Heads remembered as already merged; older ones are forgotten, which costs at most a redundant fetch. */
export const seenHeadsMax = 256

export type Send = (to: number, msg: ReplicaMessage) => void

/** Called with every change of a replica's state before it is adopted; the simulation checks invariants here. */
export type StateChangeCheck = (replica: Replica, changes: readonly EntryChange[]) => void

export function stateDigest (state: KeyState): string {
  const hash = createHash('sha1')
  for (const key of [...state.keys()].sort()) {
    const e = state.get(key) as TreeEntry
    hash.update(`${key}\0${encodeMeta(e.meta)}${e.valueOid ?? '-'}\n`)
  }
  return hash.digest('hex')
}

export class Replica {
  state: KeyState = new Map()
  head: string = stateDigest(this.state)
  up = true
  skewMs: number
  private clock: HybridLogicalClock
  private readonly seenHeads = new Map<string, true>()
  private readonly peers: number[]

  constructor (readonly id: number, replicaCount: number, skewMs: number, private readonly trueTimeMs: () => number,
    private readonly merge: MergeFn, private readonly expireFn: ExpireFn = expireDue,
    private readonly onChange: StateChangeCheck = () => {}) {
    this.skewMs = skewMs
    this.clock = this.newClock()
    this.peers = Array.from({ length: replicaCount }, (_, i) => i).filter(i => i !== id)
    this.remember(this.head)
  }

  get name (): string { return `r${this.id}` }

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

  /** Replaces the state; when it changed, takes a new head and announces it to every peer. */
  private adopt (next: KeyState, send: Send): boolean {
    const changes = diffStates(this.state, next)
    if (changes.length === 0) return false
    this.onChange(this, changes)
    this.state = next
    this.head = stateDigest(next)
    this.remember(this.head)
    for (const p of this.peers) send(p, { type: 'head', head: this.head })
    return true
  }

  /** A plain write, acknowledged once it is in the (durable) state. Returns the entry written. */
  write (key: string, op: 'set' | 'delete', ttlMs: number | null, valueOid: string, author: string, send: Send): TreeEntry {
    const version = this.clock.now()
    const entry: TreeEntry = {
      meta: { op, version, expiresAtMs: op === 'set' && ttlMs !== null ? version.wallMs + ttlMs : null, author, raftIndex: null },
      valueOid: op === 'set' ? valueOid : null
    }
    this.adopt(this.merge(this.state, new Map([[key, entry]])), send)
    return entry
  }

  /** What a client reading `key` here gets: the live entry, or null (absent, deleted or expired by our clock). */
  read (key: string): TreeEntry | null {
    return liveEntry(this.state.get(key), this.nowMs())
  }

  /** Commits the expiry tombstones due by our clock. */
  expire (send: Send): boolean {
    const due = this.expireFn(this.state, this.nowMs())
    return due.size > 0 && this.adopt(this.merge(this.state, due), send)
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
        send(from, { type: 'state', head: this.head, state: this.state })
        return
      case 'state':
        this.observeVersions(msg.state)
        this.adopt(this.merge(this.state, msg.state), send)
        this.remember(msg.head)
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
