// Simulated clients: each runs one operation at a time (cas, put, get, delete, lock, renew, unlock) against some
// node, retries a timed-out attempt (with the same sequence number, so the state machine's duplicate detection is
// exercised) at another node, and records a history for the linearizability checker. An operation that was never
// proposed is a definite failure and is left out of the history; a write that may have been proposed but got no
// answer is recorded with an unknown outcome; a read that got no answer had no effect and is left out.
import { encodeCommand } from '../../src/strong/kv-state-machine.js'
import type { KvCommand, KvOp, KvResult } from '../../src/strong/kv-state-machine.js'
import type { NodeId } from '../../src/raft/types.js'
import type { SimInput, SimOutput, SimHistoryOp } from './models.js'
import type { SimRandom } from './random.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface ClientWorld {
  nowMs (): number
  nodeIds (): readonly NodeId[]
  /** The node's wall clock (virtual time plus its skew), used to stamp commands. */
  clockOf (node: NodeId): number
  /** The leader the node believes in, or '' (clients follow redirects). */
  leaderHint (node: NodeId): NodeId
  submit (node: NodeId, cmd: KvCommand, data: Uint8Array, done: (r: KvResult) => void): boolean
  read (node: NodeId, key: string, context: Uint8Array, done: (r: KvResult) => void): boolean
  schedule (delayMs: number, fn: () => void): void
  trace (line: string): void
}

export interface ClientOptions {
  readonly keys: readonly string[]
  readonly locks: readonly string[]
  readonly attemptTimeoutMs: number
  readonly maxAttempts: number
}

interface Current {
  readonly input: SimInput
  readonly cmd: KvCommand | null
  readonly callTime: number
  attempts: number
  attemptId: number
  mayHaveApplied: boolean
  readonly final: boolean
}

export class SimClient {
  readonly name: string
  private seq = 0
  private current: Current | null = null
  private preferred: NodeId
  private readonly tokens = new Map<string, number>()
  private readonly lastSeen = new Map<string, string | null>()
  /** Stop starting new operations (the liveness phase switches this on after one final operation). */
  private stopAfterFinal = false
  finalDone = false
  running = true

  constructor (
    readonly id: number,
    private readonly world: ClientWorld,
    private readonly rng: SimRandom,
    private readonly opts: ClientOptions,
    private readonly history: SimHistoryOp[]
  ) {
    this.name = `c${id}`
    this.preferred = rng.pick(world.nodeIds())
  }

  get busy (): boolean { return this.current !== null }

  start (): void { this.world.schedule(this.rng.int(0, 20), () => this.next(false)) }

  /** Liveness phase: finish the current operation, run one more that must succeed, then stop. */
  finishWithFinalOp (): void {
    this.stopAfterFinal = true
    if (this.current === null) this.next(true)
  }

  private next (final: boolean): void {
    if (!this.running || this.current !== null) return
    if (this.stopAfterFinal && !final) return // a think-time wake-up from before the liveness phase
    const input = final ? { kind: 'get' as const, key: this.rng.pick(this.opts.keys) } : this.chooseInput()
    this.seq++
    const cmd = input.kind === 'get' ? null : this.toCommand(input)
    this.current = { input, cmd, callTime: this.world.nowMs(), attempts: 0, attemptId: 0, mayHaveApplied: false, final }
    this.world.trace(`t=${this.world.nowMs()} ${this.name} invoke ${JSON.stringify(input)}`)
    this.attempt()
  }

  /** At the end of a run: an operation still in flight may or may not take effect. */
  abandon (): void {
    const cur = this.current
    this.running = false
    if (cur === null) return
    if (cur.cmd !== null && cur.mayHaveApplied) {
      this.history.push({ clientId: this.id, input: cur.input, output: undefined, callTime: cur.callTime, returnTime: Infinity })
    }
    this.current = null
  }

  private chooseInput (): SimInput {
    const r = this.rng.int(0, 99)
    const key = this.rng.pick(this.opts.keys)
    const lock = this.rng.pick(this.opts.locks)
    const nowMs = this.world.clockOf(this.preferred)
    const value = `${this.name}.${this.seq + 1}`
    if (r < 22) return { kind: 'put', key, value }
    if (r < 40) {
      const expected = this.rng.chance(0.8) ? (this.lastSeen.get(key) ?? null) : null
      return { kind: 'cas', key, expected, value }
    }
    if (r < 60) return { kind: 'get', key }
    if (r < 66) return { kind: 'delete', key }
    const held = this.tokens.get(lock)
    if (r < 82 || held === undefined) return { kind: 'lock', name: lock, holder: this.name, ttlMs: this.rng.int(50, 1500), nowMs }
    if (r < 90) return { kind: 'renew', name: lock, token: held, ttlMs: this.rng.int(50, 1500), nowMs }
    return { kind: 'unlock', name: lock, token: held, nowMs }
  }

