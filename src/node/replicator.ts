// Replication of plain writes between nodes (DESIGN.md, "Two paths for writes" and "Convergence"). The node owns
// one Replicator, which joins the store and the p2p host; neither knows the other.
//
// - Out: every durable commit on main (local writes, merges, fast-forwards) is announced as the node's head over
//   gossip. Anti-entropy asks `localHead()` for the same announcement on every connection and round.
// - In: a head event for a commit we do not hold becomes a job: fetch a pack from the announcing peer (want its
//   head, have our head plus the last head merged from each other node, so the pack is thin), ingest it, merge it.
//   Jobs run at most replicationFetchConcurrencyMax at a time and one per commit; while a node's job runs, only its
//   newest head waits (a newer head of a node contains the older ones, so the rest are superseded). A failure is
//   logged and counted and forgotten: the next announcement (gossip or the next anti-entropy round) retries it.
// - Shared remote: every syncIntervalSeconds fetch the others' branches and merge them, then push our head.
import type { Logger } from 'pino'
import { isGitConfigError } from '../errors.js'
import {
  p2pFetchHaveMax, replicationFetchBytesMax, replicationFetchConcurrencyMax, replicationFetchedHeadsMax, replicationFetchTimeoutMs,
  replicationKnownCommitsMax, replicationPeerHeadsMax, replicationPendingHeadsMax
} from '../limits.js'
import type { FetchRequest, HeadAnnouncement, HeadEvent, HostFetchOptions } from '../p2p/index.js'
import type { Version } from '../types.js'
import type { ReplicationMetrics } from './metrics.js'
import type { MergeResult, ReplicableStore, ReplicatedCommitEvent } from './replication-port.js'

/** The part of the p2p host replication uses (P2pHost implements it). */
export interface ReplicationTransport {
  announceHead (head: HeadAnnouncement): Promise<number>
  fetch (peerId: string, request: FetchRequest, options?: HostFetchOptions): AsyncIterable<Uint8Array>
}

export interface ReplicatorOptions {
  readonly store: ReplicableStore
  readonly transport: ReplicationTransport | null
  readonly remote: string | null
  readonly syncIntervalMs: number
  readonly logger: Logger
  readonly metrics: ReplicationMetrics
}

interface Job {
  readonly head: HeadAnnouncement
  /** The peer to fetch from. */
  readonly from: string
}

/** A set that forgets its oldest entries beyond `max` (insertion order). */
class BoundedSet {
  private readonly items = new Set<string>()
  constructor (private readonly max: number) {}
  has (v: string): boolean { return this.items.has(v) }
  values (): IterableIterator<string> { return this.items.values() }
  add (v: string): void {
    this.items.delete(v)
    this.items.add(v)
    if (this.items.size > this.max) {
      const oldest = this.items.values().next().value
      if (oldest !== undefined) this.items.delete(oldest)
    }
  }
}

function newer (a: Version, b: Version): boolean {
  if (a.wallMs !== b.wallMs) return a.wallMs > b.wallMs
  if (a.counter !== b.counter) return a.counter > b.counter
  return a.node > b.node
}

function describe (err: unknown): { code: string, message: string, reason?: unknown } {
  if (isGitConfigError(err)) return { code: err.code, message: err.message, reason: err.details.reason }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }
}

export class Replicator {
  private readonly store: ReplicableStore
  private readonly transport: ReplicationTransport | null
  private readonly logger: Logger
  private readonly metrics: ReplicationMetrics
  /** Commits we hold on main (ours, or merged): announcements of them are no-ops. */
  private readonly known = new BoundedSet(replicationKnownCommitsMax)
  /** Commits with a job running. */
  private readonly inFlight = new Set<string>()
  /** Node ids with a job running. */
  private readonly busyNodes = new Set<string>()
  /** Per node id, the newest head waiting for a free slot (or for that node's running job to end). */
  private readonly pending = new Map<string, Job>()
  /** The last head merged from each other node: offered as `have`, since that node surely holds it. */
  private readonly peerHeads = new Map<string, string>()
  /** Heads fetched lately (merged or not): their objects are here, so they are offered as `have` too. */
  private readonly fetched = new BoundedSet(replicationFetchedHeadsMax)
  /** The running fetch, if any: fetches take turns, so two never bring the same objects at once. */
  private fetchTurn: Promise<void> = Promise.resolve()
  private running = 0
  private newestVersion: Version
  private readonly abort = new AbortController()
  private readonly jobs = new Set<Promise<void>>()
  private unsubscribe: (() => void) | null = null
  private syncTimer: NodeJS.Timeout | null = null
  private syncing: Promise<void> | null = null

  constructor (private readonly options: ReplicatorOptions) {
    this.store = options.store
    this.transport = options.transport
    this.logger = options.logger.child({ component: 'replication' })
    this.metrics = options.metrics
    // Until the first commit event we do not know the newest version in our head; zero orders before every write,
    // and receivers use the announcement's commit, not its version, to decide what to fetch.
    this.newestVersion = { wallMs: 0, counter: 0, node: this.store.nodeId }
  }

