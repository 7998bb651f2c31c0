// Requests waiting inside the Raft host: proposals until their command applies here, ReadIndex requests until their
// read state arrives and the state machine has applied its index (Raft dissertation §6.4). Both maps are bounded
// (strongPendingRequestsMax); a request beyond the bound is refused before it reaches Raft.
import { GitConfigError } from '../errors.js'
import { strongPendingRequestsMax } from '../limits.js'
import type { ReadState } from '../raft/types.js'
import type { KvCommand, KvResult } from './kv-state-machine.js'

/** How a waiting request is answered: `done` with its result, or `fail` when the host stops first. */
export interface Waiter<T> {
  done (value: T): void
  fail (err: GitConfigError): void
}

const decoder = new TextDecoder()

/** A command's identity in the state machine's sessions, which is also how its waiter is found. */
export function commandKey (cmd: Pick<KvCommand, 'clientId' | 'seq'>): string {
  return `${cmd.clientId}:${cmd.seq}`
}

function contextKey (context: Uint8Array): string {
  return decoder.decode(context)
}

export class PendingRequests {
  private proposals = new Map<string, Waiter<KvResult>>()
  /** ReadIndex requests by context, before their read state arrived. */
  private reads = new Map<string, Waiter<number>>()
  /** Read states received, in order, waiting for the state machine to apply their index. */
  private readyReads: Array<{ readonly index: number, readonly waiter: Waiter<number> }> = []

  get size (): number { return this.proposals.size + this.reads.size + this.readyReads.length }

  /** False when the bound is reached: the caller must not send the request to Raft. */
  hasRoom (): boolean { return this.size < strongPendingRequestsMax }

  /** A retry of the same command (same client and sequence number) replaces the earlier waiter. */
  addProposal (cmd: KvCommand, waiter: Waiter<KvResult>): void { this.proposals.set(commandKey(cmd), waiter) }

  removeProposal (cmd: KvCommand, waiter: Waiter<KvResult>): void {
    const key = commandKey(cmd)
    if (this.proposals.get(key) === waiter) this.proposals.delete(key)
  }

  addRead (context: Uint8Array, waiter: Waiter<number>): void { this.reads.set(contextKey(context), waiter) }

  removeRead (waiter: Waiter<number>): void {
    for (const [key, w] of this.reads) if (w === waiter) this.reads.delete(key)
    this.readyReads = this.readyReads.filter(r => r.waiter !== waiter)
  }

  /** The command applied here: answers whoever proposed it through this host. */
  applied (cmd: KvCommand, result: KvResult): void {
    const key = commandKey(cmd)
    const waiter = this.proposals.get(key)
    if (waiter === undefined) return
    this.proposals.delete(key)
    waiter.done(result)
  }

  /** Read states of a Ready: each request now waits for its read index to be applied. */
  readStates (states: readonly ReadState[]): void {
    for (const rs of states) {
      const key = contextKey(rs.context)
      const waiter = this.reads.get(key)
      if (waiter === undefined) continue
      this.reads.delete(key)
      this.readyReads.push({ index: rs.index, waiter })
    }
  }

  /** Answers, in arrival order, every read whose index the state machine has applied. */
  serveReads (appliedIndex: number): void {
    const still: typeof this.readyReads = []
    for (const r of this.readyReads) {
      if (r.index <= appliedIndex) r.waiter.done(r.index)
      else still.push(r)
    }
    this.readyReads = still
  }

  /** Fails every waiting request (the host stopped: their outcome is unknown to this node). */
  failAll (err: GitConfigError): void {
    const waiters = [...this.proposals.values(), ...this.reads.values(), ...this.readyReads.map(r => r.waiter)]
    this.proposals = new Map()
    this.reads = new Map()
    this.readyReads = []
    for (const w of waiters) w.fail(err)
  }
}

/** The error of a request refused because too many are waiting already. */
export function tooManyPending (): GitConfigError {
  return new GitConfigError('UNAVAILABLE', `too many strong operations waiting on this node (limit ${strongPendingRequestsMax})`,
    { limit: strongPendingRequestsMax })
}
