// A Jepsen-style test of one real node process (issue 13.1). `clients` concurrent HTTP clients read, write, delete
// and compare-and-swap `keys` keys of a `gitconfig node start` process (the built CLI, through bin/gitconfig, as users
// run it); with `kill`, the node is killed with SIGKILL at random moments and restarted on the same repository. Every
// op is recorded with its call and return times and its outcome, and each key's history is checked with the project's
// linearizability checker (test/sim/linearizability.ts) against the register model of test/sim/models.ts.
//
// The history follows the checker's conventions (docs/merge.md):
// - Times are microseconds since the run began (performance.now()), strictly increasing across all clients, so "A
//   returned, then B was called" is always "A before B".
// - An op known to have had no effect is left out: a refused connection (the request never reached a node) and
//   503 UNAVAILABLE (a node refusing while it shuts down).
// - An op whose outcome is unknown (connection reset, reply cut off, timeout, any other 5xx) gets returnTime
//   Infinity; such a read is left out, since a read has no effect either way.
// - Values are never empty (the API reads an empty `expected` as "absent", the model does not) and every written
//   value is unique (`<client>.<seq>`), so a read names the one write it saw.
//
// Every `roundMs` of load the clients move on to fresh keys (`/jepsen/r<round>/k<i>`). Keys are independent
// registers, so this splits a long run into short per-key histories the checker decides quickly, and keeps the ops
// whose outcome a kill made unknown (each stays pending to the end of its key's history) few per key. After the
// load (and, with `kill`, one more kill and restart) one final read of every key pins the state the node kept: an
// acknowledged write that did not survive a restart shows up as a read the checker cannot place.
//
// One seed decides the workload (each client's ops, keys and values) and the kill schedule; the node's timing is
// real, so replaying a seed replays the schedule, not the interleaving.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { checkLinearizable, linearizabilityStatesMaxDefault, type CheckResult } from '../sim/linearizability.js'
import { strongOpsModel, type SimHistoryOp, type SimOutput } from '../sim/models.js'
import { SimRandom } from '../sim/random.js'
import { startNodeProcess, type Launch, type NodeProcess } from './cli.js'
import { clientAgent, effectOf, perform, type Effect, type RegisterInput } from './jepsen-client.js'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))

/** The op kinds of the workload, with their relative weights. */
export interface OpMix { readonly get: number, readonly put: number, readonly cas: number, readonly delete: number }

export interface JepsenOptions {
  readonly seed: number
  readonly clients: number
  readonly keys: number
  /** Load, in ms of node up-time: the time restarts take does not count. */
  readonly loadMs: number
  /** Every roundMs of load the clients move on to fresh keys (see the header). */
  readonly roundMs: number
  /** SIGKILL the node at random moments and restart it on the same repository. */
  readonly kill: boolean
  /** Up-time before each kill, drawn uniformly from [min, max] ms. */
  readonly killGapMs: readonly [number, number]
  readonly mix: OpMix
  /** A request without an answer by then has an unknown outcome. */
  readonly opTimeoutMs: number
  /** How long a node may take to print its banner: a hang guard, not a speed target. */
  readonly startTimeoutMs: number
  /** The checker's search bound per key (maxStates): beyond it a key is undecided, never passed. */
  readonly statesMax: number
}

export const jepsenDefaults = {
  clients: 6,
  keys: 3,
  loadMs: 3_000,
  roundMs: 1_000,
  kill: false,
  killGapMs: [300, 1_200],
  mix: { get: 35, put: 20, cas: 35, delete: 10 },
  opTimeoutMs: 10_000,
  startTimeoutMs: 60_000,
  statesMax: linearizabilityStatesMaxDefault
} as const satisfies Omit<JepsenOptions, 'seed'>

/** Upper limits of the options: a run stays within one machine's means. */
const limits = { clients: 256, keys: 1_000, loadMs: 24 * 3_600_000, opTimeoutMs: 600_000 } as const

