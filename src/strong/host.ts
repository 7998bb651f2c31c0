// The Raft host: the one loop that drives a RawNode, written once and run by both the daemon and the simulator
// (STYLE.md, decision 0107). They differ only in what they inject: storage (LevelDB or memory), transport (libp2p or
// the simulated network), clock (timers or virtual time), the effects port (the git store, or none) and hooks.
//
//   inputs: tick() from the clock, receive() from the transport, submit()/propose() and read()/readIndex() from
//           callers, proposeConfChange(), transferLeader(), campaign(). After each input, if the RawNode has a Ready
//           and no run is pending, one run of the loop is deferred (clock.defer); runs never overlap.
//   while hasReady():
//     rd = ready()
//     1. persist rd.snapshot, rd.entries and rd.hardState        -- Raft §5.1: durable before anything is sent
//     2. send rd.messages                                         -- only after step 1 completed
//     3. apply rd.snapshot (restore), then rd.committedEntries in order: a confChange to the RawNode's membership
//        (applyConfChange), a command to the state machine, whose proposer waiting here is answered; then the
//        batch's effects go to the effects port, awaited, so no later snapshot covers an effect the store lacks
//     4. serve the read states whose index is applied (Raft dissertation §6.4); report a role change
//     5. advance(rd); then snapshot and compact once enough entries were applied past the first retained one
//
// Steps 1, 3 and 5 may complete later (LevelDB) or at once (memory); `runSteps` runs the same generator either way,
// so the simulator stays synchronous and deterministic. A stop between steps loses only what was never persisted,
// and nothing that depended on it was sent.
import { GitConfigError } from '../errors.js'
import type { RaftConfigInput } from '../raft/config.js'
import { decodeConfChange } from '../raft/conf-change.js'
import type { ProposeResult } from '../raft/raft.js'
import { RawNode } from '../raft/raw-node.js'
import type { RaftFactory, Ready, Status } from '../raft/raw-node.js'
import type { WritableRaftStorage } from '../raft/storage.js'
import type { ConfChange, ConfState, Entry, Message, NodeId, Snapshot, SoftState } from '../raft/types.js'
import type { HostClock } from './clock.js'
import { effectOf, type StrongEffect, type StrongEffectsPort } from './effects-port.js'
import { KvStateMachine, encodeCommand, type KvApplied, type KvCommand, type KvResult } from './kv-state-machine.js'
import { PendingRequests, tooManyPending, type Waiter } from './pending.js'
import { runSteps, type Steps } from './steps.js'

/** Best-effort delivery of Raft messages: Raft retries on its own timers, so a send never blocks and never throws. */
export interface RaftTransport {
  send (message: Message): void
  /** Delivers inbound messages (not yet validated: the host validates them) to `receive` until the returned function is called. */
  listen (receive: (message: unknown) => void): () => void
}

/** Observers of the loop, called at the step they name; the simulator's checkers and the daemon's metrics use them. */
export interface RaftHostHooks {
  /** Step 1 wrote these entries. */
  persisted? (entries: readonly Entry[]): void
  /** Step 3 applied this committed entry; `applied` is undefined for a no-op or a membership change. */
  applied? (entry: Entry, applied: KvApplied | undefined): void
  /** Step 3 restored the state machine from a snapshot received from the leader. */
  restored? (snapshotIndex: number): void
  /** Step 4: the role or the known leader changed. */
  roleChanged? (soft: SoftState, term: number): void
  /** The loop failed (a storage write or the effects port): the host has stopped. Without this hook the error is thrown. */
  failed? (err: unknown): void
}

export interface CompactionOptions {
  /** Take a snapshot once this many entries were applied past the first retained one. */
  readonly everyEntries: number
  /** Entries kept after a compaction, for followers slightly behind. */
  readonly retainEntries: number
}

export interface RaftHostInit {
  readonly id: NodeId
  /** Settings of the Raft core (validated by it); the host supplies `id` and `applied`. */
  readonly raft: Omit<RaftConfigInput, 'id' | 'applied'>
  readonly storage: WritableRaftStorage
  readonly transport: RaftTransport
  readonly clock: HostClock
  readonly compaction: CompactionOptions
  readonly effects?: StrongEffectsPort
  readonly hooks?: RaftHostHooks
  /** Substitutes the Raft implementation (the simulator's injected bugs). */
  readonly factory?: RaftFactory
}

/** How a submitted request fared: proposed here, forwarded to the leader, or not sent to Raft at all. */
export type SubmitResult = ProposeResult | 'stopped' | 'full'

export type HostState = 'new' | 'running' | 'stopped'

/** Creates a host (INVALID_ARGUMENT for bad settings); nothing runs until start(). */
export function createRaftHost (init: RaftHostInit): RaftHost {
  return new RaftHost(init)
}

function validateInit (init: RaftHostInit): void {
  const { everyEntries, retainEntries } = init.compaction
  if (!Number.isSafeInteger(everyEntries) || everyEntries < 1) throw invalid('compaction.everyEntries must be a positive integer')
  if (!Number.isSafeInteger(retainEntries) || retainEntries < 0) throw invalid('compaction.retainEntries must be a non-negative integer')
}

