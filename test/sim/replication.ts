// Deterministic simulation of plain-write replication (DESIGN.md "Two paths for writes", "Convergence", "TTL"):
// N replicas accept writes on their own, gossip heads, fetch and merge with the real merge (src/gitstore/merge.ts),
// and run anti-entropy on (re)connect and periodically, on a simulated network, under partitions, crashes, message
// loss, duplication and delay, with skewed and stepping clocks. One seed decides everything.
//
// Two phases, as in FoundationDB/TigerBeetle simulations:
// 1. faults: writes, reads, partitions, crashes and clock steps; safety is checked as it goes (a replica reads its
//    own acknowledged write back; no read returns an expired value; a replica's entries only ever move up).
// 2. quiet: faults and writes stop (every partition heals, every crashed replica restarts; the network keeps its
//    loss, duplication and delay, since gossip alone must not be relied on). Then the liveness and durability
//    checks: all replicas hold the same head commit (hence the same state) within a bound of ticks and stay so,
//    committing nothing more once settled; merge commits stay bounded by the write commits; every acknowledged write
//    is present or superseded by a higher version of its key (or by its own expiry); no expired value is left
//    readable.
import type { TreeEntry } from '../../src/gitstore/entry.js'
import { compareEntries } from '../../src/gitstore/entry.js'
import { formatVersion } from '../../src/gitstore/hlc.js'
import { compareEntriesTotal, isExpired, mergeStates, sameEntry, type EntryChange } from '../../src/gitstore/merge.js'
import { CommitGraph, stateDigest, type HeadRule } from './commit-graph.js'
import { SimRandom } from './random.js'
import { SimNetwork, type NetworkOptions } from './replication-network.js'
import { Replica, type ExpireFn, type ExpiryOwnerFn, type MergeFn, type ReplicaMessage, type Send } from './replication-replica.js'

export interface ReplicationSimOptions {
  readonly seed: number
  /** Replica count; drawn from 3..5 when omitted. */
  readonly replicas?: number
  /** Length of the fault phase. */
  readonly faultTicks?: number
  /** The merge under test; the real one by default (the simulator's own test injects broken ones). */
  readonly merge?: MergeFn
  /** The expiry under test; expireDue by default. */
  readonly expire?: ExpireFn
  /** Who commits a due expiry; the writer (takeover after simExpiryTakeoverMs) by default. */
  readonly expiryOwner?: ExpiryOwnerFn
  /** How a replica joins a foreign head; the store's canonical rule by default. */
  readonly headRule?: HeadRule
  /** Anti-entropy (periodic and on reconnect/restart); on by default. Off, only gossip carries changes. */
  readonly antiEntropy?: boolean
  /** Check at every state change that entries only move up (on by default; off to test the end-of-run checks). */
  readonly inflationCheck?: boolean
  /** Record a readable trace of every event (for replays). */
  readonly trace?: boolean
}

export type FailureKind = 'read-own-write' | 'expired-read' | 'regression' | 'convergence' | 'durability' | 'expired-state' | 'idle-commits' | 'commit-growth'

export interface ReplicationSimReport {
  readonly seed: number
  readonly ok: boolean
  readonly failure: { readonly kind: FailureKind, readonly message: string } | null
  readonly stats: {
    readonly replicas: number
    readonly writes: number
    readonly reads: number
    readonly crashes: number
    readonly partitions: number
    readonly clockSteps: number
    readonly messages: SimNetwork<ReplicaMessage>['stats']
    /** Ticks from the start of the quiet phase until the replicas were first identical (null: never). */
    readonly firstIdenticalAfterTicks: number | null
    /** Ticks from the start of the quiet phase until the replicas last differed (null: the run failed first). */
    readonly convergedAfterTicks: number | null
    /** Distinct write commits (writes and expiries) and merge commits made in the run. */
    readonly writeCommits: number
    readonly mergeCommits: number
  }
  readonly trace: string[]
}

