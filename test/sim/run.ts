// One simulation run: N nodes of the real Raft code and state machine on virtual time, clients, faults, and the
// checkers. The seed decides everything (cluster size, options, fault schedule, delays, client operations), so
// `runSeed(seed)` twice gives the same trace. Two phases: safety under faults, then liveness once faults stop.
import type { RaftFactory } from '../../src/raft/raw-node.js'
import type { Message, NodeId } from '../../src/raft/types.js'
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
  readonly trace: readonly string[]
}

const tickMs = 10
const electionTicks = 10
const heartbeatTicks = 2
/** After faults stop, a leader and every client's final operation must complete within this many ticks. */
export const livenessTicks = 1500

type SimEvent =
  | { readonly k: 'tick', readonly node: SimNode, readonly inc: number }
  | { readonly k: 'deliver', readonly node: SimNode, readonly m: unknown }
  | { readonly k: 'ready', readonly node: SimNode, readonly inc: number }
  | { readonly k: 'fault' }
  | { readonly k: 'restart', readonly node: SimNode }
  | { readonly k: 'crash', readonly node: SimNode, readonly inc: number }
  | { readonly k: 'heal' }
  | { readonly k: 'call', readonly fn: () => void }

export function runSeed (seed: number, opts: RunOptions = {}): RunResult {
  const rng = new SimRandom(seed)
  const trace: string[] = []
  const violations: Violation[] = []
  let now = 0
  const log = (line: string): void => { if (opts.trace === true) trace.push(line) }
  const report = (kind: ViolationKind, detail: string): void => {
    violations.push({ kind, timeMs: now, detail })
    log(`t=${now} VIOLATION ${kind}: ${detail}`)
  }

  // ---- the seed decides the setup -----------------------------------------------------------------------------
  const nodeCount = rng.pick([3, 3, 5])
  const clientCount = rng.int(2, 5)
  const safetyMs = opts.safetyMs ?? rng.int(3_000, 8_000)
  const useWireCodec = rng.chance(0.25)
  const compactEveryEntries = rng.pick([20, 50, 200])
  const messageBytesMax = rng.pick([200, 2000, 1024 * 1024])
  const inflightMessagesMax = rng.pick([2, 16, 256])
  // A third of the seeds are "crashy": faults come every few election timeouts, mostly crashes and restarts.
  const crashy = rng.chance(0.33)
  // A third of the seeds reconfigure often: many faults are membership changes.
  const reconfigure = rng.chance(0.33)
  const ids: NodeId[] = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`)
  log(`seed=${seed} nodes=${nodeCount} clients=${clientCount} safetyMs=${safetyMs} wireCodec=${useWireCodec} crashy=${crashy} reconfigure=${reconfigure} compactEvery=${compactEveryEntries} messageBytesMax=${messageBytesMax} inflight=${inflightMessagesMax}`)

  let confChangesApplied = 0
  const queue = new EventQueue<SimEvent>()
  const invariants = new RaftInvariants(report)
  const locks = new LockChecker(report)
  const history: SimHistoryOp[] = []
  const netRng = rng.fork()
  const network = new SimNetwork(netRng, useWireCodec, (at, to, m) => {
    const node = byId.get(to)
    if (node !== undefined) queue.push(at, { k: 'deliver', node, m })
  })
  const skewMs = new Map(ids.map(id => [id, rng.int(0, 50)]))
  const diskRng = rng.fork()

  const observer = {
    persisted: (n: SimNode, entries: readonly import('../../src/raft/types.js').Entry[]) => invariants.persistedEntries(n, entries),
    applied: (n: SimNode, e: import('../../src/raft/types.js').Entry, cmd: import('../../src/raft/kv-state-machine.js').KvCommand | undefined, result: import('../../src/raft/kv-state-machine.js').KvResult | undefined) => {
      const first = invariants.appliedEntry(n, e)
      if (first && e.type === 'confChange' && e.index > nodeCount) confChangesApplied++
      if (first && cmd !== undefined && result !== undefined) locks.applied(e.index, cmd, result)
    },
    restored: (n: SimNode, index: number) => log(`t=${now} ${n.id} installed snapshot @${index}`),
    send: (_n: SimNode, m: Message) => network.send(now, m),
    trace: log
  }
  const nodes = ids.map(id => new SimNode(id, {
    electionTicks, heartbeatTicks, compactEveryEntries, retainEntries: 10, messageBytesMax, inflightMessagesMax, factory: opts.factory
  }, rng.fork(), observer))
  const byId = new Map(nodes.map(n => [n.id, n]))

  const scheduleReady = (n: SimNode): void => {
    if (n.raw === null || n.readyPending || !n.raw.hasReady()) return
    n.readyPending = true
    queue.push(now + diskRng.int(0, 2), { k: 'ready', node: n, inc: n.incarnation })
  }
  const startNode = (n: SimNode, bootstrap: boolean): void => {
    n.start(bootstrap ? ids : null)
    queue.push(now + rng.int(1, tickMs), { k: 'tick', node: n, inc: n.incarnation })
    scheduleReady(n)
  }

  // ---- clients ------------------------------------------------------------------------------------------------
  const world: ClientWorld = {
    get nowMs () { return now },
    nodeIds: () => ids,
    clockOf: id => now + (skewMs.get(id) ?? 0),
    leaderHint: id => byId.get(id)?.raw?.raft.lead ?? '',
    submit: (id, cmd, data, done) => {
      const n = byId.get(id)
      if (n === undefined) return false
      const ok = n.submit(cmd, data, done)
      scheduleReady(n)
      return ok
    },
    read: (id, key, context, done) => {
      const n = byId.get(id)
      if (n === undefined) return false
      const ok = n.read(key, context, done)
      scheduleReady(n)
      return ok
    },
    schedule: (delayMs, fn) => queue.push(now + delayMs, { k: 'call', fn }),
    trace: log
  }
  const clientOpts = { keys: ['k0', 'k1', 'k2'], locks: ['L0', 'L1'], attemptTimeoutMs: 400, maxAttempts: 3 }
  const clients = Array.from({ length: clientCount }, (_, i) => new SimClient(i + 1, world, rng.fork(), clientOpts, history))

  // ---- faults -------------------------------------------------------------------------------------------------
  const faultRng = rng.fork()
  let faultsOn = true
  const leaderNode = (): SimNode | undefined => {
    let best: SimNode | undefined
    for (const n of nodes) {
      const r = n.raw?.raft
      if (r?.role === 'leader' && (best === undefined || r.term > (best.raw?.raft.term ?? 0))) best = n
    }
    return best
  }
  const injectFault = (): void => {
    const up = nodes.filter(n => n.up)
    if (reconfigure && faultRng.chance(0.4)) {
      changeMembership()
      return
    }
    const choice = crashy && faultRng.chance(0.6) ? faultRng.int(55, 69) : faultRng.int(0, 99)
    if (choice < 15) {
      // Symmetric partition: a minority (or, sometimes, a majority) is split off.
      const side = faultRng.int(1, Math.floor(nodeCount / 2))
      const cut = new Set<NodeId>()
      while (cut.size < side) cut.add(faultRng.pick(ids))
      for (const a of cut) for (const b of ids) if (!cut.has(b)) network.blockBoth(a, b)
      log(`t=${now} FAULT partition {${[...cut].join(',')}} | rest`)
    } else if (choice < 27) {
      const l = leaderNode()
      if (l !== undefined) {
        for (const b of ids) if (b !== l.id) network.blockBoth(l.id, b)
        log(`t=${now} FAULT isolate leader ${l.id}`)
      }
    } else if (choice < 37) {
      const a = faultRng.pick(ids)
      const b = faultRng.pick(ids.filter(x => x !== a))
      network.block(a, b)
      log(`t=${now} FAULT one-way ${a}->${b} blocked`)
    } else if (choice < 55) {
      network.healAll()
      log(`t=${now} FAULT heal network`)
    } else if (choice < 70) {
      if (up.length > 0) {
        // Crashy seeds mostly crash the leader, which leaves entries of its term on a minority (Figure 8).
        const leader = leaderNode()
        const victim = crashy && leader !== undefined && faultRng.chance(0.7) ? leader : faultRng.pick(up)
        victim.crash()
        log(`t=${now} FAULT crash ${victim.id}`)
        queue.push(now + (crashy ? faultRng.int(20, 400) : faultRng.int(50, 2000)), { k: 'restart', node: victim })
      }
    } else if (choice < 85) {
      network.faults = {
        lossRate: faultRng.pick([0, 0.01, 0.05, 0.2]),
        duplicateRate: faultRng.pick([0, 0.02, 0.1]),
        garbageRate: faultRng.pick([0, 0, 0.01]),
        delayMinMs: 1,
        delayMaxMs: faultRng.pick([5, 20, 60])
      }
      log(`t=${now} FAULT network ${JSON.stringify(network.faults)}`)
    } else if (choice < 91) {
      const l = leaderNode()
      if (l?.raw != null) {
        const to = faultRng.pick(ids.filter(x => x !== l.id))
        l.raw.transferLeader(to)
        scheduleReady(l)
        log(`t=${now} FAULT transfer leadership ${l.id} -> ${to}`)
      }
    } else if (choice < 97) {
      changeMembership()
    } else {
      // Clock jump on one node: its stamps move (locks must still never overlap).
      const id = faultRng.pick(ids)
      skewMs.set(id, (skewMs.get(id) ?? 0) + faultRng.int(-200, 200))
      log(`t=${now} FAULT clock skew ${id} now ${skewMs.get(id)}ms`)
    }
  }

  // Membership: the leader removes a voter (never below two), adds a removed node back as a learner, or promotes
  // a learner, one change at a time (the leader refuses a second one while the first is pending).
  const changeMembership = (): void => {
    const l = leaderNode()
    if (l?.raw == null) return
    const cs = l.raw.status().confState
    const removed = ids.filter(id => !cs.voters.includes(id) && !cs.learners.includes(id))
    let cc: import('../../src/raft/types.js').ConfChange
    if (cs.learners.length > 0) cc = { type: 'addVoter', nodeId: faultRng.pick(cs.learners) }
    else if (removed.length > 0 && faultRng.chance(0.7)) cc = { type: 'addLearner', nodeId: faultRng.pick(removed) }
    else if (cs.voters.length > 2) cc = { type: 'removeNode', nodeId: faultRng.pick(cs.voters) }
    else return
    const result = l.raw.proposeConfChange(cc)
    scheduleReady(l)
    log(`t=${now} FAULT membership ${cc.type} ${cc.nodeId} via ${l.id}: ${result}`)
  }

  // Crashy seeds also kill some leaders within milliseconds of their election, before their first entries
  // spread: the schedule behind the Raft paper's Figure 8.
  const leaderTermsSeen = new Map<NodeId, number>()
  const crashNewLeaders = (): void => {
    for (const n of nodes) {
      const r = n.raw?.raft
      if (r === undefined || r.role !== 'leader' || leaderTermsSeen.get(n.id) === r.term) continue
      leaderTermsSeen.set(n.id, r.term)
      if (faultRng.chance(0.3)) queue.push(now + faultRng.int(0, 15), { k: 'crash', node: n, inc: n.incarnation })
    }
  }

  // ---- run ----------------------------------------------------------------------------------------------------
  for (const n of nodes) startNode(n, true)
  for (const c of clients) c.start()
  queue.push(faultRng.int(100, 800), { k: 'fault' })
  queue.push(safetyMs, { k: 'heal' })
  let healAt = Infinity
  let finishedAt = -1
  const deadline = safetyMs + livenessTicks * tickMs

  const handle = (ev: SimEvent): void => {
    switch (ev.k) {
      case 'tick': {
        const n = ev.node
        if (n.incarnation !== ev.inc || n.raw === null) return
        n.raw.tick()
        scheduleReady(n)
        queue.push(now + tickMs, ev)
        return
      }
      case 'deliver': {
        const n = ev.node
        if (n.raw === null) return
        n.raw.step(ev.m)
        scheduleReady(n)
        return
      }
      case 'ready': {
        const n = ev.node
        if (n.incarnation !== ev.inc) return
        n.processReady(now)
        return
      }
      case 'fault':
        if (!faultsOn) return
        injectFault()
        queue.push(now + (crashy ? faultRng.int(10, 250) : faultRng.int(50, 1200)), { k: 'fault' })
        return
      case 'crash':
        if (!faultsOn || ev.node.incarnation !== ev.inc || !ev.node.up) return
        ev.node.crash()
        log(`t=${now} FAULT crash new leader ${ev.node.id}`)
        queue.push(now + faultRng.int(20, 400), { k: 'restart', node: ev.node })
        return
      case 'restart':
        if (ev.node.up) return
        log(`t=${now} restart ${ev.node.id}`)
        startNode(ev.node, false)
        return
      case 'heal':
        faultsOn = false
        healAt = now
        network.healAll()
        network.faults = { ...calmNetwork }
        for (const n of nodes) if (!n.up) { log(`t=${now} restart ${n.id}`); startNode(n, false) }
        log(`t=${now} HEAL: faults stop, liveness phase`)
        for (const c of clients) c.finishWithFinalOp()
        return
      case 'call':
        ev.fn()
    }
  }

  try {
    for (;;) {
      const item = queue.pop()
      if (item === undefined) break
      now = item.time
      if (now > deadline) break
      handle(item.event)
      invariants.checkLeaders(nodes)
      if (crashy && faultsOn) crashNewLeaders()
      if (healAt !== Infinity && clients.every(c => c.finalDone)) {
        finishedAt = now
        break
      }
    }
  } catch (err) {
    report('crash', err instanceof Error ? (err.stack ?? err.message) : String(err))
  }
  if (finishedAt < 0 && !violations.some(v => v.kind === 'crash')) {
    const waiting = clients.filter(c => !c.finalDone).map(c => c.name)
    for (const n of nodes) {
      const r = n.raw?.raft
      if (r === undefined) { log(`  ${n.id}: down`); continue }
      const st = n.raw?.status()
      log(`  ${n.id}: ${JSON.stringify(st)} first=${r.log.firstIndex()} snap=${n.storage.snapshot().metadata.index}`)
      if (r.role === 'leader') {
        for (const [id, pr] of r.trk.progress) log(`    progress ${id}: match=${pr.match} next=${pr.next} state=${pr.state} paused=${pr.isPaused()} inflight=${pr.inflights.count()} active=${pr.recentActive}`)
      }
    }
    report('liveness', `no leader or unfinished operations ${livenessTicks} ticks after faults stopped (clients waiting: ${waiting.join(', ')}; leader: ${leaderNode()?.id ?? 'none'})`)
  }
  for (const c of clients) c.abandon()

  if (opts.skipLinearizability !== true && !violations.some(v => v.kind === 'crash')) {
    const result = checkLinearizable(strongOpsModel, history, { maxStates: 2_000_000 })
    if (result.ok === false) report('linearizability', result.explanation)
    else if (result.ok === 'unknown') log(`linearizability: unknown (${result.reason})`)
  }

  return {
    seed,
    ok: violations.length === 0,
    violations,
    nodes: nodeCount,
    clients: clientCount,
    ops: history.length,
    unknownOps: history.filter(h => h.output === undefined).length,
    lockGrants: locks.grants,
    confChanges: confChangesApplied,
    crashes: nodes.reduce((sum, n) => sum + n.incarnation, 0),
    messages: network.stats.sent,
    virtualMs: now,
    recoveryMs: finishedAt >= 0 ? finishedAt - healAt : -1,
    trace
  }
}
