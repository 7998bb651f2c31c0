// A tiny synchronous cluster for unit tests (in the manner of etcd's `network` test helper): every node is a real
// RawNode over MemoryStorage, and the host loop (persist, send, apply, advance) runs to quiescence after each action.
// Messages can be dropped per link or filtered by a predicate.
import { RawNode } from '../../src/raft/raw-node.js'
import type { RaftFactory } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import { decodeConfChange } from '../../src/raft/conf-change.js'
import type { Entry, Message, NodeId } from '../../src/raft/types.js'
import type { RaftConfigInput } from '../../src/raft/config.js'
import { SimRandom } from '../sim/random.js'

export interface TestNode {
  readonly id: NodeId
  node: RawNode
  readonly storage: MemoryStorage
  applied: Entry[]
}

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>()
  /** Links that drop every message: "a->b". */
  readonly cut = new Set<string>()
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true
  /** Every message delivered, in order (for assertions). */
  readonly delivered: Message[] = []
  private readonly rng: SimRandom

  constructor (ids: readonly NodeId[], opts: { seed?: number, config?: Partial<RaftConfigInput>, factory?: RaftFactory } = {}) {
    this.rng = new SimRandom(opts.seed ?? 1)
    for (const id of ids) {
      const storage = new MemoryStorage()
      const node = this.makeNode(id, storage, opts.config, opts.factory)
      node.bootstrap(ids)
      this.nodes.set(id, { id, node, storage, applied: [] })
    }
    this.settle()
  }

  makeNode (id: NodeId, storage: MemoryStorage, config: Partial<RaftConfigInput> = {}, factory?: RaftFactory): RawNode {
    const rng = this.rng.fork()
    return new RawNode({ electionTicks: 10, heartbeatTicks: 1, ...config, id, random: n => rng.int(0, n - 1) }, storage, factory)
  }

  get (id: NodeId): TestNode {
    const n = this.nodes.get(id)
    if (n === undefined) throw new Error(`no node ${id}`)
    return n
  }

  raft (id: NodeId): RawNode['raft'] { return this.get(id).node.raft }

  isolate (id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue
      this.cut.add(`${id}->${other}`)
      this.cut.add(`${other}->${id}`)
    }
  }

  heal (): void { this.cut.clear() }

  /** Runs every node's Ready loop and delivers messages until nothing is left to do. */
  settle (maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const outbox: Message[] = []
      for (const n of this.nodes.values()) {
        while (n.node.hasReady()) {
          const rd = n.node.ready()
          if (rd.hardState !== null) n.storage.setHardState(rd.hardState)
          if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot)
          n.storage.append(rd.entries)
          outbox.push(...rd.messages)
          for (const e of rd.committedEntries) {
            if (e.type === 'confChange') {
              const cc = decodeConfChange(e.data)
              if (cc !== undefined) n.node.applyConfChange(cc)
            }
            n.applied.push(e)
          }
          n.node.advance(rd)
        }
      }
      if (outbox.length === 0) return
      for (const m of outbox) this.deliver(m)
    }
    throw new Error('cluster did not settle')
  }

  private deliver (m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`) || !this.filter(m)) return
    const target = this.nodes.get(m.to)
    if (target === undefined) return
    this.delivered.push(m)
    target.node.step(m)
  }

  /** Ticks every node (or the given ones) once, then settles. */
  tick (ids: readonly NodeId[] = [...this.nodes.keys()], times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.get(id).node.tick()
      this.settle()
    }
  }

  /** Makes `id` campaign and settles; returns the resulting leader id (or ''). */
  elect (id: NodeId): NodeId {
    this.get(id).node.campaign()
    this.settle()
    return this.leader()
  }

  leader (): NodeId {
    let best: { id: NodeId, term: number } | undefined
    for (const n of this.nodes.values()) {
      const r = n.node.raft
      if (r.role === 'leader' && (best === undefined || r.term > best.term)) best = { id: n.id, term: r.term }
    }
    return best?.id ?? ''
  }

  /** Restarts a node from its storage, losing everything not persisted. */
  restart (id: NodeId, config: Partial<RaftConfigInput> = {}): void {
    const n = this.get(id)
    n.node = this.makeNode(id, n.storage, config)
    n.applied = []
    this.settle()
  }

  propose (id: NodeId, text: string): void {
    this.get(id).node.propose(new TextEncoder().encode(text))
    this.settle()
  }
}

export function texts (entries: readonly Entry[]): string[] {
  const d = new TextDecoder()
  return entries.filter(e => e.type === 'normal' && e.data.byteLength > 0).map(e => d.decode(e.data))
}
