// Group commit: changes submitted while a commit is in flight wait in a queue and go out together in the next one.
// Every caller is answered only after fast-import's checkpoint for its commit, i.e. once the change is durable.
// The loop also restarts fast-import when it died (reading the real tip of main first) and every so often on
// purpose, so the packs it keeps (.keep) are released for background repacking.
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError } from '../errors.js'
import { authorBytesMax, commitBatchChangesMax, writeQueueChangesMax } from '../limits.js'
import { commitMessage, sanitizeAuthor } from './commit-message.js'
import { encodeMeta, type KeyMeta } from './entry.js'
import { FastImport, type BlobMark, type FileChange, type ParentedCommitRequest } from './fast-import.js'
import { keyToTreeDir, metaFileName, valueFileName } from './keys.js'
import { branchRef, finishInterruptedMainUpdate, formatFileName, formatVersion, readHead } from './repository.js'

/** A fully specified change to one key (the `commitChanges` hook: set, delete, cas, rollback, expire, merge...). */
export interface Change {
  /** Normalised key. */
  readonly key: string
  readonly meta: KeyMeta
  /** The new value; null makes a tombstone (`.meta` kept, `.value` removed). */
  readonly value: Uint8Array | null
  /** The client identity behind the change, when one is known (decides the commit author). */
  readonly clientAuthor: string | null
  /** For expiry: the TTL deadline this change retires from the index. */
  readonly clearsDeadlineMs: number | null
}

export interface CommittedBatch {
  readonly commit: string
  readonly timeSec: number
  readonly subject: string
  readonly changes: readonly Change[]
  /** Blob ids of the values (null for tombstones), in the order of `changes`. */
  readonly valueOids: ReadonlyArray<string | null>
  /** Changes recorded in the commit's message (history) but not in its tree: a merged entry outranks them. */
  readonly superseded: ReadonlySet<Change>
}

export interface GroupCommitHooks {
  /** Called synchronously when a commit is durable, before any of its callers is answered. */
  readonly onCommitted: (batch: CommittedBatch) => void
  /** Called when a commit failed: every change accepted but not yet durable has been failed with `err`. */
  readonly onFailed: (err: GitConfigError) => void
  /** Before (re)starting fast-import: main may hold commits the store did not see acknowledged. */
  readonly onRestart: (actualHead: string | null) => Promise<void>
  /** After fast-import was stopped on purpose for maintenance. */
  readonly onMaintenanceWindow: () => void
  /** Whether maintenance is due, given commits since the last window. */
  readonly maintenanceDue: (commitsSince: number) => boolean
}

/**
 * A change as it waits in the queue: its blobs are encoded (and, when fast-import is running, already sent to it) at
 * submit time, so git stores them while the rest of the commit is still arriving.
 */
interface QueuedChange {
  readonly change: Change
  readonly meta: Uint8Array
  readonly valueOid: string | null
  /** The blobs as sent ahead to the fast-import running at submit time (null: not sent). */
  readonly metaSent: BlobMark | null
  readonly valueSent: BlobMark | null
  /** Set by a merge that brought a higher entry of the key (markSuperseded). */
  superseded: boolean
}

interface Group {
  readonly items: readonly QueuedChange[]
  readonly resolve: (commit: string) => void
  readonly reject: (err: Error) => void
}

/**
 * What a task run with `runExclusive` may do while it alone holds the writer: local writes wait in the queue meanwhile.
 * A failure of either git call stops fast-import (the next write restarts it from the real tip of main).
 */
export interface ExclusiveWriter {
  /** The tip of main as the writer knows it. */
  readonly head: string | null
  /** Commits with explicit parents; durable on main when it resolves. */
  commitWithParents: (req: Omit<ParentedCommitRequest, 'branch'>) => Promise<string>
  /** Moves main to `commit`, which must contain the current head; durable when it resolves. */
  fastForward: (commit: string) => Promise<void>
  /**
   * Marks queued (not yet committed) changes for which `superseded` is true: they stay in the queue and are
   * committed as usual, recorded in the commit message (so history shows every acknowledged write and the writer's
   * reply names a commit that holds it), but their files are not written, so the tree keeps the merged entry that
   * outranks them: a commit's tree stays the join of its parent's tree and its changes. Returns the changes marked.
   */
  markSuperseded: (superseded: (c: Change) => boolean) => Change[]
}

interface ExclusiveTask {
  readonly run: (writer: ExclusiveWriter) => Promise<void>
  readonly reject: (err: Error) => void
}

const textEncoder = new TextEncoder()