/** Fills defaults and rejects bad settings; the result is frozen. */
export function jepsenOptions (input: Partial<JepsenOptions> & { readonly seed: number }): JepsenOptions {
  const o: JepsenOptions = { ...jepsenDefaults, ...input }
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${v}`)
  }
  int('seed', o.seed, 0, 0x7fffffff)
  int('clients', o.clients, 1, limits.clients)
  int('keys', o.keys, 1, limits.keys)
  int('loadMs', o.loadMs, 1, limits.loadMs)
  int('roundMs', o.roundMs, 1, limits.loadMs)
  int('killGapMs[0]', o.killGapMs[0], 1, limits.loadMs)
  int('killGapMs[1]', o.killGapMs[1], o.killGapMs[0], limits.loadMs)
  int('opTimeoutMs', o.opTimeoutMs, 1, limits.opTimeoutMs)
  int('startTimeoutMs', o.startTimeoutMs, 1, limits.opTimeoutMs)
  int('statesMax', o.statesMax, 1, Number.MAX_SAFE_INTEGER)
  for (const [kind, w] of Object.entries(o.mix)) int(`mix.${kind}`, w, 0, 1_000)
  if (o.mix.get + o.mix.put + o.mix.cas + o.mix.delete === 0) throw new Error('mix: some op kind needs a weight')
  return Object.freeze({ ...o, killGapMs: Object.freeze([o.killGapMs[0], o.killGapMs[1]] as const), mix: Object.freeze({ ...o.mix }) })
}

/** One key's history and the checker's answer. */
export interface KeyVerdict {
  readonly key: string
  readonly ops: number
  readonly unknownOps: number
  readonly result: CheckResult
  /** For a key that is not linearizable: the reply that made it so (see firstViolation). */
  readonly first: FirstViolation | null
  readonly checkMs: number
}

/**
 * The earliest moment a history stops being linearizable: the reply of `culprit` (at its returnTime) makes the
 * history of everything called up to then non-linearizable, while everything called up to the reply before it was
 * still linearizable. `explanation` is the checker's, on that shortest prefix.
 */
export interface FirstViolation {
  readonly culprit: SimHistoryOp
  readonly explanation: string
}

export interface JepsenResult {
  readonly options: JepsenOptions
  /** Every op of the history, all keys together, in the order they returned (unknown outcomes last). */
  readonly history: readonly SimHistoryOp[]
  /** Outcomes by kind, e.g. `cas:swapped`, `get:absent`, `unknown`, `no-effect`. */
  readonly counts: Readonly<Record<string, number>>
  /** Replies the API does not document for the request (each also counted as an unknown outcome). */
  readonly unexpected: readonly string[]
  /** Node exits nobody asked for, with the end of their stderr. */
  readonly crashes: readonly string[]
  readonly kills: number
  /** How long each restart took to its banner. */
  readonly restartMs: readonly number[]
  readonly rounds: number
  readonly verdicts: readonly KeyVerdict[]
  readonly wallMs: number
}

export type Verdict = 'linearizable' | 'not linearizable' | 'undecided'

export function verdictOf (r: JepsenResult): Verdict {
  if (r.verdicts.some(v => v.result.ok === false)) return 'not linearizable'
  return r.verdicts.some(v => v.result.ok === 'unknown') ? 'undecided' : 'linearizable'
}

/**
 * Fails with a clear message unless dist/ holds a build at least as new as every source file: the test runs the
 * built CLI, and a stale build would test yesterday's code.
 */
export function assertBuilt (): void {
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const built = join(root, 'dist', relative(root, path)).replace(/\.ts$/, '.js')
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs) stale.push(relative(root, path))
      }
    }
  }
  walk(join(root, 'src'))
  if (stale.length > 0) {
    throw new Error(`dist/ is missing or older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: ` +
      'run `npm run build` (this test runs the built CLI, bin/gitconfig)')
  }
}

/**
 * Runs one test: start a node, load it (killing it if asked), read every key once more, stop it, check. `log` hears
 * of every kill; `signal` cuts the load short (the run then rejects, after stopping the node and removing its folder).
 * A node that never printed its banner is not known here: the caller's stopAll() (test/support/cli.ts) ends it.
 */
export async function runJepsen (options: JepsenOptions, opts: { log?: (line: string) => void, signal?: AbortSignal } = {}): Promise<JepsenResult> {
  assertBuilt()
  const o = options
  const log = opts.log ?? (() => {})
  const started = performance.now()
  const rng = new SimRandom(o.seed)
  const events = schedule(o, rng.fork())
  const clientRngs = Array.from({ length: o.clients }, () => rng.fork())
  const dir = await mkdtemp(join(tmpdir(), 'gitconfig-jepsen-'))
  const node = new NodeUnderTest(join(dir, 'repo'), o.startTimeoutMs)
  const rec = new Recorder()
  const load = { round: 0 }
  let clients: Promise<Array<PromiseSettledResult<void>>> | null = null
  try {
    await node.start()
    clients = Promise.allSettled(clientRngs.map((r, id) => runClient(id, r, o, node, load, rec)))
    const { kills, restartMs } = await drive(o, events, node, load, log, opts.signal)
    const failed = (await clients).find(c => c.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
    if (o.kill) restartMs.push(await node.restart())
    await finalReads(o, node, load.round, rec)
    await node.stop()
    const verdicts = checkHistory(rec.history, o.statesMax)
    return {
      options: o,
      history: rec.history,
      counts: Object.fromEntries([...rec.counts].sort(([a], [b]) => a.localeCompare(b))),
      unexpected: rec.unexpected,
      crashes: node.crashes,
      kills,
      restartMs,
      rounds: load.round + 1,
      verdicts,
      wallMs: Math.round(performance.now() - started)
    }
  } finally {
    node.end()
    await node.kill()
    if (clients !== null) await clients
    await rm(dir, { recursive: true, force: true })
  }
}

/** Checks each key's history on its own (keys are independent registers), in key order. */
export function checkHistory (history: readonly SimHistoryOp[], statesMax: number = linearizabilityStatesMaxDefault): KeyVerdict[] {
  const byKey = new Map<string, SimHistoryOp[]>()
  for (const op of history) {
    const key = keyOf(op)
    const list = byKey.get(key)
    if (list === undefined) byKey.set(key, [op])
    else list.push(op)
  }
  return [...byKey.keys()].sort().map(key => {
    const ops = byKey.get(key) ?? []
    const t = performance.now()
    const result = checkLinearizable(strongOpsModel, ops, { maxStates: statesMax })
    const first = result.ok === false ? firstViolation(ops, statesMax) : null
    return { key, ops: ops.length, unknownOps: ops.filter(op => op.returnTime === Infinity).length, result, first, checkMs: Math.round(performance.now() - t) }
  })
}

/**
 * The history as it stood at time `t`: the ops called by then, those still running with an unknown outcome (reads
 * among them left out). If the whole history is linearizable, so is every such prefix (drop from a linearization
 * the ops placed after t), so the prefixes that are not linearizable are those from some reply on, which a binary
 * search over the replies finds. A prefix the checker cannot decide counts as linearizable here.
 */
export function prefixAt (ops: readonly SimHistoryOp[], t: number): SimHistoryOp[] {
  const out: SimHistoryOp[] = []
  for (const op of ops) {
    if (op.callTime > t) continue
    if (op.returnTime <= t) out.push(op)
    else if (op.input.kind !== 'get') out.push({ ...op, output: undefined, returnTime: Infinity })
  }
  return out
}

/** The shortest non-linearizable prefix of a non-linearizable history (see prefixAt), or null if there is none. */
export function firstViolation (ops: readonly SimHistoryOp[], statesMax: number = linearizabilityStatesMaxDefault): FirstViolation | null {
  const replies = ops.filter(op => op.returnTime !== Infinity).sort((a, b) => a.returnTime - b.returnTime)
  const failing = (i: number): CheckResult => checkLinearizable(strongOpsModel, prefixAt(ops, replies[i].returnTime), { maxStates: statesMax })
  let hi = replies.length - 1
  let last = hi >= 0 ? failing(hi) : null
  if (last === null || last.ok !== false) return null
  let lo = 0
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    const r = failing(mid)
    if (r.ok === false) {
      hi = mid
      last = r
    } else lo = mid + 1
  }
  return { culprit: replies[hi], explanation: last.ok === false ? last.explanation : '' }
}

/** One op in a line: `c1 cas(null -> "1.3") -> refused, current "0.2" [1227806, 1258000]`. */
export function describeOp (op: SimHistoryOp): string {
  const v = (x: string | null): string => x === null ? 'absent' : JSON.stringify(x)
  const i = op.input
  const call = i.kind === 'put' ? `put ${v(i.value)}` : i.kind === 'cas' ? `cas(${i.expected === null ? 'null' : v(i.expected)} -> ${v(i.value)})` : i.kind
  const o = op.output
  const out = o === undefined
    ? '?'
    : o.kind === 'get' ? v(o.value)
      : o.kind === 'delete' ? (o.deleted ? 'deleted' : 'absent')
        : o.kind === 'cas' ? (o.swapped ? 'swapped' : `refused, current ${v(o.current)}`)
          : 'ok'
  return `c${op.clientId} ${call} -> ${out} [${op.callTime}, ${op.returnTime === Infinity ? '?' : op.returnTime}]`
}

function keyOf (op: SimHistoryOp): string {
  if (!('key' in op.input)) throw new Error(`not a register op: ${op.input.kind}`)
  return op.input.key
}

/**
 * One line about a run, then one per key that is not linearizable or undecided: the first `detailedMax` of them with
 * the checker's explanation of their shortest failing prefix, the others with the reply that broke them.
 */
export function describeRun (r: JepsenResult, detailedMax = 3): string[] {
  const o = r.options
  const counts = Object.entries(r.counts).map(([k, n]) => `${k}=${n}`).join(' ')
  const checkMs = r.verdicts.reduce((s, v) => s + v.checkMs, 0)
  const longest = Math.max(0, ...r.verdicts.map(v => v.ops))
  const lines = [
    `seed ${o.seed}: ${verdictOf(r).toUpperCase()}; ${r.history.length} ops on ${r.verdicts.length} keys ` +
    `(${r.rounds} rounds of ${o.keys}, longest ${longest} ops), ${o.clients} clients, ${o.loadMs} ms of load, ` +
    `${r.kills} kills${r.restartMs.length > 0 ? ` (restarts ${r.restartMs.map(ms => Math.round(ms)).join('/')} ms)` : ''}, ` +
    `checked in ${checkMs} ms, ${r.wallMs} ms in all; ${counts}`
  ]
  let detailed = 0
  for (const v of r.verdicts) {
    const head = `${v.key} (${v.ops} ops, ${v.unknownOps} unknown)`
    if (v.result.ok === false) {
      const explain = detailed++ < detailedMax
      const from = v.first === null ? '' : `, from the reply of ${describeOp(v.first.culprit)} on (times in µs)`
      const why = !explain ? '' : v.first === null ? `: ${v.result.explanation}` : `. The shortest failing prefix: ${v.first.explanation}`
      lines.push(`  NOT LINEARIZABLE ${head}${from}${why}`)
    }
    if (v.result.ok === 'unknown') lines.push(`  UNDECIDED ${head}: ${v.result.reason}`)
  }
  for (const c of r.crashes) lines.push(`  CRASH: the node exited by itself: ${c}`)
  for (const u of r.unexpected.slice(0, 10)) lines.push(`  UNEXPECTED reply: ${u}`)
  return lines
}

// ---------------------------------------------------------------- the run's parts

interface Event { readonly atMs: number, readonly kind: 'round' | 'kill' }

/** Round changes every roundMs and, with `kill`, kills at random gaps; positions are ms of load (node up-time). */
function schedule (o: JepsenOptions, rng: SimRandom): Event[] {
  const events: Event[] = []
  for (let at = o.roundMs; at < o.loadMs; at += o.roundMs) events.push({ atMs: at, kind: 'round' })
  if (o.kill) {
    for (let at = rng.int(...o.killGapMs); at < o.loadMs; at += rng.int(...o.killGapMs)) events.push({ atMs: at, kind: 'kill' })
  }
  return events.sort((a, b) => a.atMs - b.atMs || (a.kind === b.kind ? 0 : a.kind === 'kill' ? -1 : 1))
}

/**
 * Plays the schedule while the clients run. The node is up while this waits (only this function kills it), so the
 * waits measure up-time. With `kill` the load ends with a kill too, while the clients' last ops are in flight.
 */
async function drive (o: JepsenOptions, events: readonly Event[], node: NodeUnderTest, load: { round: number },
  log: (line: string) => void, signal: AbortSignal | undefined): Promise<{ kills: number, restartMs: number[] }> {
  let atMs = 0
  let kills = 0
  const restartMs: number[] = []
  for (const e of events) {
    await delay(e.atMs - atMs, undefined, { signal })
    atMs = e.atMs
    if (e.kind === 'round') {
      load.round++
      continue
    }
    await node.kill()
    kills++
    restartMs.push(await node.restart())
    log(`kill ${kills} at ${atMs} ms of load; restarted in ${Math.round(restartMs[restartMs.length - 1])} ms`)
  }
  await delay(o.loadMs - atMs, undefined, { signal })
  node.end()
  if (o.kill) {
    await node.kill()
    kills++
  }
  return { kills, restartMs }
}

async function runClient (id: number, rng: SimRandom, o: JepsenOptions, node: NodeUnderTest, load: { round: number }, rec: Recorder): Promise<void> {
  const agent = clientAgent()
  const lastSeen = new Map<string, string | null>()
  let refusedBy: string | null = null
  let seq = 0
  try {
    while (true) {
      const url = await node.up(refusedBy)
      if (url === null) return
      const key = `/jepsen/r${load.round}/k${rng.int(0, o.keys - 1)}`
      const input = chooseOp(rng, o.mix, key, `${id}.${++seq}`, lastSeen)
      const callTime = rec.now()
      const reply = await perform(agent, url, input, o.opTimeoutMs)
      const returnTime = rec.now()
      const effect = effectOf(input, reply)
      rec.add(id, input, effect, callTime, returnTime)
      if (effect.kind === 'done') observe(lastSeen, input, effect.output)
      // After a refusal, wait for the node at another address (a restart) instead of retrying this one.
      refusedBy = reply.kind === 'refused' ? url : null
    }
  } finally {
    agent.destroy()
  }
}

function chooseOp (rng: SimRandom, mix: OpMix, key: string, value: string, lastSeen: ReadonlyMap<string, string | null>): RegisterInput {
  const n = rng.int(0, mix.get + mix.put + mix.cas + mix.delete - 1)
  if (n < mix.get) return { kind: 'get', key }
  if (n < mix.get + mix.put) return { kind: 'put', key, value }
  if (n < mix.get + mix.put + mix.cas) {
    // Mostly the value this client last saw, so some CAS swap; otherwise "absent".
    const expected = rng.chance(0.75) ? (lastSeen.get(key) ?? null) : null
    return { kind: 'cas', key, expected, value }
  }
  return { kind: 'delete', key }
}

function observe (lastSeen: Map<string, string | null>, input: RegisterInput, output: SimOutput): void {
  if (output.kind === 'get') lastSeen.set(input.key, output.value)
  else if (input.kind === 'put') lastSeen.set(input.key, input.value)
  else if (input.kind === 'delete') lastSeen.set(input.key, null)
  else if (input.kind === 'cas' && output.kind === 'cas') lastSeen.set(input.key, output.swapped ? input.value : output.current)
}

/** One read of every key of every round, one at a time, after every client has stopped. */
async function finalReads (o: JepsenOptions, node: NodeUnderTest, lastRound: number, rec: Recorder): Promise<void> {
  const url = node.url
  if (url === null) throw new Error('the node is not up for the final reads')
  const agent = clientAgent()
  try {
    for (let round = 0; round <= lastRound; round++) {
      for (let k = 0; k < o.keys; k++) {
        const input: RegisterInput = { kind: 'get', key: `/jepsen/r${round}/k${k}` }
        const callTime = rec.now()
        const reply = await perform(agent, url, input, o.opTimeoutMs)
        rec.add(o.clients, input, effectOf(input, reply), callTime, rec.now())
      }
    }
  } finally {
    agent.destroy()
  }
}

/** The history being recorded, its clock and its counts. */
class Recorder {
  readonly history: SimHistoryOp[] = []
  readonly counts = new Map<string, number>()
  readonly unexpected: string[] = []
  private readonly t0 = performance.now()
  private lastUs = -1

  /** Microseconds since the run began, strictly increasing. */
  now (): number {
    const us = Math.max(Math.round((performance.now() - this.t0) * 1000), this.lastUs + 1)
    this.lastUs = us
    return us
  }

  add (clientId: number, input: RegisterInput, effect: Effect, callTime: number, returnTime: number): void {
    this.count(label(input, effect))
    if (effect.kind === 'unexpected') this.unexpected.push(effect.reason)
    if (effect.kind === 'none') return
    if (effect.kind === 'done') {
      this.history.push({ clientId, input, output: effect.output, callTime, returnTime })
      return
    }
    if (input.kind !== 'get') this.history.push({ clientId, input, output: undefined, callTime, returnTime: Infinity })
  }

  private count (what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1)
  }
}

function label (input: RegisterInput, effect: Effect): string {
  if (effect.kind !== 'done') return effect.kind === 'none' ? 'no-effect' : effect.kind
  const out = effect.output
  switch (out.kind) {
    case 'get': return out.value === null ? 'get:absent' : 'get:value'
    case 'put': return 'put:ok'
    case 'delete': return out.deleted ? 'delete:deleted' : 'delete:absent'
    case 'cas': return out.swapped ? 'cas:swapped' : 'cas:refused'
    default: return `${input.kind}:?`
  }
}

/** The node process across kills and restarts, and the clients' wait for it. */
class NodeUnderTest {
  private proc: NodeProcess | null = null
  url: string | null = null
  private over = false
  private readonly waiters = new Set<() => void>()
  /** Exits nobody asked for. */
  readonly crashes: string[] = []

  constructor (private readonly repo: string, private readonly startTimeoutMs: number) {}

  /** Starts a node on the repository and waits for its banner; resolves with how long that took. */
  async restart (): Promise<number> {
    const t = performance.now()
    await this.start()
    return performance.now() - t
  }

  async start (): Promise<void> {
    if (this.proc !== null) throw new Error('the node is already running')
    const launch: Launch = { command: join(root, 'bin', 'gitconfig'), args: ['node', 'start'], cwd: root }
    const proc = await startNodeProcess(['--repo', this.repo, '--log-level', 'warn'], this.startTimeoutMs, launch)
    proc.child.once('exit', (code, signal) => {
      if (this.proc !== proc) return
      this.crashes.push(`exit ${code ?? signal}; stderr: ${proc.output().stderr.slice(-2_000)}`)
      this.proc = null
      this.url = null
    })
    this.proc = proc
    this.url = proc.url
    this.wake()
  }

  /** SIGKILL (kill -9), and waits for the exit. */
  async kill (): Promise<void> {
    await this.halt('SIGKILL')
  }

  /** SIGTERM, and waits for the exit. */
  async stop (): Promise<void> {
    await this.halt('SIGTERM')
  }

  private async halt (signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc
    this.proc = null
    this.url = null
    if (proc !== null) await proc.stop(signal)
  }

  /** No client starts another op. */
  end (): void {
    this.over = true
    this.wake()
  }

  /** The node's address once it is up at an address other than `not`; null once the load is over. */
  async up (not: string | null): Promise<string | null> {
    while (true) {
      if (this.over) return null
      if (this.url !== null && this.url !== not) return this.url
      await new Promise<void>(resolve => this.waiters.add(resolve))
    }
  }

  private wake (): void {
    for (const w of this.waiters) w()
    this.waiters.clear()
  }
}
