// Sequential specifications of the strong operations, for the linearizability checker: a register per key
// (put, delete, cas, get) and a lock per name (lock, renew, unlock with fencing tokens and stamped-time TTLs).
// The history is partitioned by key and by lock name, which are independent (P-compositionality).
import type { HistoryOp, Model } from './checker.js'

export type SimInput =
  | { readonly kind: 'put', readonly key: string, readonly value: string }
  | { readonly kind: 'delete', readonly key: string }
  | { readonly kind: 'cas', readonly key: string, readonly expected: string | null, readonly value: string }
  | { readonly kind: 'get', readonly key: string }
  | { readonly kind: 'lock', readonly name: string, readonly holder: string, readonly ttlMs: number, readonly nowMs: number }
  | { readonly kind: 'renew', readonly name: string, readonly token: number, readonly ttlMs: number, readonly nowMs: number }
  | { readonly kind: 'unlock', readonly name: string, readonly token: number, readonly nowMs: number }

export type SimOutput =
  | { readonly kind: 'put' }
  | { readonly kind: 'delete', readonly deleted: boolean }
  | { readonly kind: 'cas', readonly swapped: boolean, readonly current: string | null }
  | { readonly kind: 'get', readonly value: string | null }
  | { readonly kind: 'lock', readonly granted: boolean, readonly token: number, readonly deadlineMs: number, readonly holder: string }
  | { readonly kind: 'renew', readonly ok: boolean, readonly deadlineMs: number }
  | { readonly kind: 'unlock', readonly ok: boolean }

export type SimHistoryOp = HistoryOp<SimInput, SimOutput>

interface LockHeld { readonly holder: string, readonly token: number, readonly deadlineMs: number, readonly clockMs: number }

/** Register value for kv partitions; lock state plus the largest token granted so far for lock partitions. */
export type SimState =
  | { readonly t: 'kv', readonly value: string | null }
  | { readonly t: 'lock', readonly held: LockHeld | null, readonly maxToken: number }

const ok = (state: SimState): { ok: boolean, state: SimState } => ({ ok: true, state })

function stepKv (value: string | null, input: SimInput, output: SimOutput | undefined): { ok: boolean, state: SimState } {
  const kv = (v: string | null): SimState => ({ t: 'kv', value: v })
  const mismatch = { ok: false, state: kv(value) }
  switch (input.kind) {
    case 'put': return ok(kv(input.value))
    case 'delete':
      if (output !== undefined && (output.kind !== 'delete' || output.deleted !== (value !== null))) return mismatch
      return ok(kv(null))
    case 'get':
      if (output !== undefined && (output.kind !== 'get' || output.value !== value)) return mismatch
      return ok(kv(value))
    case 'cas': {
      const swap = input.expected === value
      if (output !== undefined) {
        if (output.kind !== 'cas' || output.swapped !== swap) return mismatch
        if (!swap && output.current !== value) return mismatch
      }
      return ok(kv(swap ? input.value : value))
    }
    default: return mismatch
  }
}

/** Mirrors KvStateMachine's lock rules; the token of a grant is any index above every earlier grant's. */
function stepLock (s: { held: LockHeld | null, maxToken: number }, input: SimInput, output: SimOutput | undefined): { ok: boolean, state: SimState } {
  const st = (held: LockHeld | null, maxToken = s.maxToken): SimState => ({ t: 'lock', held, maxToken })
  const mismatch = { ok: false, state: st(s.held) }
  if (input.kind !== 'lock' && input.kind !== 'renew' && input.kind !== 'unlock') return mismatch
  const clockMs = Math.max(s.held?.clockMs ?? 0, input.nowMs)
  const live = s.held !== null && s.held.deadlineMs > clockMs
  switch (input.kind) {
    case 'lock': {
      if (live && s.held !== null) {
        if (output !== undefined && (output.kind !== 'lock' || output.granted || output.holder !== s.held.holder || output.deadlineMs !== s.held.deadlineMs)) return mismatch
        return ok(st({ ...s.held, clockMs }))
      }
      const deadlineMs = clockMs + input.ttlMs
      if (output === undefined) {
        // Unknown outcome: the grant's token is unknown too; any token above maxToken, so record it as maxToken+1.
        return ok(st({ holder: input.holder, token: s.maxToken + 1, deadlineMs, clockMs }, s.maxToken + 1))
      }
      if (output.kind !== 'lock' || !output.granted || output.token <= s.maxToken || output.deadlineMs !== deadlineMs) return mismatch
      return ok(st({ holder: input.holder, token: output.token, deadlineMs, clockMs }, output.token))
    }
    case 'renew': {
      if (s.held === null) {
        return output === undefined || (output.kind === 'renew' && !output.ok) ? ok(st(null)) : mismatch
      }
      if (s.held.token !== input.token || !live) {
        if (output !== undefined && (output.kind !== 'renew' || output.ok)) return mismatch
        return ok(st({ ...s.held, clockMs }))
      }
      const deadlineMs = clockMs + input.ttlMs
      if (output !== undefined && (output.kind !== 'renew' || !output.ok || output.deadlineMs !== deadlineMs)) return mismatch
      return ok(st({ ...s.held, deadlineMs, clockMs }))
    }
    case 'unlock': {
      if (s.held === null) {
        return output === undefined || (output.kind === 'unlock' && !output.ok) ? ok(st(null)) : mismatch
      }
      if (s.held.token !== input.token || !live) {
        if (output !== undefined && (output.kind !== 'unlock' || output.ok)) return mismatch
        return ok(st({ ...s.held, clockMs }))
      }
      if (output !== undefined && (output.kind !== 'unlock' || !output.ok)) return mismatch
      return ok(st(null))
    }
  }
}

export function partitionKey (input: SimInput): string {
  return 'key' in input ? `k:${input.key}` : `l:${input.name}`
}

export const strongOpsModel: Model<SimState | null, SimInput, SimOutput> = {
  // The partition decides the kind of state on the first step.
  init: () => null,
  step (state, input, output) {
    const isLock = input.kind === 'lock' || input.kind === 'renew' || input.kind === 'unlock'
    if (isLock) {
      const s = state !== null && state.t === 'lock' ? state : { held: null, maxToken: 0 }
      return stepLock(s, input, output)
    }
    return stepKv(state !== null && state.t === 'kv' ? state.value : null, input, output)
  },
  key: state => JSON.stringify(state),
  partition (history) {
    const groups = new Map<string, SimHistoryOp[]>()
    for (const op of history) {
      const k = partitionKey(op.input)
      const g = groups.get(k)
      if (g === undefined) groups.set(k, [op])
      else g.push(op)
    }
    return [...groups.keys()].sort().map(k => groups.get(k) as SimHistoryOp[])
  }
}