/** The git blob id of `data` (SHA-1 object format), so the index knows value ids without asking git. */
export function blobOid (data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.length}\u0000`).update(data).digest('hex')
}

/** A blob as the commit going to `fi` names it: by mark when `fi` holds it (sent ahead), else inline. */
function heldBy (fi: FastImport, sent: BlobMark | null, data: Uint8Array): Uint8Array | BlobMark {
  return sent !== null && sent.owner === fi ? sent : data
}

export class GroupCommitter {
  private queue: Group[] = []
  private exclusive: ExclusiveTask[] = []
  private queuedChanges = 0
  private running = false
  private fastImport: FastImport | null = null
  private head: string | null
  private commitsSinceMaintenance = 0
  private renewRequested = false
  private idleWaiters: Array<() => void> = []
  /** The last fast-import killed, until the next one starts. */
  private killed: FastImport | null = null

  constructor (
    private readonly gitDir: string,
    private readonly nodeId: string,
    private readonly clock: () => number,
    head: string | null,
    private readonly hooks: GroupCommitHooks
  ) {
    this.head = head
  }

  get currentHead (): string | null { return this.head }
  get fastImportPid (): number | undefined { return this.fastImport?.pid }

  /** Queues changes to go into one commit together (never split); resolves with the commit once durable. */
  submit (changes: readonly Change[]): Promise<string> {
    if (this.queuedChanges + changes.length > writeQueueChangesMax) {
      return Promise.reject(new GitConfigError('UNAVAILABLE', `the write queue is full (${writeQueueChangesMax} changes); retry later`))
    }
    const items = changes.map((c) => this.queued(c))
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject })
      this.queuedChanges += changes.length
      this.wake()
    })
  }

  private queued (change: Change): QueuedChange {
    const meta = textEncoder.encode(encodeMeta(change.meta))
    const valueOid = change.value === null ? null : blobOid(change.value)
    const fi = this.fastImport
    if (fi === null) return { change, meta, valueOid, metaSent: null, valueSent: null, superseded: false }
    const metaSent = fi.sendBlob(meta)
    const valueSent = change.value === null ? null : fi.sendBlob(change.value)
    return { change, meta, valueOid, metaSent, valueSent, superseded: false }
  }

  /**
   * Runs `task` alone in the write loop (merges, fast-forwards), ahead of queued local writes, and resolves with
   * its result. Tasks run one at a time, in the order given.
   */
  runExclusive<T> (task: (writer: ExclusiveWriter) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push({ run: async (writer) => { resolve(await task(writer)) }, reject })
      this.wake()
    })
  }

  private wake (): void {
    if (!this.running) {
      this.running = true
      // Let callers of the same tick join this commit.
      setImmediate(() => { void this.loop() })
    }
  }

  /** Resolves when the queue is empty and no commit is in flight. */
  idle (): Promise<void> {
    if (!this.running) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  async close (): Promise<void> {
    await this.idle()
    const fi = this.fastImport
    this.fastImport = null
    await fi?.close()
  }

  /**
   * Replaces fast-import before the next commit or task. After a repack that no maintenance window preceded: a
   * long-lived fast-import keeps every pack it has read from mapped, deleted or not (the window replaces it anyway).
   */
  renewFastImport (): void {
    this.renewRequested = true
  }

  /** Kills fast-import (tests of the restart path). */
  killFastImportForTest (): void { this.killFastImport() }

  /** Kills fast-import; the next start waits for it to be gone and repairs what it may have left (ensureFastImport). */
  private killFastImport (): void {
    const fi = this.fastImport
    if (fi === null) return
    fi.kill()
    this.killed = fi
    this.fastImport = null
  }

  private takeBatch (): Group[] {
    const batch: Group[] = []
    const keys = new Set<string>()
    let count = 0
    while (this.queue.length > 0) {
      const g = this.queue[0]
      if (batch.length > 0 && (count + g.items.length > commitBatchChangesMax || g.items.some((q) => keys.has(q.change.key)))) break
      this.queue.shift()
      for (const q of g.items) keys.add(q.change.key)
      count += g.items.length
      batch.push(g)
    }
    return batch
  }

  private async loop (): Promise<void> {
    while (this.queue.length > 0 || this.exclusive.length > 0) {
      if (this.renewRequested) await this.renew()
      const task = this.exclusive.shift()
      if (task !== undefined) {
        await this.runTask(task)
        continue
      }
      const batch = this.takeBatch()
      try {
        await this.commitBatch(batch)
      } catch (err) {
        this.failEverything(batch, err)
      }
    }
    this.running = false
    for (const w of this.idleWaiters.splice(0)) w()
  }

  private async renew (): Promise<void> {
    this.renewRequested = false
    const fi = this.fastImport
    if (fi === null || !fi.alive) return
    this.fastImport = null
    try {
      await fi.close()
    } catch {
      fi.kill()
      this.killed = fi
      return // the next write starts one the careful way (ensureFastImport reads main first)
    }
    this.startFastImport()
  }

  private async runTask (task: ExclusiveTask): Promise<void> {
    const gitFailed = async <T>(op: () => Promise<T>): Promise<T> => {
      try {
        return await op()
      } catch (err) {
        // The state of fast-import's branch is unknown now: start a fresh one (from the real tip) for the next write.
        this.killFastImport()
        throw err
      }
    }
    const currentHead = (): string | null => this.head
    const writer: ExclusiveWriter = {
      get head () { return currentHead() },
      commitWithParents: async (req) => await gitFailed(async () => {
        const fi = await this.ensureFastImport()
        const commit = await fi.commitWithParents({ ...req, branch: branchRef })
        this.head = commit
        return commit
      }),
      fastForward: async (commit) => { await gitFailed(async () => {
        const fi = await this.ensureFastImport()
        await fi.resetBranch(branchRef, commit)
        this.head = commit
      }) },
      markSuperseded: (superseded) => this.markSuperseded(superseded)
    }
    try {
      // Started first, so the head the task sees is the tip fast-import will build on.
      await this.ensureFastImport()
      await task.run(writer)
    } catch (err) {
      task.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private markSuperseded (superseded: (c: Change) => boolean): Change[] {
    const marked: Change[] = []
    for (const g of this.queue) {
      for (const q of g.items) {
        if (q.superseded || !superseded(q.change)) continue
        q.superseded = true
        marked.push(q.change)
      }
    }
    return marked
  }

  private failEverything (batch: Group[], err: unknown): void {
    const failure = err instanceof GitConfigError
      ? err
      : new GitConfigError('GIT_UNAVAILABLE', `commit failed: ${err instanceof Error ? err.message : String(err)}`)
    // Later changes were decided (CAS, delete) against the failed ones, so none of them can stand either.
    const failed = [...batch, ...this.queue.splice(0)]
    this.queuedChanges = 0
    this.killFastImport()
    this.hooks.onFailed(failure)
    for (const g of failed) g.reject(failure)
  }

  private async ensureFastImport (): Promise<FastImport> {
    if (this.fastImport !== null && this.fastImport.alive) return this.fastImport
    // Started lazily only at open and after a failure, when main may hold commits we never saw acknowledged.
    const killed = this.killed ?? (this.fastImport !== null && !this.fastImport.alive ? this.fastImport : null)
    if (killed !== null) {
      // A fast-import killed inside a checkpoint may leave refs/heads/main.lock behind, which would refuse every
      // later ref update: once it is gone, finish that update if it was complete, else drop the lock (as at open).
      this.killed = null
      await killed.close().catch(() => {})
      await finishInterruptedMainUpdate(this.gitDir)
      await rm(join(this.gitDir, branchRef + '.lock'), { force: true })
    }
    const actual = await readHead(this.gitDir)
    if (actual !== this.head) {
      await this.hooks.onRestart(actual)
      this.head = actual
    }
    return this.startFastImport()
  }

  private startFastImport (): FastImport {
    this.fastImport = new FastImport(this.gitDir, this.head, () => { /* failures surface through commit() */ })
    return this.fastImport
  }

  private async commitBatch (batch: Group[]): Promise<void> {
    const items = batch.flatMap((g) => g.items)
    const changes = items.map((q) => q.change)
    const fi = await this.ensureFastImport()
    const files: FileChange[] = []
    if (this.head === null) files.push({ path: formatFileName, data: textEncoder.encode(formatVersion + '\n') })
    for (const q of items) {
      if (q.superseded) continue
      const dir = keyToTreeDir(q.change.key)
      files.push({ path: `${dir}/${metaFileName}`, data: heldBy(fi, q.metaSent, q.meta) })
      files.push({ path: `${dir}/${valueFileName}`, data: q.change.value === null ? null : heldBy(fi, q.valueSent, q.change.value) })
    }
    const valueOids = items.map((q) => q.valueOid)
    const message = commitMessage(changes)
    const timeSec = Math.floor(this.clock() / 1000)
    const committer = { name: 'gitconfig', email: `${this.nodeId}@gitconfig.invalid`, timeSec }
    const clients = new Set(changes.map((c) => c.clientAuthor))
    const onlyClient = clients.size === 1 ? [...clients][0] : null
    const authorName = onlyClient === null ? '' : sanitizeAuthor(onlyClient, authorBytesMax)
    const author = authorName === '' ? committer : { ...committer, name: authorName }
    const commit = await fi.commit({ branch: branchRef, author, committer, message, files })
    this.head = commit
    this.queuedChanges -= changes.length
    const superseded = new Set(items.filter((q) => q.superseded).map((q) => q.change))
    this.hooks.onCommitted({ commit, timeSec, subject: message.split('\n')[0], changes, valueOids, superseded })
    for (const g of batch) g.resolve(commit)
    this.commitsSinceMaintenance += 1
    if (this.hooks.maintenanceDue(this.commitsSinceMaintenance)) {
      this.commitsSinceMaintenance = 0
      this.fastImport = null
      await fi.close()
      this.hooks.onMaintenanceWindow()
      // Start the next fast-import now rather than on the next write, which would otherwise wait for the process
      // start and a rev-parse: main is the commit just acknowledged, and the writer lock rules out other writers.
      // The packs the new process writes are kept (.keep) and skipped by the repack; the closed one's are released.
      this.startFastImport()
    }
  }
}
