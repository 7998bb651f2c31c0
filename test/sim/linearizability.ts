// Linearizability checker: Wing & Gong's backtracking search (1993) with Lowe's memoisation (2017), the algorithm
// knossos and porcupine use. A history is linearizable when its operations can be put in one sequential order that
// (a) respects real time: an op that returned before another was called comes first, and (b) is a legal run of the
// sequential model. The search walks a doubly linked list of call/return events in time order; at each step it tries
// to linearize one op whose call is pending, and backtracks when it meets a return whose op is not yet linearized.
// The cache of (set of linearized ops, model state) cuts every branch that reaches a configuration already explored,
// which turns the exponential search into something practical for histories of a few hundred ops per partition.
// Timed-out ops (which may be placed anywhere, or never) would still multiply the search; two sound reductions keep
// them in check (ExploredCache and uselessOptional below).
//
// Conventions a caller relies on:
// - Events at equal times: a call sorts before a return, i.e. two ops that touch at one instant count as concurrent.
//   That is the permissive choice (it never reports a false violation); a simulator that needs "returned at t, then
//   called at t" to mean "before" should record distinct times (for example a global event counter).
// - An op whose returnTime is Infinity has an unknown outcome: it may be linearized anywhere after its call, or
//   never. Its `output` may still constrain it (usually it is undefined: accept any).
// - An op with a finite returnTime took effect exactly once between call and return. `output` undefined there means
//   "took effect, output not observed": the model's step accepts any output. (A timed-out op usually has both:
//   returnTime Infinity and output undefined; it is the return time that makes it optional.)
// - Failed operations that are known not to have taken effect must be left out of the history by the caller.

export interface HistoryOp<I, O> {
  readonly clientId: number
  readonly input: I
  /** undefined: the outcome is unknown (timed out); it may or may not have taken effect */
  readonly output: O | undefined
  readonly callTime: number      // virtual time of invocation
  readonly returnTime: number    // virtual time of response; Infinity when unknown
}

export interface Model<S, I, O> {
  init (): S
  /** Applies input to state; ok=false when `output` is impossible from `state`. output undefined = accept any. */
  step (state: S, input: I, output: O | undefined): { ok: boolean, state: S }
  /** Canonical string of a state, for memoisation. */
  key (state: S): string
  /** Optional: split a history into independent sub-histories (e.g. per key). */
  partition? (history: ReadonlyArray<HistoryOp<I, O>>): Array<Array<HistoryOp<I, O>>>
}

export type CheckResult = { ok: true } | { ok: false, partition: number, explanation: string } | { ok: 'unknown', reason: string }

/**
 * Default bound on explored (linearized set, state) configurations per partition. Each costs a cache entry (a key
 * string of tens to hundreds of bytes and a small bit array), so the default keeps the checker within a few hundred
 * MB on a pathological history.
 */
export const linearizabilityStatesMaxDefault = 500_000

/** How many ops an explanation lists at most, so a failure message stays readable. */
const explanationOpsMax = 20

export function checkLinearizable<S, I, O> (model: Model<S, I, O>, history: ReadonlyArray<HistoryOp<I, O>>,
  opts?: { maxStates?: number }): CheckResult {
  const maxStates = opts?.maxStates ?? linearizabilityStatesMaxDefault
  if (!Number.isSafeInteger(maxStates) || maxStates < 1) throw new Error(`maxStates must be a positive integer, got ${maxStates}`)
  for (const op of history) validateOp(op)
  const partitions = model.partition !== undefined ? model.partition(history) : [Array.from(history)]
  let unknown: string | null = null
  for (let p = 0; p < partitions.length; p++) {
    const result = checkPartition(model, partitions[p], maxStates)
    if (result.ok === false) return { ok: false, partition: p, explanation: `partition ${p}: ${result.explanation}` }
    // A later partition may still fail definitively, which is the more useful answer; keep looking.
    if (result.ok === 'unknown' && unknown === null) unknown = `partition ${p}: ${result.reason}`
  }
  return unknown === null ? { ok: true } : { ok: 'unknown', reason: unknown }
}

function validateOp<I, O> (op: HistoryOp<I, O>): void {
  if (!Number.isFinite(op.callTime)) throw new Error(`callTime must be finite: ${describeOp(op)}`)
  if (Number.isNaN(op.returnTime) || op.returnTime < op.callTime) {
    throw new Error(`returnTime must be >= callTime (Infinity when unknown): ${describeOp(op)}`)
  }
}

type PartitionResult = { ok: true } | { ok: false, explanation: string } | { ok: 'unknown', reason: string }

/**
 * The event list as parallel arrays (a linked list by index, slot 0 the head sentinel) so lifting and unlifting an
 * op is four pointer writes, in the style of Knuth's dancing links: removal keeps the removed nodes' own pointers, so
 * reinsertion in LIFO order restores the list exactly.
 */
class EventList {
  readonly prev: Int32Array
  readonly next: Int32Array
  /** For each event slot: the op index, and whether it is the call (true) or the return (false). */
  readonly opOf: Int32Array
  readonly isCall: Uint8Array
  /** For each op: the slots of its call and return events. */
  readonly callSlot: Int32Array
  readonly returnSlot: Int32Array

