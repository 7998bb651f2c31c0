// The fault schedule of a simulation run's safety phase: partitions (symmetric, isolated leader, one-way), network
// loss/duplication/delay/garbage, crashes and restarts, leadership transfers, clock skew jumps and membership
// changes. Everything is drawn from the run's seeded generator; faults stop when the liveness phase starts.
import type { ConfChange, NodeId } from '../../src/raft/types.js'
import type { SimNetwork } from './network.js'
import type { SimRandom } from './random.js'
import type { SimNode } from './sim-node.js'
import type { SimEvent } from './run.js'

/** What the fault injector may act on. */
export interface FaultTarget {
  readonly now: number
  readonly ids: readonly NodeId[]
  readonly nodes: readonly SimNode[]
  readonly network: SimNetwork
  readonly skewMs: Map<NodeId, number>
  leaderNode (): SimNode | undefined
  schedule (delayMs: number, event: SimEvent): void
  scheduleReady (n: SimNode): void
  log (line: string): void
}

export class FaultInjector {
  private on = true
  private readonly leaderTermsSeen = new Map<NodeId, number>()

  constructor (
    private readonly sim: FaultTarget,
    private readonly rng: SimRandom,
    private readonly crashy: boolean,
    private readonly reconfigure: boolean
  ) {}

  start (): void { this.sim.schedule(this.rng.int(100, 800), { k: 'fault' }) }
  stop (): void { this.on = false }

  onFaultEvent (): void {
    if (!this.on) return
    this.inject()
    this.sim.schedule(this.crashy ? this.rng.int(10, 250) : this.rng.int(50, 1200), { k: 'fault' })
  }

  onCrashEvent (node: SimNode, incarnation: number): void {
    if (!this.on || node.incarnation !== incarnation || !node.up) return
    this.crash(node, 'new leader ')
  }

  /**
   * Crashy seeds also kill some leaders within milliseconds of their election, before their first entries spread:
   * the schedule behind the Raft paper's Figure 8.
   */
  afterEvent (): void {
    if (!this.on || !this.crashy) return
    for (const n of this.sim.nodes) {
      const r = n.raw?.raft
      if (r === undefined || r.role !== 'leader' || this.leaderTermsSeen.get(n.id) === r.term) continue
      this.leaderTermsSeen.set(n.id, r.term)
      if (this.rng.chance(0.3)) this.sim.schedule(this.rng.int(0, 15), { k: 'crash', node: n, inc: n.incarnation })
    }
  }

  private log (what: string): void { this.sim.log(`t=${this.sim.now} FAULT ${what}`) }

  private crash (victim: SimNode, label = ''): void {
    victim.crash()
    this.log(`crash ${label}${victim.id}`)
    this.sim.schedule(this.crashy ? this.rng.int(20, 400) : this.rng.int(50, 2000), { k: 'restart', node: victim })
  }

  private inject (): void {
    if (this.reconfigure && this.rng.chance(0.4)) {
      this.changeMembership()
      return
    }
    const choice = this.crashy && this.rng.chance(0.6) ? this.rng.int(55, 69) : this.rng.int(0, 99)
    if (choice < 15) this.partition()
    else if (choice < 27) this.isolateLeader()
    else if (choice < 37) this.oneWay()
    else if (choice < 55) {
      this.sim.network.healAll()
      this.log('heal network')
    } else if (choice < 70) this.crashSomeone()
    else if (choice < 85) this.networkWeather()
    else if (choice < 91) this.transferLeadership()
    else if (choice < 97) this.changeMembership()
    else this.clockJump()
  }

  /** Symmetric partition: a minority (sometimes a majority, when nodes repeat) is split off. */
  private partition (): void {
    const ids = this.sim.ids
    const side = this.rng.int(1, Math.floor(ids.length / 2))
    const cut = new Set<NodeId>()
    while (cut.size < side) cut.add(this.rng.pick(ids))
    for (const a of cut) for (const b of ids) if (!cut.has(b)) this.sim.network.blockBoth(a, b)
    this.log(`partition {${[...cut].join(',')}} | rest`)
  }

  private isolateLeader (): void {
    const l = this.sim.leaderNode()
    if (l === undefined) return
    for (const b of this.sim.ids) if (b !== l.id) this.sim.network.blockBoth(l.id, b)
    this.log(`isolate leader ${l.id}`)
  }

  private oneWay (): void {
    const a = this.rng.pick(this.sim.ids)
    const b = this.rng.pick(this.sim.ids.filter(x => x !== a))
    this.sim.network.block(a, b)
    this.log(`one-way ${a}->${b} blocked`)
  }

  /** Crashy seeds mostly crash the leader, which leaves entries of its term on a minority. */
  private crashSomeone (): void {
    const up = this.sim.nodes.filter(n => n.up)
    if (up.length === 0) return
    const leader = this.sim.leaderNode()
    this.crash(this.crashy && leader !== undefined && this.rng.chance(0.7) ? leader : this.rng.pick(up))
  }

  private networkWeather (): void {
    this.sim.network.faults = {
      lossRate: this.rng.pick([0, 0.01, 0.05, 0.2]),
      duplicateRate: this.rng.pick([0, 0.02, 0.1]),
      garbageRate: this.rng.pick([0, 0, 0.01]),
      delayMinMs: 1,
      delayMaxMs: this.rng.pick([5, 20, 60])
    }
    this.log(`network ${JSON.stringify(this.sim.network.faults)}`)
  }

  /** Asks the leader, or a follower that forwards the request, to hand leadership to another node. */
  private transferLeadership (): void {
    const l = this.sim.leaderNode()
    if (l === undefined) return
    const up = this.sim.nodes.filter(n => n.up)
    const via = this.rng.chance(0.5) ? l : this.rng.pick(up)
    if (via.raw === null) return
    const to = this.rng.pick(this.sim.ids.filter(x => x !== l.id))
    via.raw.transferLeader(to)
    this.sim.scheduleReady(via)
    this.log(`transfer leadership ${l.id} -> ${to} (asked at ${via.id})`)
  }

  /** One node's clock jumps: its stamps move (locks must still never overlap). */
  private clockJump (): void {
    const id = this.rng.pick(this.sim.ids)
    const skew = (this.sim.skewMs.get(id) ?? 0) + this.rng.int(-200, 200)
    this.sim.skewMs.set(id, skew)
    this.log(`clock skew ${id} now ${skew}ms`)
  }

  /**
   * The leader removes a voter (never below two), adds a removed node back as a learner, or promotes a learner;
   * one change at a time (the leader refuses a second while the first is pending).
   */
  private changeMembership (): void {
    const l = this.sim.leaderNode()
    if (l?.raw == null) return
    const cs = l.raw.status().confState
    const removed = this.sim.ids.filter(id => !cs.voters.includes(id) && !cs.learners.includes(id))
    let cc: ConfChange
    if (cs.learners.length > 0) cc = { type: 'addVoter', nodeId: this.rng.pick(cs.learners) }
    else if (removed.length > 0 && this.rng.chance(0.7)) cc = { type: 'addLearner', nodeId: this.rng.pick(removed) }
    else if (cs.voters.length > 2) cc = { type: 'removeNode', nodeId: this.rng.pick(cs.voters) }
    else return
    const result = l.raw.proposeConfChange(cc)
    this.sim.scheduleReady(l)
    this.log(`membership ${cc.type} ${cc.nodeId} via ${l.id}: ${result}`)
  }
}