/** Virtual milliseconds per tick. */
export const tickMs = 10
export const clockSkewMsMax = 200
export const ttlMsMax = 1_500
export const antiEntropyTicks = 25
/**
 * The liveness bound: once every deadline has passed on every clock (all expiries are due everywhere), replicas
 * must be identical within this many ticks. Anti-entropy alone, with 30% loss, needs a few periods.
 */
export const convergenceTicksMax = 300
/** After the bound, the replicas must stay identical, and commit nothing, for this long. */
const stableTicks = 100
/**
 * Merge commits allowed per write commit. Each replica makes at most one merge per write commit it receives (the
 * issue's bound), so n - 1 per write in the worst case; in practice far fewer (merges are shared by id).
 */
const mergesPerWriteMax = 4
const keyCount = 8
const traceLinesMax = 50_000

/** Ticks until every TTL written before the quiet phase is due on every replica's clock. */
const settleTicks = Math.ceil((ttlMsMax + 2 * clockSkewMsMax) / tickMs) + 1

export function runReplicationSim (options: ReplicationSimOptions): ReplicationSimReport {
  return new ReplicationSim(options).run()
}

/** The command that replays one seed, printed with every failure. */
export function replayCommand (seed: number): string {
  return `REPLICATION_SEED=${seed} node scripts/run-tests.mjs test/sim/replication.test.ts`
}

class SimFailure extends Error {
  constructor (readonly kind: FailureKind, message: string) { super(message) }
}

interface AckedWrite { readonly key: string, readonly entry: TreeEntry, readonly replica: number, readonly tick: number }

class ReplicationSim {
  private readonly rng: SimRandom
  private readonly faultRng: SimRandom
  private readonly workRng: SimRandom
  private readonly network: SimNetwork<ReplicaMessage>
  private readonly replicas: Replica[]
  private readonly faultTicks: number
  private tick = 0
  private readonly antiEntropy: boolean
  private readonly acked: AckedWrite[] = []
  private readonly trace: string[] = []
  private readonly counts = { writes: 0, reads: 0, crashes: 0, partitions: 0, clockSteps: 0 }
  private partitionEndsAt: number | null = null
  private firstIdentical: number | null = null
  private readonly restartAt = new Map<number, number>()
  private readonly graph: CommitGraph
  private readonly p: { writeP: number, crashP: number, partitionP: number, clockStepP: number, readP: number }

  constructor (private readonly options: ReplicationSimOptions) {
    this.rng = new SimRandom(options.seed)
    // Separate streams, so a change in how often one kind of event draws does not reshuffle the others.
    const netRng = this.rng.fork()
    this.faultRng = this.rng.fork()
    this.workRng = this.rng.fork()
    const count = options.replicas ?? this.rng.int(3, 5)
    this.faultTicks = options.faultTicks ?? 600
    this.antiEntropy = options.antiEntropy ?? true
    const net: NetworkOptions = {
      lossP: this.rng.int(0, 30) / 100,
      duplicateP: this.rng.int(0, 10) / 100,
      delayTicksMin: 1,
      delayTicksMax: this.rng.int(1, 30)
    }
    this.p = {
      writeP: this.rng.int(10, 60) / 100,
      readP: 0.5,
      crashP: this.rng.int(0, 10) / 1000,
      partitionP: this.rng.int(0, 20) / 1000,
      clockStepP: this.rng.int(0, 5) / 1000
    }
    this.network = new SimNetwork<ReplicaMessage>(netRng, net, count)
    const merge = options.merge ?? mergeStates
    this.graph = new CommitGraph(() => this.tick)
    this.replicas = Array.from({ length: count }, (_, i) =>
      new Replica(i, count, this.rng.int(-clockSkewMsMax, clockSkewMsMax), () => this.tick * tickMs, this.graph, merge, options.expire,
        options.inflationCheck === false ? undefined : (r, changes) => this.checkInflation(r, changes), options.headRule, options.expiryOwner))
    this.log(`seed ${options.seed}: ${count} replicas, skews ${this.replicas.map(r => r.skewMs).join(',')} ms, ` +
      `network ${JSON.stringify(net)}, rates ${JSON.stringify(this.p)}`)
  }

