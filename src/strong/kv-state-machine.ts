// The replicated state machine behind strong operations (DESIGN.md "Strong operations", "Locks"): cas, put,
// delete and get on keys, and lock/renew/unlock with fencing tokens. Pure and deterministic: every replica that
// applies the same entries in the same order returns the same results and holds the same state.
//
// Time: the proposer stamps `nowMs` into each command. A lock's deadline is computed from the stamp of the entry
// that granted or renewed it, and whether it has expired is decided by the stamps of later entries on the same
// lock (never by a local clock), so a new leader neither resets nor extends a deadline. Stamps from different
// proposers may be out of order; each lock keeps the largest stamp seen so its clock never goes back.
//
// Retries: a client numbers its commands; a command whose (clientId, seq) was already applied returns the first
// result without applying again, and an older seq is refused, so a retried proposal applies at most once.
import { fromString, toString } from 'uint8arrays'
import { kvClientSessionsMax, kvLocksMax, kvStrongKeysMax } from '../limits.js'

export type KvOp =
  | { readonly op: 'put', readonly key: string, readonly value: Uint8Array }
  | { readonly op: 'delete', readonly key: string }
  | { readonly op: 'cas', readonly key: string, readonly expected: Uint8Array | null, readonly value: Uint8Array }
  | { readonly op: 'get', readonly key: string }
  | { readonly op: 'lock', readonly name: string, readonly holder: string, readonly ttlMs: number }
  | { readonly op: 'renew', readonly name: string, readonly token: number, readonly ttlMs: number }
  | { readonly op: 'unlock', readonly name: string, readonly token: number }

export interface KvCommand {
  readonly clientId: string
  readonly seq: number
  /** The proposer's clock when the command was proposed (epoch ms). */
  readonly nowMs: number
  readonly op: KvOp
}

export type KvResult =
  | { readonly op: 'put' }
  | { readonly op: 'delete', readonly deleted: boolean }
  | { readonly op: 'cas', readonly swapped: boolean, readonly current: Uint8Array | null }
  | { readonly op: 'get', readonly value: Uint8Array | null }
  | { readonly op: 'lock', readonly granted: true, readonly token: number, readonly deadlineMs: number }
  | { readonly op: 'lock', readonly granted: false, readonly holder: string, readonly deadlineMs: number }
  | { readonly op: 'renew', readonly ok: boolean, readonly deadlineMs: number }
  | { readonly op: 'unlock', readonly ok: boolean }
  | { readonly op: 'error', readonly code: 'MALFORMED' | 'STALE_SEQUENCE' | 'LIMIT', readonly message: string }

/** What applying one entry did: the decoded command (undefined when malformed), whether it ran, and its answer. */
export interface KvApplied {
  readonly cmd: KvCommand | undefined
  readonly executed: boolean
  readonly result: KvResult
}

export interface LockState {
  readonly holder: string
  /** Fencing token: the Raft index of the entry that granted the lock. */
  readonly token: number
  readonly deadlineMs: number
  /** Largest command stamp seen for this lock: its clock. */
  readonly clockMs: number
}

interface Session { readonly seq: number, readonly result: KvResult }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

// ---- command encoding ------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const b64 = (b: Uint8Array): string => toString(b, 'base64')
const unb64 = (s: string): Uint8Array => fromString(s, 'base64')

function opToJson (op: KvOp): Json {
  switch (op.op) {
    case 'put': return { op: 'put', key: op.key, value: b64(op.value) }
    case 'cas': return { op: 'cas', key: op.key, expected: op.expected === null ? null : b64(op.expected), value: b64(op.value) }
    default: return { ...op }
  }
}

export function encodeCommand (cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify({ clientId: cmd.clientId, seq: cmd.seq, nowMs: cmd.nowMs, op: opToJson(cmd.op) }))
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0

function parseOp (v: unknown): KvOp | undefined {
  if (!isRecord(v)) return undefined
  switch (v.op) {
    case 'put': return isStr(v.key) && typeof v.value === 'string' ? { op: 'put', key: v.key, value: unb64(v.value) } : undefined
    case 'delete': return isStr(v.key) ? { op: 'delete', key: v.key } : undefined
    case 'get': return isStr(v.key) ? { op: 'get', key: v.key } : undefined
    case 'cas':
      if (!isStr(v.key) || typeof v.value !== 'string' || (v.expected !== null && typeof v.expected !== 'string')) return undefined
      return { op: 'cas', key: v.key, expected: v.expected === null ? null : unb64(v.expected), value: unb64(v.value) }
    case 'lock': return isStr(v.name) && isStr(v.holder) && isNat(v.ttlMs) ? { op: 'lock', name: v.name, holder: v.holder, ttlMs: v.ttlMs } : undefined
    case 'renew': return isStr(v.name) && isNat(v.token) && isNat(v.ttlMs) ? { op: 'renew', name: v.name, token: v.token, ttlMs: v.ttlMs } : undefined
    case 'unlock': return isStr(v.name) && isNat(v.token) ? { op: 'unlock', name: v.name, token: v.token } : undefined
    default: return undefined
  }
}