  start (): void {
    const head = this.store.head
    if (head !== null) this.known.add(head)
    this.unsubscribe = this.store.onCommit(e => { this.onLocalCommit(e) })
    if (this.options.remote !== null) {
      this.syncNow()
      this.syncTimer = setInterval(() => { this.syncNow() }, this.options.syncIntervalMs)
    }
  }

  /** Stops announcing and syncing, aborts running jobs and waits for them to end. */
  async stop (): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.syncTimer !== null) clearInterval(this.syncTimer)
    this.syncTimer = null
    this.pending.clear()
    this.abort.abort()
    await Promise.allSettled([...this.jobs, this.syncing])
  }

  /**
   * Resolves once no job and no shared-remote round is running, counting the jobs that finishing ones start (tests:
   * they wait for the replicator's own work instead of a number of event-loop turns). A job held up forever keeps
   * it pending. onHead decides and starts its job synchronously; should it ever await first, that wait belongs here.
   */
  async idle (): Promise<void> {
    while (this.jobs.size > 0 || this.syncing !== null) await Promise.allSettled([...this.jobs, this.syncing])
  }

  /** What anti-entropy advertises: our head, or nothing for an empty repository. */
  localHeads (): HeadAnnouncement[] {
    const commit = this.store.head
    return commit === null ? [] : [{ nodeId: this.store.nodeId, commit, hlc: this.newestVersion }]
  }

  /** Serves a peer's fetch: the pack of what it wants minus what it has. */
  createPack (request: FetchRequest, signal: AbortSignal): AsyncIterable<Uint8Array> {
    return this.store.createPack({ want: request.want, have: request.have }, signal)
  }

  /** A head from a peer (gossip or anti-entropy). Never throws: bad or failing heads are logged and counted. */
  onHead (event: HeadEvent): void {
    this.metrics.headsReceived.inc({ via: event.via })
    const { head } = event
    if (this.abort.signal.aborted) return
    if (head.commit === this.store.head || this.known.has(head.commit) || this.inFlight.has(head.commit)) return
    const job: Job = { head, from: event.from }
    if (this.busyNodes.has(head.nodeId) || this.running >= replicationFetchConcurrencyMax) {
      this.enqueue(job)
      return
    }
    this.run(job)
  }

  private enqueue (job: Job): void {
    const waiting = this.pending.get(job.head.nodeId)
    if (waiting !== undefined && newer(waiting.head.hlc, job.head.hlc)) {
      // An older head of the same node is contained in the one already waiting. At an equal version (a node that
      // has not committed since it started announces version zero) the later announcement is the better guess.
      return
    }
    if (waiting === undefined && this.pending.size >= replicationPendingHeadsMax) {
      this.metrics.headsDropped.inc()
      return
    }
    this.pending.delete(job.head.nodeId)
    this.pending.set(job.head.nodeId, job)
  }

  private run (job: Job): void {
    const { commit, nodeId } = job.head
    this.running += 1
    this.inFlight.add(commit)
    this.busyNodes.add(nodeId)
    const done = this.replicate(job).finally(() => {
      this.running -= 1
      this.inFlight.delete(commit)
      this.busyNodes.delete(nodeId)
      this.jobs.delete(done)
      this.next()
    })
    this.jobs.add(done)
  }

  /** Starts waiting jobs while there are free slots, oldest waiting node first. */
  private next (): void {
    for (const [nodeId, job] of this.pending) {
      if (this.running >= replicationFetchConcurrencyMax || this.abort.signal.aborted) return
      if (this.busyNodes.has(nodeId)) continue
      this.pending.delete(nodeId)
      if (this.known.has(job.head.commit) || job.head.commit === this.store.head || this.inFlight.has(job.head.commit)) continue
      this.run(job)
    }
  }

  /** Fetch (unless the objects are here already), ingest, merge. Resolves always; failures are logged. */
  private async replicate (job: Job): Promise<void> {
    const { commit, nodeId } = job.head
    const signal = this.abort.signal
    const log = { commit, node: nodeId, peer: job.from }
    // Phase durations go into the debug line: where propagation time goes (check, transfer, merge) on a live node.
    const startedMs = performance.now()
    let fetchMs = 0
    try {
      if (!await this.store.hasCommit(commit)) {
        if (this.transport === null) return
        const fetchStartMs = performance.now()
        await this.inFetchTurn(async () => {
          // The fetch before this one may have brought the commit already (a merge of heads we just fetched).
          if (await this.store.hasCommit(commit)) return
          await this.fetchInto(job, AbortSignal.any([signal, AbortSignal.timeout(replicationFetchTimeoutMs)]))
        })
        fetchMs = performance.now() - fetchStartMs
      }
      const mergeStartMs = performance.now()
      const result = await this.mergeCounted(commit, signal)
      this.afterMerge(nodeId, commit, result)
      const doneMs = performance.now()
      this.logger.debug({
        ...log, outcome: result.outcome, changedKeys: result.changedKeys, head: result.head,
        totalMs: Math.round(doneMs - startedMs), fetchMs: Math.round(fetchMs), mergeMs: Math.round(doneMs - mergeStartMs)
      }, 'merged a peer head')
    } catch (err) {
      if (this.abort.signal.aborted) return
      this.logger.warn({ ...log, error: describe(err) }, 'replication from a peer failed; dropped until its next announcement')
    }
  }

  /**
   * mergeFrom, counting refusals: a head beyond the merge limits (mergeParentsMax, mergeFrontierWalkMax) or with
   * invalid entries is refused (the caller logs it), so a crafted head costs a count and a log line, never a commit.
   */
  private async mergeCounted (commit: string, signal: AbortSignal): Promise<MergeResult> {
    try {
      return await this.store.mergeFrom(commit, { signal })
    } catch (err) {
      if (!signal.aborted) this.metrics.mergesRefused.inc({ reason: isGitConfigError(err) && err.details.reason === 'malformed' ? 'malformed' : 'other' })
      throw err
    }
  }

  /** Runs `fetch` once every fetch started before it has ended (merges are not part of a turn). */
  private async inFetchTurn (fetch: () => Promise<void>): Promise<void> {
    const previous = this.fetchTurn
    let done = (): void => {}
    this.fetchTurn = new Promise<void>((resolve) => { done = resolve })
    try {
      await previous
      await fetch()
    } finally {
      done()
    }
  }

  private async fetchInto (job: Job, signal: AbortSignal): Promise<void> {
    const transport = this.transport
    if (transport === null) return
    const request = { want: [job.head.commit], have: this.haves() }
    let bytes = 0
    const counted = async function * (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        bytes += chunk.byteLength
        yield chunk
      }
    }
    try {
      await this.store.ingestPack(counted(transport.fetch(job.from, request, { bytesMax: replicationFetchBytesMax, signal })), {
        expect: [job.head.commit], bytesMax: replicationFetchBytesMax, signal
      })
      this.fetched.add(job.head.commit)
      this.metrics.fetches.inc({ result: 'ok' })
    } catch (err) {
      this.metrics.fetches.inc({ result: 'failed' })
      throw err
    } finally {
      this.metrics.fetchBytes.inc(bytes)
    }
  }

  /**
   * Our head, the last head merged from each other node and the heads fetched lately: commits whose objects we
   * hold and the announcer most likely holds too. A head fetched but not merged yet counts: after a partition, the
   * other side's merge of it then arrives as a pack of the merge commit alone instead of that side's history again.
   */
  private haves (): string[] {
    const out = new Set<string>()
    const head = this.store.head
    if (head !== null) out.add(head)
    for (const source of [this.peerHeads.values(), this.fetched.values()]) {
      for (const c of source) {
        if (out.size >= p2pFetchHaveMax) break
        out.add(c)
      }
    }
    return [...out]
  }

  private afterMerge (nodeId: string, commit: string, result: MergeResult): void {
    this.metrics.merges.inc({ outcome: result.outcome })
    this.known.add(commit)
    this.known.add(result.head)
    this.peerHeads.delete(nodeId)
    this.peerHeads.set(nodeId, commit)
    if (this.peerHeads.size > replicationPeerHeadsMax) {
      const oldest = this.peerHeads.keys().next().value
      if (oldest !== undefined) this.peerHeads.delete(oldest)
    }
  }

  /** Every commit on main, ours or merged, is announced: peers then fetch merges too and converge on them. */
  private onLocalCommit (event: ReplicatedCommitEvent): void {
    this.known.add(event.commit)
    for (const c of event.changes) if (newer(c.meta.version, this.newestVersion)) this.newestVersion = c.meta.version
    if (this.transport === null) return
    const head = { nodeId: this.store.nodeId, commit: event.commit, hlc: this.newestVersion }
    this.transport.announceHead(head).catch((err: unknown) => {
      this.logger.warn({ commit: event.commit, error: describe(err) }, 'announcing a head failed')
    })
  }

  /** One shared-remote round, unless one is still running. */
  private syncNow (): void {
    if (this.syncing !== null || this.abort.signal.aborted) return
    this.syncing = this.syncWithRemote().finally(() => { this.syncing = null })
  }

  private async syncWithRemote (): Promise<void> {
    const remote = this.options.remote
    if (remote === null) return
    try {
      const heads = await this.store.fetchFromRemote(remote)
      for (const commit of heads) {
        if (this.abort.signal.aborted) return
        if (commit === this.store.head || this.known.has(commit)) continue
        const result = await this.mergeCounted(commit, this.abort.signal)
        this.metrics.merges.inc({ outcome: result.outcome })
        this.known.add(commit)
        this.known.add(result.head)
      }
      if (this.store.head !== null) await this.store.pushToRemote(remote)
      this.metrics.remoteSyncs.inc({ result: 'ok' })
    } catch (err) {
      if (this.abort.signal.aborted) return
      this.metrics.remoteSyncs.inc({ result: 'failed' })
      this.logger.warn({ remote, error: describe(err) }, 'sync with the shared remote failed; retrying next interval')
    }
  }
}