  private log (line: string): void {
    if (this.options.trace === true && this.trace.length < traceLinesMax) this.trace.push(`[${this.tick}] ${line}`)
  }

  private sender (from: number): Send {
    return (to, msg) => {
      this.log(`${from} -> ${to} ${msg.type}${'head' in msg ? ' ' + msg.head.slice(0, 8) : ''}`)
      this.network.send(from, to, msg, this.tick)
    }
  }

  run (): ReplicationSimReport {
    let failure: ReplicationSimReport['failure'] = null
    let convergedAfterTicks: number | null = null
    try {
      for (; this.tick < this.faultTicks; this.tick++) this.step(true)
      convergedAfterTicks = this.quietPhase()
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err
      failure = { kind: err.kind, message: `tick ${this.tick}: ${err.message}` }
      this.log(`FAILURE ${failure.kind}: ${failure.message}`)
    }
    return {
      seed: this.options.seed,
      ok: failure === null,
      failure,
      stats: {
        replicas: this.replicas.length,
        ...this.counts,
        messages: { ...this.network.stats },
        firstIdenticalAfterTicks: this.firstIdentical,
        convergedAfterTicks,
        writeCommits: this.graph.created.filter((c) => !c.merge).length,
        mergeCommits: this.graph.created.filter((c) => c.merge).length
      },
      trace: this.trace
    }
  }

  /** One tick: faults (in the fault phase), deliveries, client work, expiry, periodic anti-entropy. */
  private step (faults: boolean): void {
    if (faults) this.injectFaults()
    for (const d of this.network.deliver(this.tick)) {
      const r = this.replicas[d.to]
      this.log(`${d.to} <- ${d.from} ${d.msg.type}${r.up ? '' : ' (down: dropped)'}`)
      if (r.up) r.receive(d.from, d.msg, this.sender(d.to))
    }
    if (faults) this.clientWork()
    this.clientReads()
    for (const r of this.replicas) {
      if (!r.up) continue
      if (r.expire(this.sender(r.id))) this.log(`${r.name} expired keys`)
      if (this.antiEntropy && (this.tick + r.id * 7) % antiEntropyTicks === 0) r.sync(r.pickPeer(peers => this.workRng.pick(peers)), this.sender(r.id))
    }
  }

  private injectFaults (): void {
    const f = this.faultRng
    for (const [id, at] of [...this.restartAt]) {
      if (at > this.tick) continue
      this.restartAt.delete(id)
      this.log(`${this.replicas[id].name} restarts`)
      this.replicas[id].restart(this.sender(id), this.antiEntropy)
    }
    if (f.chance(this.p.crashP)) {
      const up = this.replicas.filter(r => r.up)
      if (up.length > 0) {
        const r = f.pick(up)
        r.crash()
        this.counts.crashes++
        this.restartAt.set(r.id, this.tick + f.int(5, 150))
        this.log(`${r.name} crashes`)
      }
    }
    if (this.partitionEndsAt !== null && this.partitionEndsAt <= this.tick) this.heal()
    if (this.partitionEndsAt === null && f.chance(this.p.partitionP)) this.partition()
    if (f.chance(this.p.clockStepP)) {
      const r = f.pick(this.replicas)
      r.skewMs = f.int(-clockSkewMsMax, clockSkewMsMax)
      this.counts.clockSteps++
      this.log(`${r.name} clock steps to skew ${r.skewMs} ms`)
    }
  }

