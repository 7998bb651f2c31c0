import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkLinearizable, type HistoryOp, type Model } from './linearizability.js'
import { SimRandom } from './random.js'

// ---- Models -------------------------------------------------------------------------------------------------

type RegInput = { readonly op: 'write', readonly value: number } | { readonly op: 'read' }
/** Reads return the value (null: never written); writes return null. */
type RegOutput = number | null

const register: Model<number | null, RegInput, RegOutput> = {
  init: () => null,
  step (state, input, output) {
    if (input.op === 'write') return { ok: true, state: input.value }
    return { ok: output === undefined || output === state, state }
  },
  key: state => String(state)
}

/** A CAS register, which is also a lock: acquire = cas(null, me), release = cas(me, null). */
type CasInput = { readonly op: 'cas', readonly expected: string | null, readonly value: string | null } | { readonly op: 'read' }
type CasOutput = boolean | string | null

const casRegister: Model<string | null, CasInput, CasOutput> = {
  init: () => null,
  step (state, input, output) {
    if (input.op === 'read') return { ok: output === undefined || output === state, state }
    const swaps = state === input.expected
    return { ok: output === undefined || output === swaps, state: swaps ? input.value : state }
  },
  key: state => JSON.stringify(state)
}

/** Independent registers per key, checked one key at a time through `partition`. */
type KvInput = RegInput & { readonly key: string }
const kv: Model<number | null, KvInput, RegOutput> = {
  init: register.init,
  step: (state, input, output) => register.step(state, input, output),
  key: register.key,
  partition (history) {
    const byKey = new Map<string, Array<HistoryOp<KvInput, RegOutput>>>()
    for (const op of history) {
      const list = byKey.get(op.input.key) ?? []
      list.push(op)
      byKey.set(op.input.key, list)
    }
    return [...byKey.keys()].sort().map(k => byKey.get(k) ?? [])
  }
}

// ---- History helpers ----------------------------------------------------------------------------------------

function w (clientId: number, value: number, callTime: number, returnTime: number): HistoryOp<RegInput, RegOutput> {
  return { clientId, input: { op: 'write', value }, output: returnTime === Infinity ? undefined : null, callTime, returnTime }
}
function r (clientId: number, value: number | null, callTime: number, returnTime: number): HistoryOp<RegInput, RegOutput> {
  return { clientId, input: { op: 'read' }, output: value, callTime, returnTime }
}
function cas (clientId: number, expected: string | null, value: string | null, swapped: boolean | undefined,
  callTime: number, returnTime: number): HistoryOp<CasInput, CasOutput> {
  return { clientId, input: { op: 'cas', expected, value }, output: swapped, callTime, returnTime }
}

// ---- Known histories ----------------------------------------------------------------------------------------

test('a sequential register history is linearizable', () => {
  const h = [r(1, null, 0, 1), w(1, 1, 2, 3), r(2, 1, 4, 5), w(2, 2, 6, 7), r(1, 2, 8, 9)]
  assert.deepEqual(checkLinearizable(register, h), { ok: true })
  assert.deepEqual(checkLinearizable(register, []), { ok: true })
})

test('overlapping ops may take effect in either order, but reads cannot go back in time', () => {
  // The write overlaps both reads: seeing the old value, then the new one, is fine.
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 10), r(2, null, 1, 2), r(2, 1, 3, 4)]).ok, true)
  // Seeing the new value, then (strictly later) the old one again, is not.
  const bad = checkLinearizable(register, [w(1, 1, 0, 10), r(2, 1, 1, 2), r(2, null, 3, 4)])
  assert.equal(bad.ok, false)
  // Two concurrent writes: later reads may agree on either value, but must agree.
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 5), w(2, 2, 0, 5), r(3, 1, 6, 7), r(3, 1, 8, 9)]).ok, true)
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 5), w(2, 2, 0, 5), r(3, 2, 6, 7), r(3, 2, 8, 9)]).ok, true)
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 5), w(2, 2, 0, 5), r(3, 1, 6, 7), r(3, 2, 8, 9)]).ok, false)
})

test('ops touching at one instant count as concurrent', () => {
  // The read is called at the instant the write returns: it may still be ordered first.
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 5), r(2, null, 5, 6)]).ok, true)
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 5), r(2, null, 6, 7)]).ok, false)
})