function invalid (message: string): GitConfigError {
  return new GitConfigError('INVALID_ARGUMENT', `raft host: ${message}`)
}

export class RaftHost {
  readonly id: NodeId
  readonly stateMachine = new KvStateMachine()
  private readonly pending = new PendingRequests()
  private readonly hooks: RaftHostHooks
  private node: RawNode | null = null
  private membership: ConfState = { voters: [], learners: [] }
  private current: HostState = 'new'
  private controller = new AbortController()
  private scheduled = false
  private running: Promise<void> | null = null
  private stopTicking: () => void = () => {}
  private stopListening: () => void = () => {}

  constructor (private readonly init: RaftHostInit) {
    validateInit(init)
    this.id = init.id
    this.hooks = init.hooks ?? {}
  }

  get state (): HostState { return this.current }
  /** The RawNode while running (tests, status and fault injection reach the core through it), else null. */
  get raw (): RawNode | null { return this.node }
  get confState (): ConfState { return this.membership }
  status (): Status | null { return this.node?.status() ?? null }

  /**
   * Starts from what storage holds: the state machine from the latest snapshot, Raft from its hard state and log
   * (committed entries after the snapshot are applied again). `bootstrapVoters` founds a brand-new cluster.
   */
  start (bootstrapVoters: readonly NodeId[] | null = null): void {
    if (this.current !== 'new') throw new Error(`raft host ${this.id} cannot start: it is ${this.current}`)
    const snap = this.init.storage.snapshot()
    this.stateMachine.restore(snap.data)
    this.membership = snap.metadata.confState
    const node = new RawNode({ ...this.init.raft, id: this.id, applied: snap.metadata.index }, this.init.storage, this.init.factory)
    if (bootstrapVoters !== null) node.bootstrap(bootstrapVoters)
    this.node = node
    this.current = 'running'
    this.stopTicking = this.init.clock.startTicking(() => { this.tick() })
    this.stopListening = this.init.transport.listen(m => { this.receive(m) })
    this.requestReady()
  }

  /**
   * Stops ticking and listening, ends the loop at its next step, fails every waiting request with UNAVAILABLE (its
   * outcome is unknown here) and resolves once a loop run in flight has ended. Storage stays open: it is the caller's.
   */
  async stop (): Promise<void> {
    if (this.current === 'running') {
      this.node = null
      this.stopTicking()
      this.stopListening()
      this.controller.abort()
      this.pending.failAll(new GitConfigError('UNAVAILABLE', 'the Raft host stopped'))
    }
    this.current = 'stopped'
    await this.running?.catch(() => {})
  }

  // ---- inputs -------------------------------------------------------------------------------------------------

  tick (): void {
    this.node?.tick()
    this.requestReady()
  }

  /** A message from a peer; false when it was dropped (malformed, misaddressed, or the host is not running). */
  receive (message: unknown): boolean {
    const accepted = this.node?.step(message) ?? false
    this.requestReady()
    return accepted
  }

  /** Proposes `data`, the encoding of `cmd`, and has `waiter` answered when the command applies on this node. */
  submit (cmd: KvCommand, data: Uint8Array, waiter: Waiter<KvResult>): SubmitResult {
    const node = this.node
    if (node === null) return 'stopped'
    if (!this.pending.hasRoom()) return 'full'
    const result = node.propose(data)
    this.requestReady()
    if (result !== 'dropped') this.pending.addProposal(cmd, waiter)
    return result
  }

  /** Asks for a linearizable read point; `waiter` gets the read index once this node has applied up to it. */
  read (context: Uint8Array, waiter: Waiter<number>): SubmitResult {
    const node = this.node
    if (node === null) return 'stopped'
    if (!this.pending.hasRoom()) return 'full'
    const asked = node.readIndex(context)
    this.requestReady()
    if (!asked) return 'dropped'
    this.pending.addRead(context, waiter)
    return 'proposed'
  }

  /** submit() as a promise: the command's result, or NO_QUORUM / UNAVAILABLE, or the signal's reason. */
  async propose (cmd: KvCommand, opts: { readonly signal?: AbortSignal } = {}): Promise<KvResult> {
    const data = encodeCommand(cmd)
    return await waitFor<KvResult>(w => this.submit(cmd, data, w), w => { this.pending.removeProposal(cmd, w) }, opts.signal)
  }

  /** read() as a promise: resolves with the read index once this node's state machine has applied it. */
  async readIndex (context: Uint8Array, opts: { readonly signal?: AbortSignal } = {}): Promise<number> {
    return await waitFor<number>(w => this.read(context, w), w => { this.pending.removeRead(w) }, opts.signal)
  }

  proposeConfChange (cc: ConfChange): SubmitResult {
    const result = this.node?.proposeConfChange(cc) ?? 'stopped'
    this.requestReady()
    return result
  }

  transferLeader (to: NodeId): void {
    this.node?.transferLeader(to)
    this.requestReady()
  }

  campaign (): void {
    this.node?.campaign()
    this.requestReady()
  }