  private partition (): void {
    const f = this.faultRng
    const n = this.replicas.length
    const kind = f.pick(['split', 'isolate', 'one-way'] as const)
    if (kind === 'one-way') {
      const from = f.int(0, n - 1)
      const to = (from + f.int(1, n - 1)) % n
      this.network.block(from, to)
      this.log(`partition: one-way ${from} -/-> ${to}`)
    } else {
      const side = kind === 'isolate'
        ? new Set([f.int(0, n - 1)])
        : new Set(this.replicas.map(r => r.id).filter(() => f.chance(0.5)))
      if (side.size === 0 || side.size === n) {
        side.clear()
        side.add(0)
      }
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (side.has(a) !== side.has(b)) this.network.block(a, b)
      this.log(`partition: ${kind} {${[...side].join(',')}} | rest`)
    }
    this.counts.partitions++
    this.partitionEndsAt = this.tick + f.int(20, 250)
  }

  /** Heals every link; both ends of each reconnected pair run anti-entropy, as on a new connection. */
  private heal (): void {
    this.partitionEndsAt = null
    for (const [a, b] of this.network.healAll()) {
      this.log(`heal ${a} <-> ${b}`)
      if (!this.antiEntropy) continue
      if (this.replicas[a].up) this.replicas[a].sync(b, this.sender(a))
      if (this.replicas[b].up) this.replicas[b].sync(a, this.sender(b))
    }
  }

  private clientWork (): void {
    const w = this.workRng
    if (!w.chance(this.p.writeP)) return
    const up = this.replicas.filter(r => r.up)
    if (up.length === 0) return
    const r = w.pick(up)
    const key = `/k${w.int(0, keyCount - 1)}`
    const kind = w.int(0, 99)
    const op = kind < 15 ? 'delete' : 'set'
    const ttlMs = op === 'set' && kind >= 65 ? w.int(1, ttlMsMax) : null
    const valueOid = `v${this.counts.writes}`
    const entry = r.write(key, op, ttlMs, valueOid, `client${w.int(0, 9)}`, this.sender(r.id))
    this.counts.writes++
    this.acked.push({ key, entry, replica: r.id, tick: this.tick })
    this.log(`${r.name} ${op} ${key}=${valueOid} ttl=${ttlMs ?? '-'} @${formatVersion(entry.meta.version)}`)
    // Read-your-writes on the replica that acknowledged it (unless its TTL is already over by that clock).
    const back = r.read(key)
    const expected = op === 'set' && !isExpired(entry, r.nowMs()) ? entry : null
    if ((back === null) !== (expected === null) || (back !== null && expected !== null && !sameEntry(back, expected))) {
      throw new SimFailure('read-own-write', `${r.name} acknowledged ${op} ${key}@${formatVersion(entry.meta.version)} but reads ${describe(back)}`)
    }
  }

  private clientReads (): void {
    const w = this.workRng
    if (!w.chance(this.p.readP)) return
    const up = this.replicas.filter(r => r.up)
    if (up.length === 0) return
    const r = w.pick(up)
    const key = `/k${w.int(0, keyCount - 1)}`
    const got = r.read(key)
    this.counts.reads++
    if (got !== null && isExpired(got, r.nowMs())) {
      throw new SimFailure('expired-read', `${r.name} read ${key} = ${describe(got)} after its deadline (clock ${r.nowMs()})`)
    }
  }

  /**
   * A replica's state only moves up: each key's entry is replaced only by a greater one, and no key disappears. This
   * is what makes the merge a join; a merge that lets an older entry win, or forgets keys, breaks it at once, long
   * before convergence is checked.
   */
  private checkInflation (r: Replica, changes: readonly EntryChange[]): void {
    for (const c of changes) {
      if (c.before === null) continue
      if (c.after === null) throw new SimFailure('regression', `${r.name} lost key ${c.key} (${describe(c.before)})`)
      if (compareEntriesTotal(c.after, c.before) <= 0) {
        throw new SimFailure('regression', `${r.name} replaced ${c.key} = ${describe(c.before)} by the older ${describe(c.after)}`)
      }
    }
  }

