// Raft benchmark: an in-process cluster of real RawNodes over MemoryStorage, no I/O, messages delivered
// synchronously. Prints two tables:
//   1. committed proposals per second on 3 nodes, for several proposal batch sizes (proposals per Ready round);
//   2. ticks until a new leader after the leader crashes, as a distribution over 1,000 seeds.
// Run: npm run bench:raft
import { RawNode } from '../src/raft/raw-node.js'
import { MemoryStorage } from '../src/raft/storage-memory.js'
import { decodeConfChange } from '../src/raft/conf-change.js'
import type { Message, NodeId } from '../src/raft/types.js'
import { SimRandom } from '../test/sim/random.js'

const electionTicks = 10

interface BenchNode { id: NodeId, node: RawNode, storage: MemoryStorage, up: boolean, appliedCount: number }

export function makeCluster (ids: readonly NodeId[], seed: number): BenchNode[] {
  const rng = new SimRandom(seed)
  return ids.map(id => {
    const storage = new MemoryStorage()
    const r = rng.fork()
    const node = new RawNode({ id, electionTicks, heartbeatTicks: 1, random: n => r.int(0, n - 1) }, storage)
    node.bootstrap(ids)
    return { id, node, storage, up: true, appliedCount: 0 }
  })
}

/** Runs every live node's host loop and delivers messages until quiet. */
export function settle (nodes: BenchNode[]): void {
  const byId = new Map(nodes.map(n => [n.id, n]))
  for (;;) {
    const outbox: Message[] = []
    for (const n of nodes) {
      if (!n.up) continue
      while (n.node.hasReady()) {
        const rd = n.node.ready()
        if (rd.hardState !== null) n.storage.setHardState(rd.hardState)
        n.storage.append(rd.entries)
        for (const m of rd.messages) outbox.push(m)
        for (const e of rd.committedEntries) {
          if (e.type === 'confChange') {
            const cc = decodeConfChange(e.data)
            if (cc !== undefined) n.node.applyConfChange(cc)
          } else if (e.data.byteLength > 0) n.appliedCount++
        }
        n.node.advance(rd)
      }
    }
    if (outbox.length === 0) return
    for (const m of outbox) {
      const to = byId.get(m.to)
      if (to !== undefined && to.up && byId.get(m.from)?.up === true) to.node.step(m)
    }
  }
}

export function leaderOf (nodes: BenchNode[]): BenchNode | undefined {
  return nodes.find(n => n.up && n.node.raft.role === 'leader')
}

export function tickAll (nodes: BenchNode[]): void {
  for (const n of nodes) if (n.up) n.node.tick()
  settle(nodes)
}

function throughput (batch: number, total: number): { perSecond: number, committed: number } {
  const nodes = makeCluster(['a', 'b', 'c'], 1)
  settle(nodes)
  nodes[0].node.campaign()
  settle(nodes)
  const leader = leaderOf(nodes)
  if (leader === undefined) throw new Error('no leader')
  const payload = new Uint8Array(100).fill(7)
  const started = performance.now()
  let proposed = 0
  while (proposed < total) {
    for (let i = 0; i < batch && proposed < total; i++, proposed++) leader.node.propose(payload)
    settle(nodes)
  }
  const seconds = (performance.now() - started) / 1000
  const committed = Math.min(...nodes.map(n => n.appliedCount))
  return { perSecond: committed / seconds, committed }
}

/**
 * Ticks from a leader crash until another node leads. `phased`: each node ticks at its own random phase within a
 * tick (as separate machines do); otherwise all nodes tick in lockstep, the worst case for split votes, since two
 * followers whose randomised timeouts are equal then time out at the same instant.
 */
export function ticksToNewLeader (seed: number, phased: boolean): number {
  const nodes = makeCluster(['a', 'b', 'c'], seed)
  settle(nodes)
  for (let t = 0; t < 200 && leaderOf(nodes) === undefined; t++) tickAll(nodes)
  const old = leaderOf(nodes)
  if (old === undefined) throw new Error(`seed ${seed}: no first leader`)
  tickAll(nodes)
  old.up = false
  const stepsPerTick = 100
  const phaseRng = new SimRandom(seed + 1_000_000)
  const phase = new Map(nodes.map(n => [n.id, phased ? phaseRng.int(0, stepsPerTick - 1) : 0]))
  for (let step = 1; step <= 1000 * stepsPerTick; step++) {
    for (const n of nodes) if (n.up && step % stepsPerTick === phase.get(n.id)) n.node.tick()
    settle(nodes)
    const l = leaderOf(nodes)
    if (l !== undefined && l !== old) return step / stepsPerTick
  }
  return Infinity
}

function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]
}

function main (): void {
  console.log('Raft benchmark (in-process, 3 nodes, no I/O, 100-byte proposals)')
  console.log('')
  console.log('| proposals per Ready round | committed | committed proposals/s |')
  console.log('|---|---|---|')
  for (const batch of [1, 16, 256, 1024]) {
    const total = batch === 1 ? 20_000 : 200_000
    throughput(batch, Math.min(total, 5000)) // warm-up
    const r = throughput(batch, total)
    console.log(`| ${batch} | ${r.committed} | ${Math.round(r.perSecond).toLocaleString('en-US')} |`)
  }
  console.log('')
  const seeds = 1000
  console.log(`Ticks from leader crash to a new leader, ${seeds} seeds (electionTicks=${electionTicks}, heartbeatTicks=1, PreVote and CheckQuorum on)`)
  console.log('')
  console.log('| tick phases | min | p50 | p90 | p99 | max | within 2 election timeouts |')
  console.log('|---|---|---|---|---|---|---|')
  for (const phased of [true, false]) {
    const ticks: number[] = []
    for (let s = 1; s <= seeds; s++) ticks.push(ticksToNewLeader(s, phased))
    ticks.sort((x, y) => x - y)
    const within2 = ticks.filter(t => t <= 2 * electionTicks).length
    const f = (t: number): string => t.toFixed(1)
    console.log(`| ${phased ? 'independent per node' : 'lockstep (worst case)'} | ${f(ticks[0])} | ${f(percentile(ticks, 50))} | ${f(percentile(ticks, 90))} | ${f(percentile(ticks, 99))} | ${f(ticks[ticks.length - 1])} | ${(100 * within2 / seeds).toFixed(1)}% |`)
  }
}

if (process.argv[2] !== "--no-main") main()
