// Helpers for tests of the Raft host on real asynchronous time: a clock whose ticks the test gives, an in-memory
// network that round-trips every message through the wire codec, and a storage whose writes complete later.
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeMessage, encodeMessage } from '../../src/raft/codec.js'
import { MemoryStorage } from '../../src/raft/storage-memory.js'
import type { WritableRaftStorage } from '../../src/raft/storage.js'
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot } from '../../src/raft/types.js'
import type { HostClock } from '../../src/strong/clock.js'
import type { RaftTransport } from '../../src/strong/host.js'
import type { StrongEffect, StrongEffectsPort } from '../../src/strong/effects-port.js'

/** Ticks only when the test calls tick(); loop runs are deferred to the next turn of the event loop, as in the daemon. */
export class ManualClock implements HostClock {
  private onTick: (() => void) | null = null

  startTicking (onTick: () => void): () => void {
    this.onTick = onTick
    return () => { this.onTick = null }
  }

  defer (fn: () => void): void { setImmediate(fn) }

  tick (times = 1): void {
    for (let i = 0; i < times; i++) this.onTick?.()
  }
}

/** Delivers every message on a later turn, through the wire codec; `cut` nodes neither send nor receive. */
export class MemoryNetwork {
  private readonly receivers = new Map<NodeId, (m: unknown) => void>()
  readonly cut = new Set<NodeId>()

  transport (id: NodeId, onSend: (m: Message) => void = () => {}): RaftTransport {
    return {
      send: (m) => {
        onSend(m)
        if (this.cut.has(id) || this.cut.has(m.to)) return
        const bytes = encodeMessage(m)
        setImmediate(() => { this.receivers.get(m.to)?.(decodeMessage(bytes)) })
      },
      listen: (receive) => {
        this.receivers.set(id, receive)
        return () => { this.receivers.delete(id) }
      }
    }
  }
}

/** A MemoryStorage whose writes complete `delayMs` later; `writesInFlight` counts those not yet complete. */
export class SlowStorage implements WritableRaftStorage {
  readonly disk = new MemoryStorage()
  writesInFlight = 0
  failNextWrite: Error | null = null

  constructor (private readonly delayMs = 2) {}

  initialState (): ReturnType<MemoryStorage['initialState']> { return this.disk.initialState() }
  entries (lo: number, hi: number, maxBytes: number): Entry[] | undefined { return this.disk.entries(lo, hi, maxBytes) }
  term (i: number): number | undefined { return this.disk.term(i) }
  firstIndex (): number { return this.disk.firstIndex() }
  lastIndex (): number { return this.disk.lastIndex() }
  snapshot (): Snapshot { return this.disk.snapshot() }

  private async write (apply: () => void): Promise<void> {
    this.writesInFlight++
    try {
      await sleep(this.delayMs)
      const failure = this.failNextWrite
      this.failNextWrite = null
      if (failure !== null) throw failure
      apply()
    } finally {
      this.writesInFlight--
    }
  }

  async setHardState (hs: HardState): Promise<void> { await this.write(() => { this.disk.setHardState(hs) }) }
  async append (entries: readonly Entry[]): Promise<void> { await this.write(() => { this.disk.append(entries) }) }
  async applySnapshot (s: Snapshot): Promise<void> { await this.write(() => { this.disk.applySnapshot(s) }) }
  async createSnapshot (index: number, cs: ConfState, data: Uint8Array): Promise<void> { await this.write(() => { this.disk.createSnapshot(index, cs, data) }) }
  async compact (index: number): Promise<void> { await this.write(() => { this.disk.compact(index) }) }
}

/** An effects port that records what it is given; while `gate` is set, each call waits for it. */
export class RecordingEffects implements StrongEffectsPort {
  readonly effects: StrongEffect[] = []
  calls = 0
  gate: Promise<void> | null = null

  async commitApplied (effects: readonly StrongEffect[]): Promise<void> {
    this.calls++
    if (this.gate !== null) await this.gate
    this.effects.push(...effects)
  }
}

/** Waits until `condition` holds, failing with `what` after `timeoutMs`. */
export async function eventually (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(2)
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const untext = (b: Uint8Array | null): string | null => b === null ? null : new TextDecoder().decode(b)
