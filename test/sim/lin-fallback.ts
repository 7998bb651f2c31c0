// Linearizability checking (Wing & Gong's search with Lowe's memoisation, per partition), with the API that
// test/sim/linearizability.ts will export. This file is a stand-in until that module lands in main; the simulator
// imports the checker through test/sim/checker.ts only, so switching is a one-line change there.
export interface HistoryOp<I, O> {
  readonly clientId: number
  readonly input: I
  /** undefined: the outcome is unknown (timed out); it may or may not have taken effect */
  readonly output: O | undefined
  readonly callTime: number
  readonly returnTime: number
}

export interface Model<S, I, O> {
  init (): S
  step (state: S, input: I, output: O | undefined): { ok: boolean, state: S }
  key (state: S): string
  partition? (history: ReadonlyArray<HistoryOp<I, O>>): Array<Array<HistoryOp<I, O>>>
}

export type CheckResult = { ok: true } | { ok: false, partition: number, explanation: string } | { ok: 'unknown', reason: string }

interface Event {
  readonly op: number
  readonly call: boolean
  readonly time: number
  prev: Event | null
  next: Event | null
  match: Event | null
}

function buildList<I, O> (ops: ReadonlyArray<HistoryOp<I, O>>): Event | null {
  const events: Event[] = []
  ops.forEach((op, i) => {
    const call: Event = { op: i, call: true, time: op.callTime, prev: null, next: null, match: null }
    const ret: Event = { op: i, call: false, time: op.returnTime, prev: null, next: null, match: null }
    call.match = ret
    events.push(call, ret)
  })
  // At equal times calls come first: ops that touch at an instant count as concurrent (the permissive choice).
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1))
  for (let i = 0; i < events.length; i++) {
    events[i].prev = i > 0 ? events[i - 1] : null
    events[i].next = i + 1 < events.length ? events[i + 1] : null
  }
  return events[0] ?? null
}

function checkOne<S, I, O> (model: Model<S, I, O>, ops: ReadonlyArray<HistoryOp<I, O>>, maxStates: number): CheckResult | 'ok' {
  const sentinel: Event = { op: -1, call: true, time: -Infinity, prev: null, next: buildList(ops), match: null }
  if (sentinel.next !== null) sentinel.next.prev = sentinel
  const lift = (e: Event): void => {
    const ret = e.match as Event
    ;(e.prev as Event).next = e.next
    if (e.next !== null) e.next.prev = e.prev
    ;(ret.prev as Event).next = ret.next
    if (ret.next !== null) ret.next.prev = ret.prev
  }
  const unlift = (e: Event): void => {
    const ret = e.match as Event
    ;(ret.prev as Event).next = ret
    if (ret.next !== null) ret.next.prev = ret
    ;(e.prev as Event).next = e
    if (e.next !== null) e.next.prev = e
  }
  let state = model.init()
  let linearized = 0n
  const seen = new Set<string>()
  const stack: Array<{ event: Event, state: S }> = []
  let entry = sentinel.next
  let deepest = 0
  while (entry !== null) {
    if (entry.call) {
      const op = ops[entry.op]
      const r = model.step(state, op.input, op.output)
      if (r.ok) {
        const bits = linearized | (1n << BigInt(entry.op))
        const key = bits.toString(36) + '|' + model.key(r.state)
        if (!seen.has(key)) {
          if (seen.size >= maxStates) return { ok: 'unknown', reason: `more than ${maxStates} states explored` }
          seen.add(key)
          stack.push({ event: entry, state })
          deepest = Math.max(deepest, stack.length)
          state = r.state
          linearized = bits
          lift(entry)
          entry = sentinel.next
          continue
        }
      }
      entry = entry.next
    } else {
      // Every remaining op has an unknown outcome: they may never have happened, so what we have suffices.
      if (entry.time === Infinity) return 'ok'
      const top = stack.pop()
      if (top === undefined) {
        const op = ops[entry.op]
        return { ok: false, partition: -1, explanation: `no linearization: op ${JSON.stringify({ client: op.clientId, input: op.input, output: op.output, call: op.callTime, ret: op.returnTime })} cannot be placed (deepest prefix ${deepest} of ${ops.length} ops)` }
      }
      state = top.state
      linearized &= ~(1n << BigInt(top.event.op))
      unlift(top.event)
      entry = top.event.next
    }
  }
  return 'ok'
}

export function checkLinearizable<S, I, O> (model: Model<S, I, O>, history: ReadonlyArray<HistoryOp<I, O>>,
  opts: { maxStates?: number } = {}): CheckResult {
  const parts = model.partition !== undefined ? model.partition(history) : [history.slice()]
  for (let i = 0; i < parts.length; i++) {
    const r = checkOne(model, parts[i], opts.maxStates ?? 1_000_000)
    if (r === 'ok') continue
    if (r.ok === false) return { ...r, partition: i }
    return r
  }
  return { ok: true }
}