test('a stale read fails, and the explanation names the ops involved', () => {
  const result = checkLinearizable(register, [w(1, 1, 0, 1), r(2, null, 2, 3)])
  assert.equal(result.ok, false)
  assert.ok(result.ok === false)
  assert.equal(result.partition, 0)
  assert.match(result.explanation, /not linearizable/)
  assert.match(result.explanation, /c2 \{"op":"read"\} -> null \[2, 3\]/)
})

test('a lost write fails', () => {
  // Write 2 was acknowledged after write 1, yet a later read still sees 1.
  assert.equal(checkLinearizable(register, [w(1, 1, 0, 1), w(2, 2, 2, 3), r(3, 1, 4, 5)]).ok, false)
  // Two clients both acquire a free lock: one grant must have been lost.
  const doubleGrant = [cas(1, null, 'a', true, 0, 4), cas(2, null, 'b', true, 1, 3)]
  assert.equal(checkLinearizable(casRegister, doubleGrant).ok, false)
})

test('lock handoff through CAS: acquire, failed acquire, release, acquire', () => {
  const h = [
    cas(1, null, 'a', true, 0, 2),
    cas(2, null, 'b', false, 1, 3),
    cas(1, 'a', null, true, 4, 5),
    cas(2, null, 'b', true, 6, 8),
    { clientId: 3, input: { op: 'read' as const }, output: 'b', callTime: 7, returnTime: 9 }
  ]
  assert.deepEqual(checkLinearizable(casRegister, h), { ok: true })
  // Releasing with the wrong owner must not succeed.
  assert.equal(checkLinearizable(casRegister, [cas(1, null, 'a', true, 0, 1), cas(2, 'b', null, true, 2, 3)]).ok, false)
})

test('an op with an unknown outcome may have taken effect, or not, or late', () => {
  const timedOut = w(1, 1, 0, Infinity)
  assert.equal(timedOut.output, undefined)
  // It took effect.
  assert.equal(checkLinearizable(register, [timedOut, r(2, 1, 5, 6)]).ok, true)
  // It did not.
  assert.equal(checkLinearizable(register, [timedOut, r(2, null, 5, 6)]).ok, true)
  // It took effect after a later write (a retry in flight, say).
  assert.equal(checkLinearizable(register, [timedOut, w(2, 2, 1, 2), r(3, 1, 5, 6)]).ok, true)
  // But it takes effect once: it cannot be seen, then unseen.
  assert.equal(checkLinearizable(register, [timedOut, r(2, 1, 5, 6), r(2, null, 7, 8)]).ok, false)
  // And never before its call.
  assert.equal(checkLinearizable(register, [r(2, 1, 0, 1), w(1, 1, 2, Infinity)]).ok, false)
  // An unknown CAS whose effect is visible later.
  assert.equal(checkLinearizable(casRegister, [cas(1, null, 'a', undefined, 0, Infinity), cas(2, null, 'b', false, 3, 4)]).ok, true)
})

test('per-partition checking reports which partition failed', () => {
  const op = (clientId: number, key: string, input: RegInput, output: RegOutput, callTime: number, returnTime: number): HistoryOp<KvInput, RegOutput> =>
    ({ clientId, input: { ...input, key }, output, callTime, returnTime })
  const h = [
    op(1, 'a', { op: 'write', value: 1 }, null, 0, 1),
    op(2, 'b', { op: 'write', value: 7 }, null, 0, 1),
    op(1, 'a', { op: 'read' }, 1, 2, 3),
    // Key b: the read misses an acknowledged write.
    op(2, 'b', { op: 'read' }, null, 2, 3)
  ]
  const result = checkLinearizable(kv, h)
  assert.equal(result.ok, false)
  assert.ok(result.ok === false)
  assert.equal(result.partition, 1)
  assert.match(result.explanation, /^partition 1:/)
  assert.deepEqual(checkLinearizable(kv, h.slice(0, 3)), { ok: true })
})

