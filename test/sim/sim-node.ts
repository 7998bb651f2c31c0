// One simulated node: the real RawNode over a MemoryStorage (its "disk"), the real KvStateMachine, and the host
// loop of src/raft/raw-node.ts (persist, then send, then apply, then advance). The Ready loop runs a seeded disk
// delay after the input that caused it; a crash in between loses the in-memory Raft state that was never
// persisted, and the messages that depended on it were never sent. The disk itself (MemoryStorage) survives.
import { RawNode } from '../../src/raft/raw-node.js'
import type { RaftFactory, Ready } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import { decodeConfChange } from '../../src/raft/conf-change.js'
import { KvStateMachine, decodeCommand } from '../../src/raft/kv-state-machine.js'
import type { KvCommand, KvResult } from '../../src/raft/kv-state-machine.js'
import type { ConfState, Entry, Message, NodeId } from '../../src/raft/types.js'
import type { SimRandom } from './random.js'

export interface NodeObserver {
  /** Entries were just written to this node's disk. */
  persisted (node: SimNode, entries: readonly Entry[]): void
  /** The node applied a committed entry (result: the state machine's answer for commands). */
  applied (node: SimNode, entry: Entry, cmd: KvCommand | undefined, result: KvResult | undefined): void
  /** The node installed a snapshot. */
  restored (node: SimNode, index: number): void
  send (node: SimNode, m: Message): void
  trace (line: string): void
}

export interface SimNodeOptions {
  readonly electionTicks: number
  readonly heartbeatTicks: number
  /** Take a snapshot and compact once this many entries were applied past the first retained one. */
  readonly compactEveryEntries: number
  /** Entries kept after compaction, for followers slightly behind. */
  readonly retainEntries: number
  /** Byte budget per append message: small values split the log over many messages. */
  readonly messageBytesMax: number
  readonly inflightMessagesMax: number
  readonly factory?: RaftFactory
}

type Waiter = (result: KvResult) => void

export class SimNode {
  readonly storage = new MemoryStorage()
  raw: RawNode | null = null
  sm = new KvStateMachine()
  confState: ConfState = { voters: [], learners: [] }
  /** Client requests waiting for their command to apply here, by "clientId:seq". */
  private proposals = new Map<string, Waiter>()
  /** ReadIndex requests by context, then by read index once the read state arrived. */
  private reads = new Map<string, { key: string, done: Waiter }>()
  private readyReads: Array<{ index: number, key: string, done: Waiter }> = []
  readyPending = false
  /** Incarnation number: bumped by every crash, so events scheduled before it are recognised as stale. */
  incarnation = 0

  constructor (
    readonly id: NodeId,
    private readonly opts: SimNodeOptions,
    private readonly rng: SimRandom,
    private readonly observer: NodeObserver
  ) {}

  get up (): boolean { return this.raw !== null }

  /** Starts (or restarts) from what is on disk. */
  start (bootstrapVoters: readonly NodeId[] | null): void {
    const snap = this.storage.snapshot()
    this.sm = new KvStateMachine()
    this.sm.restore(snap.data)
    this.confState = snap.metadata.confState
    const rng = this.rng
    this.raw = new RawNode({
      id: this.id,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      applied: snap.metadata.index,
      messageBytesMax: this.opts.messageBytesMax,
      inflightMessagesMax: this.opts.inflightMessagesMax,
      random: n => rng.int(0, n - 1)
    }, this.storage, this.opts.factory)
    if (bootstrapVoters !== null) this.raw.bootstrap(bootstrapVoters)
  }

  crash (): void {
    this.raw = null
    this.proposals = new Map()
    this.reads = new Map()
    this.readyReads = []
    this.readyPending = false
    this.incarnation++
  }

  /** Runs the host loop until the node has nothing more to do. */
  processReady (nowMs: number): void {
    this.readyPending = false
    const raw = this.raw
    if (raw === null) return
    while (raw.hasReady()) {
      const rd = raw.ready()
      this.persist(rd)
      for (const m of rd.messages) this.observer.send(this, m)
      this.apply(rd, raw)
      for (const rs of rd.readStates) {
        const req = this.reads.get(ctxKey(rs.context))
        if (req === undefined) continue
        this.reads.delete(ctxKey(rs.context))
        this.readyReads.push({ index: rs.index, key: req.key, done: req.done })
      }
      this.serveReads()
      if (rd.softState !== null) this.observer.trace(`t=${nowMs} ${this.id} ${rd.softState.role} term=${raw.raft.term} lead=${rd.softState.lead || '-'}`)
      raw.advance(rd)
      this.maybeCompact()
    }
  }

  /** Step 1 of the host loop: the disk write (synchronous here). */
  private persist (rd: Ready): void {
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot)
    this.storage.append(rd.entries)
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState)
    if (rd.entries.length > 0) this.observer.persisted(this, rd.entries)
  }

  private apply (rd: Ready, raw: RawNode): void {
    if (rd.snapshot !== null) {
      this.sm.restore(rd.snapshot.data)
      this.confState = rd.snapshot.metadata.confState
      this.observer.restored(this, rd.snapshot.metadata.index)
    }
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') {
        const cc = decodeConfChange(e.data)
        if (cc !== undefined) this.confState = raw.applyConfChange(cc)
        this.sm.skip(e.index)
        this.observer.applied(this, e, undefined, undefined)
        continue
      }
      if (e.data.byteLength === 0) {
        this.sm.skip(e.index)
        this.observer.applied(this, e, undefined, undefined)
        continue
      }
      const result = this.sm.apply(e.index, e.data)
      const cmd = decodeCommand(e.data)
      this.observer.applied(this, e, cmd, result)
      if (cmd === undefined) continue
      const key = `${cmd.clientId}:${cmd.seq}`
      const waiter = this.proposals.get(key)
      if (waiter !== undefined) {
        this.proposals.delete(key)
        waiter(result)
      }
    }
  }

  private serveReads (): void {
    const applied = this.sm.appliedIndex
    const still: typeof this.readyReads = []
    for (const r of this.readyReads) {
      if (r.index <= applied) {
        this.observer.trace(`${this.id} serves read ${r.key} at read index ${r.index} (applied ${applied})`)
        r.done({ op: 'get', value: this.sm.read(r.key) })
      }
      else still.push(r)
    }
    this.readyReads = still
  }

  private maybeCompact (): void {
    const applied = this.sm.appliedIndex
    if (applied - this.storage.firstIndex() < this.opts.compactEveryEntries) return
    if (applied > this.storage.lastIndex()) return
    this.storage.createSnapshot(applied, this.confState, this.sm.snapshot())
    const to = applied - this.opts.retainEntries
    if (to >= this.storage.firstIndex()) this.storage.compact(to)
  }

  /** A client asks this node to run a command through Raft. Returns false when it was not even proposed. */
  submit (cmd: KvCommand, data: Uint8Array, done: Waiter): boolean {
    if (this.raw === null) return false
    const result = this.raw.propose(data)
    if (result === 'dropped') return false
    this.proposals.set(`${cmd.clientId}:${cmd.seq}`, done)
    return true
  }

  /** A client asks for a linearizable read through ReadIndex. */
  read (key: string, context: Uint8Array, done: Waiter): boolean {
    if (this.raw === null) return false
    if (!this.raw.readIndex(context)) return false
    this.reads.set(ctxKey(context), { key, done })
    return true
  }
}

function ctxKey (c: Uint8Array): string {
  return new TextDecoder().decode(c)
}