export function decodeCommand (data: Uint8Array): KvCommand | undefined {
  try {
    const v: unknown = JSON.parse(decoder.decode(data))
    if (!isRecord(v) || !isStr(v.clientId) || !isNat(v.seq) || !isNat(v.nowMs)) return undefined
    const op = parseOp(v.op)
    return op === undefined ? undefined : { clientId: v.clientId, seq: v.seq, nowMs: v.nowMs, op }
  } catch {
    return undefined
  }
}

function resultToJson (r: KvResult): Json {
  switch (r.op) {
    case 'cas': return { op: 'cas', swapped: r.swapped, current: r.current === null ? null : b64(r.current) }
    case 'get': return { op: 'get', value: r.value === null ? null : b64(r.value) }
    default: return { ...r }
  }
}

function resultFromJson (v: Record<string, unknown>): KvResult {
  switch (v.op) {
    case 'cas': return { op: 'cas', swapped: v.swapped === true, current: typeof v.current === 'string' ? unb64(v.current) : null }
    case 'get': return { op: 'get', value: typeof v.value === 'string' ? unb64(v.value) : null }
    default: return v as unknown as KvResult
  }
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

// ---- the state machine -----------------------------------------------------------------------------------------

export class KvStateMachine {
  private readonly kv = new Map<string, Uint8Array>()
  private readonly locks = new Map<string, LockState>()
  /** Insertion order is recency order (re-inserted on use), so the first entry is the least recently used. */
  private readonly sessions = new Map<string, Session>()
  /** Index of the last applied entry. */
  appliedIndex = 0

  /** Applies the command in entry `index`; malformed data yields an error result and changes nothing else. */
  apply (index: number, data: Uint8Array): KvResult {
    return this.applyEntry(index, data).result
  }

  /**
   * Like apply(), and also says whether the command ran here (`executed`) or was answered without running: a
   * duplicate from the session table, a stale sequence number or malformed data. Only an executed command can have
   * an effect to record.
   */
  applyEntry (index: number, data: Uint8Array): KvApplied {
    this.appliedIndex = index
    const cmd = decodeCommand(data)
    if (cmd === undefined) return { cmd, executed: false, result: { op: 'error', code: 'MALFORMED', message: 'not a command' } }
    const session = this.sessions.get(cmd.clientId)
    if (session !== undefined) {
      if (cmd.seq === session.seq) return { cmd, executed: false, result: session.result }
      if (cmd.seq < session.seq) {
        return { cmd, executed: false, result: { op: 'error', code: 'STALE_SEQUENCE', message: `client ${cmd.clientId} already used sequence ${session.seq}` } }
      }
    }
    const result = this.execute(index, cmd)
    this.remember(cmd, result)
    return { cmd, executed: true, result }
  }

  private remember (cmd: KvCommand, result: KvResult): void {
    this.sessions.delete(cmd.clientId)
    this.sessions.set(cmd.clientId, { seq: cmd.seq, result })
    if (this.sessions.size > kvClientSessionsMax) {
      const oldest = this.sessions.keys().next()
      if (oldest.done !== true) this.sessions.delete(oldest.value)
    }
  }

  /** Records that a non-command entry (no-op, membership change) was applied. */
  skip (index: number): void { this.appliedIndex = index }

  private execute (index: number, cmd: KvCommand): KvResult {
    const op = cmd.op
    switch (op.op) {
      case 'put':
        if (!this.kv.has(op.key) && this.kv.size >= kvStrongKeysMax) return this.limit('keys', kvStrongKeysMax)
        this.kv.set(op.key, op.value)
        return { op: 'put' }
      case 'delete': return { op: 'delete', deleted: this.kv.delete(op.key) }
      case 'get': return { op: 'get', value: this.kv.get(op.key) ?? null }
      case 'cas': return this.cas(op.key, op.expected, op.value)
      case 'lock': return this.lock(index, op.name, op.holder, op.ttlMs, cmd.nowMs)
      case 'renew': return this.renew(op.name, op.token, op.ttlMs, cmd.nowMs)
      case 'unlock': return this.unlock(op.name, op.token, cmd.nowMs)
    }
  }

  private limit (what: string, max: number): KvResult {
    return { op: 'error', code: 'LIMIT', message: `the strong state machine holds at most ${max} ${what}` }
  }

  private cas (key: string, expected: Uint8Array | null, value: Uint8Array): KvResult {
    const current = this.kv.get(key) ?? null
    const matches = expected === null ? current === null : current !== null && bytesEqual(current, expected)
    if (!matches) return { op: 'cas', swapped: false, current }
    if (current === null && this.kv.size >= kvStrongKeysMax) return this.limit('keys', kvStrongKeysMax)
    this.kv.set(key, value)
    return { op: 'cas', swapped: true, current: null }
  }

  /** The lock's clock after seeing a command stamped `nowMs`. */
  private lockClock (lock: LockState | undefined, nowMs: number): number {
    return Math.max(lock?.clockMs ?? 0, nowMs)
  }

  private lock (index: number, name: string, holder: string, ttlMs: number, nowMs: number): KvResult {
    const current = this.locks.get(name)
    const clockMs = this.lockClock(current, nowMs)
    if (current !== undefined && current.deadlineMs > clockMs) {
      this.locks.set(name, { ...current, clockMs })
      return { op: 'lock', granted: false, holder: current.holder, deadlineMs: current.deadlineMs }
    }
    if (current === undefined && this.locks.size >= kvLocksMax) {
      this.purgeExpiredLocks(nowMs)
      if (this.locks.size >= kvLocksMax) return this.limit('locks', kvLocksMax)
    }
    // The fencing token is the grant's Raft index: larger than any earlier grant's, on every replica.
    const deadlineMs = clockMs + ttlMs
    this.locks.set(name, { holder, token: index, deadlineMs, clockMs })
    return { op: 'lock', granted: true, token: index, deadlineMs }
  }

  private renew (name: string, token: number, ttlMs: number, nowMs: number): KvResult {
    const current = this.locks.get(name)
    if (current === undefined) return { op: 'renew', ok: false, deadlineMs: 0 }
    const clockMs = this.lockClock(current, nowMs)
    if (current.token !== token || current.deadlineMs <= clockMs) {
      this.locks.set(name, { ...current, clockMs })
      return { op: 'renew', ok: false, deadlineMs: current.deadlineMs }
    }
    const deadlineMs = clockMs + ttlMs
    this.locks.set(name, { ...current, deadlineMs, clockMs })
    return { op: 'renew', ok: true, deadlineMs }
  }

  private unlock (name: string, token: number, nowMs: number): KvResult {
    const current = this.locks.get(name)
    if (current === undefined) return { op: 'unlock', ok: false }
    const clockMs = this.lockClock(current, nowMs)
    if (current.token !== token || current.deadlineMs <= clockMs) {
      this.locks.set(name, { ...current, clockMs })
      return { op: 'unlock', ok: false }
    }
    this.locks.delete(name)
    return { op: 'unlock', ok: true }
  }

  private purgeExpiredLocks (nowMs: number): void {
    for (const [name, l] of [...this.locks]) if (l.deadlineMs <= Math.max(l.clockMs, nowMs)) this.locks.delete(name)
  }

  // ---- reads (after a ReadIndex round) ---------------------------------------------------------------------------

  read (key: string): Uint8Array | null { return this.kv.get(key) ?? null }

  lockState (name: string): LockState | null { return this.locks.get(name) ?? null }

  keyCount (): number { return this.kv.size }

  // ---- snapshots -------------------------------------------------------------------------------------------------

  snapshot (): Uint8Array {
    const json: Json = {
      appliedIndex: this.appliedIndex,
      kv: [...this.kv].map(([k, v]) => [k, b64(v)]),
      locks: [...this.locks].map(([n, l]) => [n, { holder: l.holder, token: l.token, deadlineMs: l.deadlineMs, clockMs: l.clockMs }]),
      sessions: [...this.sessions].map(([c, s]) => [c, { seq: s.seq, result: resultToJson(s.result) }])
    }
    return encoder.encode(JSON.stringify(json))
  }

  /** Replaces the state with a snapshot taken by snapshot() (empty data: the initial state). */
  restore (data: Uint8Array): void {
    this.kv.clear()
    this.locks.clear()
    this.sessions.clear()
    this.appliedIndex = 0
    if (data.byteLength === 0) return
    const v = JSON.parse(decoder.decode(data)) as {
      appliedIndex: number
      kv: Array<[string, string]>
      locks: Array<[string, LockState]>
      sessions: Array<[string, { seq: number, result: Record<string, unknown> }]>
    }
    this.appliedIndex = v.appliedIndex
    for (const [k, val] of v.kv) this.kv.set(k, unb64(val))
    for (const [n, l] of v.locks) this.locks.set(n, { holder: l.holder, token: l.token, deadlineMs: l.deadlineMs, clockMs: l.clockMs })
    for (const [c, s] of v.sessions) this.sessions.set(c, { seq: s.seq, result: resultFromJson(s.result) })
  }
}