test('malformed histories are rejected loudly', () => {
  assert.throws(() => checkLinearizable(register, [r(1, null, 5, 4)]), /returnTime must be >= callTime/)
  assert.throws(() => checkLinearizable(register, [r(1, null, NaN, 4)]), /callTime must be finite/)
  assert.throws(() => checkLinearizable(register, [], { maxStates: 0 }), /maxStates/)
})

test('maxStates bounds the search: the answer is unknown instead of a long run', () => {
  // Many concurrent writes, then a read of a value nobody wrote: proving it wrong means trying every order.
  const h = [...Array.from({ length: 14 }, (_, i) => w(i, i, 0, 100)), r(99, 1000, 200, 201)]
  const bounded = checkLinearizable(register, h, { maxStates: 50 })
  assert.equal(bounded.ok, 'unknown')
  assert.ok(bounded.ok === 'unknown')
  assert.match(bounded.reason, /maxStates/)
  assert.equal(checkLinearizable(register, h).ok, false)
})

// ---- Random histories ---------------------------------------------------------------------------------------

interface Generated {
  readonly history: Array<HistoryOp<RegInput, RegOutput>>
  /** Indexes of reads with a known output, candidates for corruption. */
  readonly reads: number[]
}

/**
 * A history produced by a real sequential execution: each op takes effect at a distinct instant (its linearization
 * point), and its call and return are stretched randomly around that instant, so concurrent ops overlap. Some ops
 * time out (unknown outcome): those that took effect are applied, and some that did not take effect are left out
 * of the state, both of which a correct checker must accept.
 */
function generateRegisterHistory (rng: SimRandom, opCount: number, clients: number): Generated {
  const history: Array<HistoryOp<RegInput, RegOutput>> = []
  const reads: number[] = []
  const clientFreeAt = new Array<number>(clients).fill(0)
  let state: number | null = null
  let nextValue = 1
  for (let i = 0; i < opCount; i++) {
    const point = 10 * (i + 1)
    const free = clientFreeAt.map((t, c) => ({ t, c })).filter(x => x.t < point)
    if (free.length === 0) continue
    const { c, t } = rng.pick(free)
    const callTime = Math.max(t + 1, point - rng.int(0, 40))
    const timedOut = rng.chance(0.15)
    const returnTime = timedOut ? Infinity : point + rng.int(0, 40)
    // A timed-out client gives up on the op and moves on after a while.
    clientFreeAt[c] = timedOut ? point + 50 : returnTime
    if (rng.chance(0.4)) {
      const value = nextValue++
      const tookEffect = !timedOut || rng.chance(0.5)
      if (tookEffect) state = value
      history.push({ clientId: c, input: { op: 'write', value }, output: timedOut ? undefined : null, callTime, returnTime })
    } else {
      if (!timedOut) reads.push(history.length)
      history.push({ clientId: c, input: { op: 'read' }, output: timedOut ? undefined : state, callTime, returnTime })
    }
  }
  return { history, reads }
}

test('large histories from real sequential executions pass; corrupting one read makes them fail', () => {
  const baseSeed = Number(process.env.SIM_SEED ?? 4242)
  for (let s = 0; s < 30; s++) {
    const seed = baseSeed + s
    const rng = new SimRandom(seed)
    const { history, reads } = generateRegisterHistory(rng, 300, 6)
    assert.ok(history.filter(op => op.returnTime === Infinity).length > 10)
    const good = checkLinearizable(register, history)
    assert.deepEqual(good, { ok: true }, `seed ${seed}: ${JSON.stringify(good)}`)
    if (reads.length === 0) continue
    const victim = rng.pick(reads)
    const corrupted = history.map((op, i) => (i === victim ? { ...op, output: -1 } : op))
    const bad = checkLinearizable(register, corrupted)
    assert.equal(bad.ok, false, `seed ${seed}: corrupted read ${victim} was accepted (${JSON.stringify(bad)})`)
  }
})

/**
 * A reference checker by exhaustive search: every order of the ops that respects real time, every subset of the
 * unknown ones. Only for tiny histories; it checks the real checker's answers both ways.
 */