  /** Faults and writes stop; returns the ticks until the replicas last differed, or throws a failure. */
  private quietPhase (): number {
    const start = this.tick
    this.log('quiet phase: healing every partition, restarting every crashed replica')
    this.heal()
    for (const id of [...this.restartAt.keys()]) {
      this.restartAt.delete(id)
      this.replicas[id].restart(this.sender(id), this.antiEntropy)
    }
    const bound = settleTicks + convergenceTicksMax
    let lastDiffering = start
    let commitsAtBound = 0
    for (; this.tick < start + bound + stableTicks; this.tick++) {
      if (this.tick === start + bound) commitsAtBound = this.graph.created.length
      this.step(false)
      if (!this.identical()) lastDiffering = this.tick
      else if (this.firstIdentical === null) this.firstIdentical = this.tick - start
    }
    if (lastDiffering >= start + bound) {
      const sameStates = new Set(this.replicas.map(r => stateDigest(r.state))).size === 1
      throw new SimFailure('convergence', `replicas still hold different heads ${lastDiffering - start} ticks after faults stopped ` +
        `(bound ${bound}: ${settleTicks} for every TTL to be due, ${convergenceTicksMax} to converge)${sameStates ? ', with identical states' : ''}; heads ` +
        this.replicas.map(r => `${r.name}=${r.head.slice(0, 8)}(${r.state.size} keys)`).join(' ') +
        `; ${this.graph.created.length} commits so far`)
    }
    const idle = this.graph.created.slice(commitsAtBound)
    if (idle.length > 0) {
      throw new SimFailure('idle-commits', `${idle.length} commits made after the cluster settled (first at tick ${idle[0].tick})`)
    }
    const writes = this.graph.created.filter((c) => !c.merge).length
    const merges = this.graph.created.length - writes
    if (merges > mergesPerWriteMax * writes) {
      throw new SimFailure('commit-growth', `${merges} merge commits for ${writes} write commits (at most ${mergesPerWriteMax} per write)`)
    }
    this.checkDurability()
    this.checkNoExpiredValues()
    return lastDiffering - start
  }

  private identical (): boolean {
    const head = this.replicas[0].head
    return this.replicas.every(r => r.head === head)
  }

  /** Every acknowledged write is in the final state, or superseded by a higher version of its key or its expiry. */
  private checkDurability (): void {
    const final = this.replicas[0].state
    for (const a of this.acked) {
      const now = final.get(a.key)
      if (now === undefined) throw new SimFailure('durability', `write ${a.key}@${formatVersion(a.entry.meta.version)} (acked by r${a.replica} at tick ${a.tick}) vanished`)
      if (sameEntry(now, a.entry)) continue
      const sameVersion = formatVersion(now.meta.version) === formatVersion(a.entry.meta.version)
      const supersededByExpiry = sameVersion && now.meta.op === 'expire' && a.entry.meta.op === 'set'
      if (compareEntries(now, a.entry) > 0 && (!sameVersion || supersededByExpiry)) continue
      throw new SimFailure('durability', `write ${a.key}@${formatVersion(a.entry.meta.version)} (acked by r${a.replica} at tick ${a.tick}) ` +
        `was lost: the final state holds ${describe(now)}`)
    }
  }

  /** With every deadline passed on every clock, no replica still holds a value that should have expired. */
  private checkNoExpiredValues (): void {
    for (const r of this.replicas) {
      for (const [key, e] of r.state) {
        if (isExpired(e, r.nowMs())) throw new SimFailure('expired-state', `${r.name} still holds ${key} = ${describe(e)} past its deadline`)
      }
    }
  }
}

function describe (e: TreeEntry | null): string {
  if (e === null) return 'nothing'
  return `${e.meta.op} ${e.valueOid ?? '(tombstone)'}@${formatVersion(e.meta.version)}${e.meta.expiresAtMs !== null ? ` until ${e.meta.expiresAtMs}` : ''}`
}
