// One simulated node: the daemon's own Raft host (src/strong/host.ts: persist, then send, then apply, then advance)
// with the real RawNode and KvStateMachine, over a MemoryStorage that plays the disk. The simulation injects what
// differs from the daemon: the transport (the simulated network), the clock (virtual ticks, and a seeded disk delay
// before each run of the loop) and the hooks its checkers watch. A crash stops the host: the in-memory Raft state
// and any Ready not yet processed are lost, and nothing that depended on them was sent. The disk survives, and a
// restart builds a new host on it.
import { createRaftHost } from '../../src/strong/host.js'
import type { RaftHost, RaftHostHooks } from '../../src/strong/host.js'
import type { HostClock } from '../../src/strong/clock.js'
import type { KvCommand, KvResult } from '../../src/strong/kv-state-machine.js'
import type { RaftFactory, RawNode } from '../../src/raft/raw-node.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import type { Entry, Message, NodeId, SoftState } from '../../src/raft/types.js'
import type { SimRandom } from './random.js'

export interface NodeObserver {
  /** Entries were just written to this node's disk. */
  persisted (node: SimNode, entries: readonly Entry[]): void
  /** The node applied a committed entry (result: the state machine's answer for commands). */
  applied (node: SimNode, entry: Entry, cmd: KvCommand | undefined, result: KvResult | undefined): void
  /** The node installed a snapshot. */
  restored (node: SimNode, index: number): void
  roleChanged (node: SimNode, soft: SoftState, term: number): void
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

type Done = (result: KvResult) => void

/** The simulated clients time out on their own; a request its node forgot in a crash is simply never answered. */
const forget = (): void => {}

export class SimNode {
  readonly storage = new MemoryStorage()
  host: RaftHost | null = null
  /** Incarnation number: bumped by every crash, so events scheduled before it are recognised as stale. */
  incarnation = 0
  private receiver: ((m: unknown) => void) | null = null

  constructor (
    readonly id: NodeId,
    private readonly opts: SimNodeOptions,
    private readonly rng: SimRandom,
    private readonly observer: NodeObserver,
    private readonly clock: HostClock
  ) {}

  get up (): boolean { return this.host !== null }

  get raw (): RawNode | null { return this.host?.raw ?? null }

  /** Starts (or restarts) from what is on disk. */
  start (bootstrapVoters: readonly NodeId[] | null): void {
    const rng = this.rng
    const o = this.opts
    this.host = createRaftHost({
      id: this.id,
      raft: {
        electionTicks: o.electionTicks,
        heartbeatTicks: o.heartbeatTicks,
        messageBytesMax: o.messageBytesMax,
        inflightMessagesMax: o.inflightMessagesMax,
        random: n => rng.int(0, n - 1)
      },
      storage: this.storage,
      transport: {
        send: m => { this.observer.send(this, m) },
        listen: receive => {
          this.receiver = receive
          return () => { this.receiver = null }
        }
      },
      clock: this.clock,
      compaction: { everyEntries: o.compactEveryEntries, retainEntries: o.retainEntries },
      hooks: this.hooks(),
      factory: o.factory
    })
    this.host.start(bootstrapVoters)
  }

  private hooks (): RaftHostHooks {
    const o = this.observer
    return {
      persisted: entries => { o.persisted(this, entries) },
      applied: (entry, applied) => { o.applied(this, entry, applied?.cmd, applied?.result) },
      restored: index => { o.restored(this, index) },
      roleChanged: (soft, term) => { o.roleChanged(this, soft, term) }
    }
  }

  crash (): void {
    void this.host?.stop()
    this.host = null
    this.incarnation++
  }

  /** A message from the simulated network; dropped while the node is down. */
  deliver (m: unknown): void {
    this.receiver?.(m)
  }

  /** A client asks this node to run a command through Raft. Returns false when it was not even proposed. */
  submit (cmd: KvCommand, data: Uint8Array, done: Done): boolean {
    const result = this.host?.submit(cmd, data, { done, fail: forget }) ?? 'stopped'
    return result === 'proposed' || result === 'forwarded'
  }

  /** A client asks for a linearizable read through ReadIndex. */
  read (key: string, context: Uint8Array, done: Done): boolean {
    const host = this.host
    if (host === null) return false
    const serve = (index: number): void => {
      const applied = host.stateMachine.appliedIndex
      this.observer.trace(`${this.id} serves read ${key} at read index ${index} (applied ${applied})`)
      done({ op: 'get', value: host.stateMachine.read(key) })
    }
    return host.read(context, { done: serve, fail: forget }) === 'proposed'
  }
}