function bruteForce<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<HistoryOp<I, O>>): boolean {
  const placed = new Array<boolean>(ops.length).fill(false)
  const required = ops.filter(op => op.returnTime !== Infinity).length
  const search = (state: S, requiredPlaced: number): boolean => {
    if (requiredPlaced === required) return true
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue
      // i may go next only if no unplaced required op returned before i was called.
      const blocked = ops.some((o, j) => !placed[j] && j !== i && o.returnTime < ops[i].callTime)
      if (blocked) continue
      const stepped = model.step(state, ops[i].input, ops[i].output)
      if (!stepped.ok) continue
      placed[i] = true
      const found = search(stepped.state, requiredPlaced + (ops[i].returnTime !== Infinity ? 1 : 0))
      placed[i] = false
      if (found) return true
    }
    return false
  }
  return search(model.init(), 0)
}

/** Tiny CAS-register histories with random outputs: mostly not linearizable. */
function randomCasHistory (rng: SimRandom): Array<HistoryOp<CasInput, CasOutput>> {
  const history: Array<HistoryOp<CasInput, CasOutput>> = []
  const values = [null, 'a', 'b']
  const n = rng.int(1, 6)
  for (let i = 0; i < n; i++) {
    const callTime = rng.int(0, 12)
    const returnTime = rng.chance(0.25) ? Infinity : callTime + rng.int(0, 6)
    const unknown = returnTime === Infinity && rng.chance(0.7)
    if (rng.chance(0.5)) {
      history.push({ clientId: i, input: { op: 'read' }, output: unknown ? undefined : rng.pick(values), callTime, returnTime })
    } else {
      const input = { op: 'cas' as const, expected: rng.pick(values), value: rng.pick(values) }
      history.push({ clientId: i, input, output: unknown ? undefined : rng.chance(0.5), callTime, returnTime })
    }
  }
  return history
}

/**
 * Tiny CAS-register histories from a real sequential execution (timed-out ops that did or did not take effect
 * included), then with probability 1/2 one known output changed: near the boundary, where checker bugs hide.
 */
function executedCasHistory (rng: SimRandom): Array<HistoryOp<CasInput, CasOutput>> {
  const history: Array<HistoryOp<CasInput, CasOutput>> = []
  const values = [null, 'a', 'b', 'c']
  let state: string | null = null
  const n = rng.int(2, 7)
  for (let i = 0; i < n; i++) {
    const point = 4 * (i + 1)
    const callTime = point - rng.int(0, 9)
    const timedOut = rng.chance(0.35)
    const returnTime = timedOut ? Infinity : point + rng.int(0, 9)
    const tookEffect = !timedOut || rng.chance(0.5)
    if (rng.chance(0.3)) {
      history.push({ clientId: i, input: { op: 'read' }, output: timedOut ? undefined : state, callTime, returnTime })
      continue
    }
    const input: CasInput & { op: 'cas' } = { op: 'cas', expected: rng.chance(0.6) ? state : rng.pick(values), value: rng.pick(values) }
    const swapped = state === input.expected
    if (tookEffect && swapped) state = input.value
    history.push({ clientId: i, input, output: timedOut ? undefined : swapped, callTime, returnTime })
  }
  const known = history.map((op, i) => ({ op, i })).filter(x => x.op.output !== undefined)
  if (known.length > 0 && rng.chance(0.5)) {
    const { op, i } = rng.pick(known)
    const output: CasOutput = op.input.op === 'read' ? rng.pick(values.filter(v => v !== op.output)) : !(op.output as boolean)
    history[i] = { ...op, output }
  }
  return history
}

test('on small random histories the checker agrees with exhaustive search', () => {
  const baseSeed = Number(process.env.SIM_SEED ?? 777)
  const rounds = 4000
  let failing = 0
  for (let s = 0; s < rounds; s++) {
    const seed = baseSeed + s
    const rng = new SimRandom(seed)
    const history = s % 2 === 0 ? randomCasHistory(rng) : executedCasHistory(rng)
    const expected = bruteForce(casRegister, history)
    if (!expected) failing++
    const got = checkLinearizable(casRegister, history).ok
    assert.equal(got, expected, `seed ${seed}: checker says ${String(got)}, exhaustive search says ${String(expected)}: ${JSON.stringify(history)}`)
  }
  // Both answers must be well represented, or the comparison proves little.
  assert.ok(failing > rounds / 5 && failing < rounds * 4 / 5, `${failing} of ${rounds} histories were non-linearizable`)
})
