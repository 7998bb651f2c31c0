// One simulation run: N nodes of the real Raft code and state machine on virtual time, clients, faults, and the
// checkers. The seed decides everything (cluster size, options, fault schedule, delays, client operations), so
// `runSeed(seed)` twice gives the same trace. Two phases: safety under faults, then liveness once faults stop.
import type { RaftFactory } from '../../src/raft/raw-node.js'
import type { HostClock } from '../../src/strong/clock.js'
import type { NodeId } from '../../src/raft/types.js'
import { checkLinearizable } from './checker.js'
import { SimClient } from './clients.js'
import type { ClientWorld } from './clients.js'
import { EventQueue } from './event-queue.js'
import { RaftInvariants } from './invariants.js'
import type { Violation, ViolationKind } from './invariants.js'
import { LockChecker } from './lock-checker.js'
import { strongOpsModel } from './models.js'
import type { SimHistoryOp } from './models.js'
import { SimNetwork, calmNetwork } from './network.js'
import { SimRandom } from './random.js'
import { SimNode } from './sim-node.js'
import type { NodeObserver } from './sim-node.js'
import { FaultInjector } from './faults.js'
import type { FaultTarget } from './faults.js'

export interface RunOptions {
  /** Collect a trace of node role changes, faults and client operations. */
  readonly trace?: boolean
  /** Substitute the Raft implementation (the simulator's own test injects bugs this way). */
  readonly factory?: RaftFactory
  /** Override the safety phase length (virtual ms). */
  readonly safetyMs?: number
  /** Skip the linearizability check (for quick invariant-only runs). */
  readonly skipLinearizability?: boolean
}

export interface RunResult {
  readonly seed: number
  readonly ok: boolean
  readonly violations: readonly Violation[]
  readonly nodes: number
  readonly clients: number
  /** Operations in the checked history (ok and unknown outcomes). */
  readonly ops: number
  readonly unknownOps: number
  readonly lockGrants: number
  /** Membership changes committed and applied (beyond the bootstrap configuration). */
  readonly confChanges: number
  readonly crashes: number
  readonly messages: number
  readonly virtualMs: number
  /** Virtual ms from the end of faults until every client finished its final operation. */
  readonly recoveryMs: number
  /** The linearizability checker gave up (state budget) instead of deciding. */
  readonly linearizabilityUnknown: boolean
  readonly trace: readonly string[]
}

export const tickMs = 10
const electionTicks = 10
const heartbeatTicks = 2
/** After faults stop, a leader and every client's final operation must complete within this many ticks. */
export const livenessTicks = 1500

export type SimEvent =
  | { readonly k: 'deliver', readonly node: SimNode, readonly m: unknown }
  | { readonly k: 'fault' }
  | { readonly k: 'restart', readonly node: SimNode }
  | { readonly k: 'crash', readonly node: SimNode, readonly inc: number }
  | { readonly k: 'heal' }
  | { readonly k: 'call', readonly fn: () => void }

/** The seeded choices that shape one run. */
interface Setup {
  readonly nodeCount: number
  readonly clientCount: number
  readonly safetyMs: number
  readonly useWireCodec: boolean
  readonly compactEveryEntries: number
  readonly messageBytesMax: number
  readonly inflightMessagesMax: number
  /** Faults come every few election timeouts, mostly crashes and restarts, some right after an election. */
  readonly crashy: boolean
  /** Many faults are membership changes. */
  readonly reconfigure: boolean
}

function chooseSetup (rng: SimRandom, opts: RunOptions): Setup {
  return {
    nodeCount: rng.pick([3, 3, 5]),
    clientCount: rng.int(2, 5),
    safetyMs: opts.safetyMs ?? rng.int(3_000, 8_000),
    useWireCodec: rng.chance(0.25),
    compactEveryEntries: rng.pick([20, 50, 200]),
    messageBytesMax: rng.pick([200, 2000, 1024 * 1024]),
    inflightMessagesMax: rng.pick([2, 16, 256]),
    crashy: rng.chance(0.33),
    reconfigure: rng.chance(0.33)
  }
}

/** One run: the cluster, its clients and checkers, driven by the event queue. */
class Simulation implements FaultTarget {
  now = 0
  readonly trace: string[] = []
  readonly violations: Violation[] = []
  readonly setup: Setup
  readonly ids: readonly NodeId[]
  readonly nodes: readonly SimNode[]
  readonly network: SimNetwork
  readonly skewMs: Map<NodeId, number>
  private readonly byId: Map<NodeId, SimNode>
  private readonly queue = new EventQueue<SimEvent>()
  private readonly invariants: RaftInvariants
  private readonly locks: LockChecker
  private readonly history: SimHistoryOp[] = []
  private readonly clients: SimClient[]
  private readonly faults: FaultInjector
  private readonly diskRng: SimRandom
  private readonly tickRng: SimRandom
  private confChangesApplied = 0
  private healAt = Infinity
  private finishedAt = -1