  constructor (ops: ReadonlyArray<HistoryOp<unknown, unknown>>) {
    const n = ops.length
    const events: Array<{ time: number, call: boolean, op: number }> = []
    for (let i = 0; i < n; i++) {
      events.push({ time: ops[i].callTime, call: true, op: i })
      events.push({ time: ops[i].returnTime, call: false, op: i })
    }
    // Calls before returns at equal times (see the header); then by op index so the order is total and stable.
    events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1) || a.op - b.op)
    const size = events.length + 1
    this.prev = new Int32Array(size)
    this.next = new Int32Array(size)
    this.opOf = new Int32Array(size)
    this.isCall = new Uint8Array(size)
    this.callSlot = new Int32Array(n)
    this.returnSlot = new Int32Array(n)
    for (let s = 0; s < size; s++) {
      this.prev[s] = s - 1
      this.next[s] = s + 1 < size ? s + 1 : -1
    }
    this.opOf[0] = -1
    events.forEach((e, i) => {
      const slot = i + 1
      this.opOf[slot] = e.op
      this.isCall[slot] = e.call ? 1 : 0
      if (e.call) this.callSlot[e.op] = slot
      else this.returnSlot[e.op] = slot
    })
  }

  private unlink (slot: number): void {
    this.next[this.prev[slot]] = this.next[slot]
    if (this.next[slot] !== -1) this.prev[this.next[slot]] = this.prev[slot]
  }

  private relink (slot: number): void {
    this.next[this.prev[slot]] = slot
    if (this.next[slot] !== -1) this.prev[this.next[slot]] = slot
  }

  lift (op: number): void {
    this.unlink(this.callSlot[op])
    this.unlink(this.returnSlot[op])
  }

  unlift (op: number): void {
    this.relink(this.returnSlot[op])
    this.relink(this.callSlot[op])
  }
}

/** A set of op indexes as a bit array, with a compact string form for cache keys. */
class OpBitset {
  readonly words: Uint32Array
  constructor (size: number) { this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32))) }
  set (i: number): void { this.words[i >>> 5] |= (1 << (i & 31)) }
  clear (i: number): void { this.words[i >>> 5] &= ~(1 << (i & 31)) }
  key (): string {
    let s = ''
    for (const w of this.words) s += w.toString(36) + ','
    return s
  }

  /** True when every member of `sub` is a member of this set. */
  includesAll (sub: Uint32Array): boolean {
    for (let i = 0; i < sub.length; i++) if ((sub[i] & ~this.words[i]) !== 0) return false
    return true
  }
}

/** One explored configuration: the optional ops it had placed, and whether its whole subtree failed. */
interface Explored { readonly optional: Uint32Array, done: boolean }

/**
 * The memo of explored configurations (Lowe), keyed by the placed ops that had a response plus the model state,
 * each key holding the sets of placed optional (timed-out) ops seen with it. A new configuration is skipped when the
 * same one was seen, or when a finished one with the same key had placed a subset of its optional ops: with fewer
 * optional ops used up, that one had every choice this one has, and it failed. (Only finished ones count: a
 * configuration still on the search path has not been refuted yet.) Without this rule every timed-out write still
 * pending doubles the configurations to refute.
 */
class ExploredCache {
  private readonly byKey = new Map<string, Explored[]>()
  size = 0

  /** The record for a new configuration, or null when it is known to fail or was already visited. */
  visit (key: string, optional: OpBitset): Explored | null {
    const records = this.byKey.get(key)
    if (records !== undefined) {
      for (const r of records) {
        if (!optional.includesAll(r.optional)) continue
        if (r.done || sameWords(r.optional, optional.words)) return null
      }
    }
    const record: Explored = { optional: optional.words.slice(), done: false }
    if (records === undefined) this.byKey.set(key, [record])
    else records.push(record)
    this.size++
    return record
  }
}

