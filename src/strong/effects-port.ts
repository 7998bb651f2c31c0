// The port through which applied strong operations reach git (DESIGN.md "Two paths for writes", "Locks"). The git
// store implements it; the Raft host calls it. Everything in an effect comes from the Raft log (the index, the
// proposer's stamp, the command), never from the applying node, so every node that applies the same entries hands
// its store the same effects in the same order and can make identical commits.
import type { KvApplied } from './kv-state-machine.js'

/** Fields every effect carries. */
interface EffectBase {
  /** Raft index of the entry: orders strong effects and versions them (and is a grant's fencing token). */
  readonly raftIndex: number
  /** The proposer's clock stamped into the command (epoch ms): the commit date, the same on every node. */
  readonly stampMs: number
  /** Who asked: the command's client id (a lock's holder for lock effects). */
  readonly author: string
}

/** A change the store must record, derived from one applied command and its result. */
export type StrongEffect =
  | EffectBase & { readonly kind: 'set', readonly key: string, readonly value: Uint8Array }
  | EffectBase & { readonly kind: 'delete', readonly key: string }
  | EffectBase & { readonly kind: 'lockGranted', readonly name: string, readonly token: number, readonly deadlineMs: number }
  | EffectBase & { readonly kind: 'lockReleased', readonly name: string, readonly token: number }

export interface StrongEffectsPort {
  /**
   * Records the effects of one batch of applied entries, in Raft order, durably, before it resolves. The host
   * awaits it before it counts the entries as applied, so a Raft snapshot never covers an effect the store has not
   * recorded. Idempotent by raftIndex: after a restart the host applies again every entry after its last snapshot,
   * and the store skips effects at or below the last index it recorded.
   */
  commitApplied (effects: readonly StrongEffect[], opts: { readonly signal: AbortSignal }): void | Promise<void>
}

/**
 * The effect of one applied entry, or null when it changed nothing the store records: a command answered without
 * running (a duplicate from the session table, whose effect was recorded when it first ran; a stale sequence; bad
 * data), a read, a refusal, an error, or a renewal (DESIGN.md: grant, release and expiry are commits; a renewal need
 * not be one).
 */
export function effectOf (raftIndex: number, applied: KvApplied): StrongEffect | null {
  const { cmd, executed, result } = applied
  if (cmd === undefined || !executed) return null
  const base = { raftIndex, stampMs: cmd.nowMs, author: cmd.clientId }
  const op = cmd.op
  switch (op.op) {
    case 'put': return result.op === 'put' ? { ...base, kind: 'set', key: op.key, value: op.value } : null
    case 'cas': return result.op === 'cas' && result.swapped ? { ...base, kind: 'set', key: op.key, value: op.value } : null
    case 'delete': return result.op === 'delete' && result.deleted ? { ...base, kind: 'delete', key: op.key } : null
    case 'lock':
      if (result.op !== 'lock' || !result.granted) return null
      return { ...base, author: op.holder, kind: 'lockGranted', name: op.name, token: result.token, deadlineMs: result.deadlineMs }
    case 'unlock': return result.op === 'unlock' && result.ok ? { ...base, kind: 'lockReleased', name: op.name, token: op.token } : null
    default: return null
  }
}