  constructor (readonly seed: number, private readonly opts: RunOptions) {
    const rng = new SimRandom(seed)
    const s = this.setup = chooseSetup(rng, opts)
    this.ids = Array.from({ length: s.nodeCount }, (_, i) => `n${i + 1}`)
    this.log(`seed=${seed} ${JSON.stringify(s)}`)
    const report = (kind: ViolationKind, detail: string): void => this.report(kind, detail)
    this.invariants = new RaftInvariants(report)
    this.locks = new LockChecker(report)
    this.network = new SimNetwork(rng.fork(), s.useWireCodec, (at, to, m) => {
      const node = this.byId.get(to)
      if (node !== undefined) this.queue.push(at, { k: 'deliver', node, m })
    })
    this.skewMs = new Map(this.ids.map(id => [id, rng.int(0, 50)]))
    this.diskRng = rng.fork()
    this.tickRng = rng.fork()
    const nodeOpts = {
      electionTicks, heartbeatTicks, compactEveryEntries: s.compactEveryEntries, retainEntries: 10,
      messageBytesMax: s.messageBytesMax, inflightMessagesMax: s.inflightMessagesMax, factory: opts.factory
    }
    this.nodes = this.ids.map(id => new SimNode(id, nodeOpts, rng.fork(), this.observer(), this.nodeClock()))
    this.byId = new Map(this.nodes.map(n => [n.id, n]))
    const clientOpts = { keys: ['k0', 'k1', 'k2'], locks: ['L0', 'L1'], attemptTimeoutMs: 400, maxAttempts: 3 }
    this.clients = Array.from({ length: s.clientCount }, (_, i) => new SimClient(i + 1, this.world(), rng.fork(), clientOpts, this.history))
    this.faults = new FaultInjector(this, rng.fork(), s.crashy, s.reconfigure)
  }

  log (line: string): void { if (this.opts.trace === true) this.trace.push(line) }

  private report (kind: ViolationKind, detail: string): void {
    this.violations.push({ kind, timeMs: this.now, detail })
    this.log(`t=${this.now} VIOLATION ${kind}: ${detail}`)
  }

  private observer (): NodeObserver {
    return {
      persisted: (n, entries) => this.invariants.persistedEntries(n, entries),
      applied: (n, e, cmd, result) => {
        const first = this.invariants.appliedEntry(n, e)
        if (first && e.type === 'confChange' && e.index > this.setup.nodeCount) this.confChangesApplied++
        if (first && cmd !== undefined && result !== undefined) this.locks.applied(e.index, cmd, result)
      },
      restored: (n, index) => this.log(`t=${this.now} ${n.id} installed snapshot @${index}`),
      roleChanged: (n, soft, term) => this.log(`t=${this.now} ${n.id} ${soft.role} term=${term} lead=${soft.lead || '-'}`),
      send: (_n, m) => this.network.send(this.now, m),
      trace: line => this.log(line)
    }
  }

  private world (): ClientWorld {
    const withNode = <T>(id: NodeId, fallback: T, fn: (n: SimNode) => T): T => {
      const n = this.byId.get(id)
      if (n === undefined) return fallback
      const result = fn(n)
      this.scheduleReady(n)
      return result
    }
    return {
      nowMs: () => this.now,
      nodeIds: () => this.ids,
      clockOf: id => this.now + (this.skewMs.get(id) ?? 0),
      leaderHint: id => this.byId.get(id)?.raw?.raft.lead ?? '',
      submit: (id, cmd, data, done) => withNode(id, false, n => n.submit(cmd, data, done)),
      read: (id, key, context, done) => withNode(id, false, n => n.read(key, context, done)),
      schedule: (delayMs, fn) => this.queue.push(this.now + delayMs, { k: 'call', fn }),
      trace: line => this.log(line)
    }
  }

  schedule (delayMs: number, event: SimEvent): void { this.queue.push(this.now + delayMs, event) }

  /**
   * Virtual time for one node's Raft host: a tick every tickMs from a seeded phase, and each run of the host loop
   * after a seeded 0-2 ms disk delay. Ticks end when the host stops (a crash); a run deferred before the crash finds
   * the stopped host and does nothing.
   */
  private nodeClock (): HostClock {
    return {
      startTicking: (onTick) => {
        let ticking = true
        const tick = (): void => {
          if (!ticking) return
          onTick()
          this.schedule(tickMs, { k: 'call', fn: tick })
        }
        this.schedule(this.tickRng.int(1, tickMs), { k: 'call', fn: tick })
        return () => { ticking = false }
      },
      defer: (fn) => { this.schedule(this.diskRng.int(0, 2), { k: 'call', fn }) }
    }
  }

  /** Asks the node's host to run its loop when it has work (the faults call the RawNode directly). */
  scheduleReady (n: SimNode): void {
    n.host?.requestReady()
  }