  private toCommand (input: SimInput): KvCommand {
    let op: KvOp
    switch (input.kind) {
      case 'put': op = { op: 'put', key: input.key, value: encoder.encode(input.value) }; break
      case 'delete': op = { op: 'delete', key: input.key }; break
      case 'cas': op = { op: 'cas', key: input.key, expected: input.expected === null ? null : encoder.encode(input.expected), value: encoder.encode(input.value) }; break
      case 'get': op = { op: 'get', key: input.key }; break
      case 'lock': op = { op: 'lock', name: input.name, holder: input.holder, ttlMs: input.ttlMs }; break
      case 'renew': op = { op: 'renew', name: input.name, token: input.token, ttlMs: input.ttlMs }; break
      case 'unlock': op = { op: 'unlock', name: input.name, token: input.token }; break
    }
    const nowMs = 'nowMs' in input ? input.nowMs : this.world.clockOf(this.preferred)
    return { clientId: this.name, seq: this.seq, nowMs, op }
  }

  private attempt (): void {
    const cur = this.current
    if (cur === null) return
    cur.attempts++
    const attemptId = ++cur.attemptId
    const seq = this.seq
    const node = cur.attempts === 1 ? this.preferred : this.rng.pick(this.world.nodeIds())
    const done = (r: KvResult): void => { this.onResult(seq, node, r) }
    let accepted: boolean
    this.world.trace(`t=${this.world.nowMs()} ${this.name} attempt ${cur.attempts} of seq ${seq} at ${node}`)
    if (cur.cmd === null) {
      const key = cur.input.kind === 'get' ? cur.input.key : ''
      accepted = this.world.read(node, key, encoder.encode(`${this.name}:${seq}:${attemptId}`), done)
    } else {
      accepted = this.world.submit(node, cur.cmd, encodeCommand(cur.cmd), done)
      if (accepted) cur.mayHaveApplied = true
    }
    if (accepted) {
      this.world.schedule(this.opts.attemptTimeoutMs, () => this.onTimeout(seq, attemptId))
    } else {
      // Not even proposed: follow the node's leader hint and try again shortly.
      const hint = this.world.leaderHint(node)
      if (hint !== '') this.preferred = hint
      this.world.schedule(this.rng.int(5, 30), () => this.onTimeout(seq, attemptId))
    }
  }

  private onTimeout (seq: number, attemptId: number): void {
    const cur = this.current
    if (cur === null || this.seq !== seq || cur.attemptId !== attemptId) return
    if (cur.final || cur.attempts < this.opts.maxAttempts) {
      this.attempt()
      return
    }
    if (cur.cmd !== null && cur.mayHaveApplied) {
      this.history.push({ clientId: this.id, input: cur.input, output: undefined, callTime: cur.callTime, returnTime: Infinity })
      // Its lock token (if it was a lock) is unknown to us: forget the lock.
      if ('name' in cur.input) this.tokens.delete(cur.input.name)
    }
    this.world.trace(`t=${this.world.nowMs()} ${this.name} gave up on seq ${seq}`)
    this.finish()
  }

  private onResult (seq: number, node: NodeId, r: KvResult): void {
    const cur = this.current
    if (cur === null || this.seq !== seq) return // a late answer to an operation already given up on
    if (r.op === 'error') {
      // Duplicate detection refused an older sequence: cannot happen for the current one.
      throw new Error(`client ${this.name} seq ${seq}: state machine error ${r.code}: ${r.message}`)
    }
    const output = toSimOutput(r)
    this.history.push({ clientId: this.id, input: cur.input, output, callTime: cur.callTime, returnTime: this.world.nowMs() })
    this.learn(cur.input, output)
    this.preferred = node
    this.world.trace(`t=${this.world.nowMs()} ${this.name} ok ${JSON.stringify(output)}`)
    if (cur.final) this.finalDone = true
    this.finish()
  }

  private finish (): void {
    this.current = null
    if (this.stopAfterFinal) {
      if (!this.finalDone) this.world.schedule(0, () => this.next(true))
      return
    }
    this.world.schedule(this.rng.int(0, 40), () => this.next(false))
  }

  private learn (input: SimInput, output: SimOutput): void {
    switch (output.kind) {
      case 'get': if ('key' in input) this.lastSeen.set(input.key, output.value); break
      case 'put': if (input.kind === 'put') this.lastSeen.set(input.key, input.value); break
      case 'cas': if (input.kind === 'cas') this.lastSeen.set(input.key, output.swapped ? input.value : output.current); break
      case 'delete': if ('key' in input) this.lastSeen.set(input.key, null); break
      case 'lock': if (output.granted && input.kind === 'lock') this.tokens.set(input.name, output.token); break
      case 'renew': if (!output.ok && 'name' in input) this.tokens.delete(input.name); break
      case 'unlock': if ('name' in input) this.tokens.delete(input.name); break
    }
  }
}

export function toSimOutput (r: KvResult): SimOutput {
  const text = (b: Uint8Array | null): string | null => b === null ? null : decoder.decode(b)
  switch (r.op) {
    case 'put': return { kind: 'put' }
    case 'delete': return { kind: 'delete', deleted: r.deleted }
    case 'cas': return { kind: 'cas', swapped: r.swapped, current: text(r.current) }
    case 'get': return { kind: 'get', value: text(r.value) }
    case 'lock': return r.granted
      ? { kind: 'lock', granted: true, token: r.token, deadlineMs: r.deadlineMs, holder: '' }
      : { kind: 'lock', granted: false, token: 0, deadlineMs: r.deadlineMs, holder: r.holder }
    case 'renew': return { kind: 'renew', ok: r.ok, deadlineMs: r.deadlineMs }
    case 'unlock': return { kind: 'unlock', ok: r.ok }
    case 'error': throw new Error(`no history output for an error result: ${r.message}`)
  }
}