  /** Defers one run of the loop when there is work and none is pending (inputs call it; so may a driver). */
  requestReady (): void {
    const node = this.node
    if (node === null || this.scheduled || !node.hasReady()) return
    this.scheduled = true
    this.init.clock.defer(() => { this.runReady() })
  }

  // ---- the loop -----------------------------------------------------------------------------------------------

  private runReady (): void {
    this.scheduled = false
    const node = this.node
    // A run in flight sees the new work at its next hasReady(), and asks again when it ends.
    if (node === null || this.running !== null) return
    let run: void | Promise<void>
    try {
      run = runSteps(this.loop(node, this.controller.signal))
    } catch (err) {
      this.fail(err)
      return
    }
    if (run === undefined) return
    this.running = run
      .catch((err: unknown) => { this.fail(err) })
      .finally(() => {
        this.running = null
        this.requestReady()
      })
  }

  private fail (err: unknown): void {
    if (this.hooks.failed === undefined) throw err
    this.hooks.failed(err)
    void this.stop()
  }

  private * loop (node: RawNode, signal: AbortSignal): Steps {
    while (!signal.aborted && node.hasReady()) {
      const rd = node.ready()
      yield * this.persist(rd)
      if (signal.aborted) return
      for (const m of rd.messages) this.init.transport.send(m)
      yield * this.apply(rd, node, signal)
      if (signal.aborted) return
      this.pending.readStates(rd.readStates)
      this.pending.serveReads(this.stateMachine.appliedIndex)
      if (rd.softState !== null) this.hooks.roleChanged?.(rd.softState, node.raft.term)
      node.advance(rd)
      yield * this.maybeCompact()
    }
  }

  /** Step 1: the disk write. */
  private * persist (rd: Ready): Steps {
    const storage = this.init.storage
    if (rd.snapshot !== null) yield storage.applySnapshot(rd.snapshot)
    yield storage.append(rd.entries)
    if (rd.hardState !== null) yield storage.setHardState(rd.hardState)
    if (rd.entries.length > 0) this.hooks.persisted?.(rd.entries)
  }

  /** Step 3: the state machine, the proposers waiting here, then the store. */
  private * apply (rd: Ready, node: RawNode, signal: AbortSignal): Steps {
    if (rd.snapshot !== null) this.restore(rd.snapshot)
    const effects: StrongEffect[] = []
    for (const e of rd.committedEntries) this.applyEntry(e, node, effects)
    if (effects.length > 0 && this.init.effects !== undefined) yield this.init.effects.commitApplied(effects, { signal })
  }

  private restore (snapshot: Snapshot): void {
    this.stateMachine.restore(snapshot.data)
    this.membership = snapshot.metadata.confState
    this.hooks.restored?.(snapshot.metadata.index)
  }

  private applyEntry (e: Entry, node: RawNode, effects: StrongEffect[]): void {
    if (e.type === 'confChange' || e.data.byteLength === 0) {
      const cc = e.type === 'confChange' ? decodeConfChange(e.data) : undefined
      if (cc !== undefined) this.membership = node.applyConfChange(cc)
      this.stateMachine.skip(e.index)
      this.hooks.applied?.(e, undefined)
      return
    }
    const applied = this.stateMachine.applyEntry(e.index, e.data)
    this.hooks.applied?.(e, applied)
    if (applied.cmd === undefined) return
    const effect = effectOf(e.index, applied)
    if (effect !== null) effects.push(effect)
    this.pending.applied(applied.cmd, applied.result)
  }

  /** After step 5: a snapshot of the applied state, then the log up to `retainEntries` before it is dropped. */
  private * maybeCompact (): Steps {
    const storage = this.init.storage
    const { everyEntries, retainEntries } = this.init.compaction
    const applied = this.stateMachine.appliedIndex
    if (applied - storage.firstIndex() < everyEntries || applied > storage.lastIndex()) return
    yield storage.createSnapshot(applied, this.membership, this.stateMachine.snapshot())
    const to = applied - retainEntries
    if (to >= storage.firstIndex()) yield storage.compact(to)
  }
}

/** Registers a waiter through `submit` and turns it into a promise that also ends when `signal` aborts. */
async function waitFor<T> (submit: (w: Waiter<T>) => SubmitResult, remove: (w: Waiter<T>) => void, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      remove(waiter)
      reject(signal?.reason)
    }
    const waiter: Waiter<T> = {
      done: (value) => { signal?.removeEventListener('abort', onAbort); resolve(value) },
      fail: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
    }
    const result = submit(waiter)
    const refusal = refusalOf(result)
    if (refusal !== null) { reject(refusal); return }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function refusalOf (result: SubmitResult): GitConfigError | null {
  switch (result) {
    case 'proposed': case 'forwarded': return null
    case 'dropped': return new GitConfigError('NO_QUORUM', 'no Raft leader is known, a leadership transfer is in progress, or too many entries are uncommitted')
    case 'full': return tooManyPending()
    case 'stopped': return new GitConfigError('UNAVAILABLE', 'the Raft host is not running')
  }
}