function sameWords (a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Which kind of pending op the search is trying at the current configuration. */
type Pass = 'required' | 'optional'

function checkPartition<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<HistoryOp<I, O>>, maxStates: number): PartitionResult {
  const list = new EventList(ops)
  // Ops with a response must all be placed; ops with an unknown outcome may be left out (Lowe: "or never"). They
  // are numbered separately in two bitsets, since the cache treats the two kinds differently.
  const bitOf = new Int32Array(ops.length)
  let requiredCount = 0
  let optionalCount = 0
  ops.forEach((op, i) => { bitOf[i] = op.returnTime === Infinity ? optionalCount++ : requiredCount++ })
  const placedRequired = new OpBitset(requiredCount)
  const placedOptional = new OpBitset(optionalCount)
  const cache = new ExploredCache()
  let requiredLeft = requiredCount
  const stack: Array<{ op: number, stateBefore: S, record: Explored, pass: Pass }> = []
  let state = model.init()
  // The deepest partial linearization met, to explain a failure.
  let best: { order: number[], state: S } = { order: [], state }

  // Each configuration's choices are tried in two passes over the pending calls: ops with a response first, then
  // optional ones. Refuting a configuration without an optional op first lets the cache prune the same
  // configuration reached with it (see ExploredCache).
  let pass: Pass = 'required'
  let slot = list.next[0]
  while (requiredLeft > 0) {
    if (slot === -1) throw new Error('linearizability: ran off the event list with required ops left (bug)')
    const op = list.opOf[slot]
    if (list.isCall[slot] === 1) {
      const h = ops[op]
      const optional = h.returnTime === Infinity
      if (optional !== (pass === 'optional')) {
        slot = list.next[slot]
        continue
      }
      const stepped = model.step(state, h.input, h.output)
      const stateKey = stepped.ok ? model.key(stepped.state) : ''
      if (stepped.ok && !(optional && uselessOptional(model, stack, h, state, stateKey, ops))) {
        const bits = optional ? placedOptional : placedRequired
        bits.set(bitOf[op])
        const record = cache.visit(placedRequired.key() + '|' + stateKey, placedOptional)
        if (record !== null) {
          if (cache.size > maxStates) {
            return { ok: 'unknown', reason: `gave up after exploring ${maxStates} states (maxStates) with ${requiredLeft} of ${ops.length} ops left to place` }
          }
          stack.push({ op, stateBefore: state, record, pass })
          state = stepped.state
          list.lift(op)
          if (!optional) requiredLeft--
          if (stack.length > best.order.length) best = { order: stack.map(e => e.op), state }
          pass = 'required'
          slot = list.next[0]
          continue
        }
        bits.clear(bitOf[op])
      }
      slot = list.next[slot]
      continue
    }
    // A return whose op is not placed: nothing after it may come first. Once both passes have met it, undo the
    // last choice and try the next one after it.
    if (pass === 'required' && optionalCount > 0) {
      pass = 'optional'
      slot = list.next[0]
      continue
    }
    const top = stack.pop()
    if (top === undefined) return { ok: false, explanation: explain(model, ops, best) }
    top.record.done = true
    state = top.stateBefore
    const optional = ops[top.op].returnTime === Infinity
    ;(optional ? placedOptional : placedRequired).clear(bitOf[top.op])
    list.unlift(top.op)
    if (!optional) requiredLeft++
    pass = top.pass
    slot = list.next[list.callSlot[top.op]]
  }
  return { ok: true }
}

/**
 * Partial-order reductions for optional (timed-out) ops, which may be placed anywhere or never. Placing one is
 * useless, because a configuration at least as strong is explored anyway, when
 * - it leaves the state as it is (a timed-out read, say): every completion open after placing it is open without it;
 * - it directly follows another optional op whose effect it overwrites (the same step from the state before that op
 *   gives the same state): placing it there instead, without the earlier op, reaches the same state with fewer
 *   optional ops used up, and that configuration is a sibling the search explores (or soundly prunes) in any case.
 * Without these, every timed-out write still pending multiplies the configurations to refute.
 */
function uselessOptional<S, I, O> (model: Model<S, I, O>, stack: ReadonlyArray<{ op: number, stateBefore: S }>,
  h: HistoryOp<I, O>, state: S, nextStateKey: string, ops: ReadonlyArray<HistoryOp<I, O>>): boolean {
  if (nextStateKey === model.key(state)) return true
  const top = stack.length > 0 ? stack[stack.length - 1] : undefined
  if (top === undefined || ops[top.op].returnTime !== Infinity) return false
  const skipped = model.step(top.stateBefore, h.input, h.output)
  return skipped.ok && model.key(skipped.state) === nextStateKey
}

function explain<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<HistoryOp<I, O>>, best: { order: number[], state: S }): string {
  const placed = new Set(best.order)
  const prefix = best.order.slice(-explanationOpsMax).map(i => describeOp(ops[i]))
  // The ops that should have come next: required ones not placed, earliest return first (the one that blocked).
  const stuck = ops.map((op, i) => ({ op, i }))
    .filter(({ op, i }) => !placed.has(i) && op.returnTime !== Infinity)
    .sort((a, b) => a.op.returnTime - b.op.returnTime)
    .slice(0, explanationOpsMax)
    .map(({ op }) => describeOp(op))
  return `not linearizable: at most ${best.order.length} of ${ops.length} ops can be ordered` +
    `${best.order.length > prefix.length ? ` (last ${prefix.length} shown)` : ''}: [${prefix.join(', ')}]` +
    ` reaching state ${model.key(best.state)}; none of the remaining ops fits next, earliest deadlines first:` +
    ` [${stuck.join(', ')}]`
}

function describeOp (op: HistoryOp<unknown, unknown>): string {
  const ret = op.returnTime === Infinity ? '?' : String(op.returnTime)
  return `c${op.clientId} ${show(op.input)} -> ${op.output === undefined ? '?' : show(op.output)} [${op.callTime}, ${ret}]`
}

function show (v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)) ?? String(v)
  } catch {
    return String(v)
  }
}