  startNode (n: SimNode, bootstrap: boolean): void {
    n.start(bootstrap ? this.ids : null)
  }

  leaderNode (): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes) {
      const r = n.raw?.raft
      if (r?.role === 'leader' && (best === undefined || r.term > (best.raw?.raft.term ?? 0))) best = n
    }
    return best
  }

  private handle (ev: SimEvent): void {
    switch (ev.k) {
      case 'deliver':
        ev.node.deliver(ev.m)
        return
      case 'fault': this.faults.onFaultEvent(); return
      case 'crash': this.faults.onCrashEvent(ev.node, ev.inc); return
      case 'restart':
        if (ev.node.up) return
        this.log(`t=${this.now} restart ${ev.node.id}`)
        this.startNode(ev.node, false)
        return
      case 'heal': this.heal(); return
      case 'call': ev.fn()
    }
  }

  /** End of the safety phase: faults stop, every node runs, and each client must finish one more operation. */
  private heal (): void {
    this.faults.stop()
    this.healAt = this.now
    this.network.healAll()
    this.network.faults = { ...calmNetwork }
    for (const n of this.nodes) {
      if (n.up) continue
      this.log(`t=${this.now} restart ${n.id}`)
      this.startNode(n, false)
    }
    this.log(`t=${this.now} HEAL: faults stop, liveness phase`)
    for (const c of this.clients) c.finishWithFinalOp()
  }

  run (): RunResult {
    for (const n of this.nodes) this.startNode(n, true)
    for (const c of this.clients) c.start()
    this.faults.start()
    this.queue.push(this.setup.safetyMs, { k: 'heal' })
    const deadline = this.setup.safetyMs + livenessTicks * tickMs
    try {
      this.loop(deadline)
    } catch (err) {
      this.report('crash', err instanceof Error ? (err.stack ?? err.message) : String(err))
    }
    const crashed = this.violations.some(v => v.kind === 'crash')
    if (this.finishedAt < 0 && !crashed) this.reportLiveness()
    for (const c of this.clients) c.abandon()
    let linearizabilityUnknown = false
    if (this.opts.skipLinearizability !== true && !crashed) {
      const result = checkLinearizable(strongOpsModel, this.history, { maxStates: 2_000_000 })
      if (result.ok === false) this.report('linearizability', result.explanation)
      else if (result.ok === 'unknown') {
        linearizabilityUnknown = true
        this.log(`linearizability: unknown (${result.reason})`)
      }
    }
    return this.result(linearizabilityUnknown)
  }

  private loop (deadline: number): void {
    for (;;) {
      const item = this.queue.pop()
      if (item === undefined) return
      this.now = item.time
      if (this.now > deadline) return
      this.handle(item.event)
      this.invariants.checkLeaders(this.nodes)
      this.faults.afterEvent()
      if (this.healAt !== Infinity && this.clients.every(c => c.finalDone)) {
        this.finishedAt = this.now
        return
      }
    }
  }

  private reportLiveness (): void {
    const waiting = this.clients.filter(c => !c.finalDone).map(c => c.name)
    for (const n of this.nodes) {
      const r = n.raw?.raft
      if (r === undefined) {
        this.log(`  ${n.id}: down`)
        continue
      }
      this.log(`  ${n.id}: ${JSON.stringify(n.raw?.status())} first=${r.log.firstIndex()} snap=${n.storage.snapshot().metadata.index}`)
      if (r.role !== 'leader') continue
      for (const [id, pr] of r.trk.progress) {
        this.log(`    progress ${id}: match=${pr.match} next=${pr.next} state=${pr.state} paused=${pr.isPaused()} inflight=${pr.inflights.count()} active=${pr.recentActive}`)
      }
    }
    this.report('liveness', `no leader or unfinished operations ${livenessTicks} ticks after faults stopped (clients waiting: ${waiting.join(', ')}; leader: ${this.leaderNode()?.id ?? 'none'})`)
  }

  private result (linearizabilityUnknown: boolean): RunResult {
    return {
      seed: this.seed,
      ok: this.violations.length === 0,
      violations: this.violations,
      nodes: this.setup.nodeCount,
      clients: this.setup.clientCount,
      ops: this.history.length,
      unknownOps: this.history.filter(h => h.output === undefined).length,
      lockGrants: this.locks.grants,
      confChanges: this.confChangesApplied,
      crashes: this.nodes.reduce((sum, n) => sum + n.incarnation, 0),
      messages: this.network.stats.sent,
      virtualMs: this.now,
      recoveryMs: this.finishedAt >= 0 ? this.finishedAt - this.healAt : -1,
      linearizabilityUnknown,
      trace: this.trace
    }
  }
}

export function runSeed (seed: number, opts: RunOptions = {}): RunResult {
  return new Simulation(seed, opts).run()
}
