// ReadIndex bookkeeping on the leader (Raft dissertation §6.4): a read request records the commit index at the
// time it arrived, rides the next heartbeat round with its context, and is released once a quorum of voters has
// answered that heartbeat, which proves the leader was still the leader when the read arrived.
import type { Message, NodeId } from './types.js'

export interface ReadIndexStatus {
  readonly request: Message
  readonly index: number
  readonly acks: Set<NodeId>
}

function contextKey (context: Uint8Array): string {
  let s = ''
  for (const b of context) s += b.toString(16).padStart(2, '0')
  return s
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>()
  /** Contexts in arrival order; releasing one releases all earlier ones too. */
  private queue: string[] = []

  constructor (private readonly capacity: number) {}

  /** Returns false (dropping the request) when the context is already pending or the queue is full. */
  addRequest (index: number, request: Message): boolean {
    if (request.context === null) return false
    const key = contextKey(request.context)
    if (this.pending.has(key) || this.queue.length >= this.capacity) return false
    this.pending.set(key, { request, index, acks: new Set() })
    this.queue.push(key)
    return true
  }

  /** Records that `id` answered the heartbeat carrying `context`; returns who has acked it so far. */
  recvAck (id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const status = this.pending.get(contextKey(context))
    if (status === undefined) return undefined
    status.acks.add(id)
    return status.acks
  }

  /** Releases the request for `context` and every earlier one, in order. */
  advance (context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context)
    const at = this.queue.indexOf(key)
    if (at < 0) return []
    const released = this.queue.slice(0, at + 1)
    this.queue = this.queue.slice(at + 1)
    const out: ReadIndexStatus[] = []
    for (const k of released) {
      const status = this.pending.get(k)
      if (status !== undefined) out.push(status)
      this.pending.delete(k)
    }
    return out
  }

  lastPendingContext (): Uint8Array | null {
    if (this.queue.length === 0) return null
    return this.pending.get(this.queue[this.queue.length - 1])?.request.context ?? null
  }

  size (): number { return this.queue.length }
}
