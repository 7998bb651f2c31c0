// The single writer's long-lived `git fast-import`. Each commit is sent with `checkpoint` then `get-mark`: git
// answers the mark only after the checkpoint has written and fsynced the pack and its index, fsynced
// refs/heads/main.lock and renamed it over the ref. The rename itself is made durable here, by an fsync of the
// directories whose names the checkpoint changed, before the answer is passed on: only then is it the durability
// acknowledgement for every change in the commit (docs/operations.md "Durability", decision 0266).
// Blobs may be sent ahead of their commit (`sendBlob`) so git stores them while the commit is still being gathered.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError } from '../errors.js'
import { gitStderrBytesMax } from '../limits.js'
import { fastImportConfigArgs, fastImportEnv, gitConfigArgs } from './git-process.js'
import { packLookups, type PackLookups } from './pack-lookups.js'
import { syncDirectory } from './repository.js'

/** A blob this fast-import process already holds (sent with `sendBlob`), named by its mark. */
export interface BlobMark {
  readonly mark: number
  /** The process that holds it: marks mean nothing to another one. */
  readonly owner: FastImport
}

/** One file in a commit: its path in the tree and its new content (inline or sent ahead), or null to delete it. */
export interface FileChange {
  readonly path: string
  readonly data: Uint8Array | BlobMark | null
}

export interface Signature {
  readonly name: string
  readonly email: string
  /** Seconds since the epoch. */
  readonly timeSec: number
}

export interface CommitRequest {
  readonly branch: string
  readonly author: Signature
  readonly committer: Signature
  readonly message: string
  readonly files: readonly FileChange[]
}

const textEncoder = new TextEncoder()

/** Paths reach fast-import unquoted, so they must be from the encoded alphabet (keys.ts) plus `/`. */
const safePathPattern = /^[A-Za-z0-9_.%/-]+$/

function signatureLine (kind: 'author' | 'committer', s: Signature): string {
  return `${kind} ${s.name} <${s.email}> ${s.timeSec} +0000\n`
}

function dataCommand (bytes: Uint8Array): Buffer[] {
  return [Buffer.from(`data ${bytes.length}\n`), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), Buffer.from('\n')]
}

/** The fast-import stream for one commit, followed by the checkpoint and the mark query that acknowledges it. */
export function commitStream (req: CommitRequest, from: string | null): Buffer {
  const parts: Buffer[] = [Buffer.from(`commit ${req.branch}\nmark :1\n`)]
  parts.push(Buffer.from(signatureLine('author', req.author) + signatureLine('committer', req.committer)))
  parts.push(...dataCommand(textEncoder.encode(req.message)))
  if (from !== null) parts.push(Buffer.from(`from ${from}\n`))
  for (const f of req.files) {
    if (!safePathPattern.test(f.path)) throw new Error(`unsafe path reached fast-import: ${JSON.stringify(f.path)}`)
    if (f.data === null) {
      parts.push(Buffer.from(`D ${f.path}\n`))
    } else if (f.data instanceof Uint8Array) {
      parts.push(Buffer.from(`M 100644 inline ${f.path}\n`), ...dataCommand(f.data))
    } else {
      parts.push(Buffer.from(`M 100644 :${f.data.mark} ${f.path}\n`))
    }
  }
  parts.push(Buffer.from('\ncheckpoint\nget-mark :1\n'))
  return Buffer.concat(parts)
}

/**
 * A commit with explicit parents (merge commits): the tree starts as `rootTree` (default: the first parent's) and
 * takes `files`.
 */
export interface ParentedCommitRequest extends Omit<CommitRequest, 'files'> {
  readonly parents: readonly string[]
  /** An existing tree to start from instead of the first parent's. */
  readonly rootTree?: string
  /** Files set from existing blobs (by id) or deleted. */
  readonly files: ReadonlyArray<{ readonly path: string, readonly blob: string | null }>
}

const objectIdPattern = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/

function checkedPath (path: string): string {
  if (!safePathPattern.test(path)) throw new Error(`unsafe path reached fast-import: ${JSON.stringify(path)}`)
  return path
}

function checkedOid (oid: string): string {
  if (!objectIdPattern.test(oid)) throw new Error(`not an object id: ${JSON.stringify(oid)}`)
  return oid
}

/** The stream for a commit with explicit parents, then the checkpoint and the mark query that acknowledges it. */
export function parentedCommitStream (req: ParentedCommitRequest): Buffer {
  if (req.parents.length === 0) throw new Error('a parented commit needs at least one parent')
  const parts: Buffer[] = [Buffer.from(`commit ${req.branch}\nmark :1\n`)]
  parts.push(Buffer.from(signatureLine('author', req.author) + signatureLine('committer', req.committer)))
  parts.push(...dataCommand(textEncoder.encode(req.message)))
  parts.push(Buffer.from(`from ${checkedOid(req.parents[0])}\n`))
  for (const p of req.parents.slice(1)) parts.push(Buffer.from(`merge ${checkedOid(p)}\n`))
  // An empty path names the root: the whole tree is replaced by an existing one in a single command.
  if (req.rootTree !== undefined) parts.push(Buffer.from(`M 040000 ${checkedOid(req.rootTree)} ""\n`))
  for (const f of req.files) {
    parts.push(Buffer.from(f.blob === null ? `D ${checkedPath(f.path)}\n` : `M 100644 ${checkedOid(f.blob)} ${checkedPath(f.path)}\n`))
  }
  parts.push(Buffer.from('\ncheckpoint\nget-mark :1\n'))
  return Buffer.concat(parts)
}

/** The path `resetStream` asks about; any answer (present or `missing`) will do. */
const formatProbePath = '.gitconfig-format'

/**
 * Moves a branch to an existing commit (a fast-forward), then asks `ls` about the commit's root: git answers only
 * after the checkpoint has moved (and fsynced) the ref, so the answer acknowledges the move.
 */
export function resetStream (branch: string, commit: string): Buffer {
  return Buffer.from(`reset ${branch}\nfrom ${checkedOid(commit)}\n\ncheckpoint\nls ${commit} ${formatProbePath}\n`)
}

/**
 * fsyncs each directory in turn (the pack's folder first). Both are durable before anyone is answered; on
 * filesystems that journal metadata in order (ext4, XFS) the ref's rename could not outlive the pack's names anyway.
 */
async function syncDirectories (dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await syncDirectory(dir)
}

interface Waiter {
  /** Whether an answer line is the one expected; a false answer rejects. */
  accept: (line: string) => boolean
  resolve: (answer: string) => void
  reject: (err: Error) => void
}

/** Blobs sent ahead are written to git in groups of this many (fewer, smaller pipe writes; git still starts early). */
const blobsPerWrite = 128

const isCommitAnswer = (line: string): boolean => /^[0-9a-f]{40,64}$/.test(line)
const isLsAnswer = (line: string): boolean => line.startsWith('missing ') || /^\d{6} \w+ [0-9a-f]{40,64}\t/.test(line)

export class FastImport {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly waiters: Waiter[] = []
  private stdoutRest = ''
  private stderr = ''
  private exited = false
  private readonly exitPromise: Promise<void>
  /** The commit the next commit builds on; null until the first commit of a new repository. */
  private from: string | null
  /** Mark :1 names each commit in turn; blobs sent ahead take the marks after it. */
  private nextBlobMark = 2
  /** Blob commands not yet written to git (they go out in groups, and always before the next commit). */
  private blobsUnsent: Buffer[] = []
  private blobsUnsentCount = 0

  /** Directories whose entries a commit's checkpoint changes: the pack's and its index's names, then the ref's. */
  private readonly commitDirs: readonly string[]
  /** The one a fast-forward changes (no pack is written). */
  private readonly refDirs: readonly string[]
  /** The directory fsyncs of earlier answers: answers are passed on in order, each after its own fsyncs. */
  private synced: Promise<void> = Promise.resolve()
  /** Commands in flight look objects up in the packs: maintenance deletes packs only when they are answered. */
  private readonly lookups: PackLookups

  constructor (private readonly gitDir: string, head: string | null, private readonly onUnexpectedExit: (err: GitConfigError) => void) {
    this.from = head
    const refsDir = join(gitDir, 'refs', 'heads')
    this.commitDirs = [join(gitDir, 'objects', 'pack'), refsDir]
    this.refDirs = [refsDir]
    this.lookups = packLookups(gitDir)
    // --force: main moves from one canonical merge to the next, which joins the same write commits and more but does
    // not contain the merge before it (docs/merge.md); without it git would keep the old tip and say nothing we read.
    // Only this process moves main while the store holds the writer lock, so nothing else's update can be undone.
    this.child = spawn('git', [...gitConfigArgs, ...fastImportConfigArgs, '--git-dir', gitDir, 'fast-import', '--done', '--quiet', '--force'],
      { stdio: ['pipe', 'pipe', 'pipe'], env: fastImportEnv() })
    this.child.stdout.setEncoding('utf8')
    this.child.stdout.on('data', (chunk: string) => this.onStdout(chunk))
    this.child.stderr.on('data', (b: Buffer) => { if (this.stderr.length < gitStderrBytesMax) this.stderr += b.toString('utf8') })
    this.child.stdin.on('error', () => { /* reported through 'close' */ })
    this.exitPromise = new Promise((resolve) => {
      this.child.on('error', (e) => this.onExit(`could not start git fast-import: ${e.message}`, resolve))
      this.child.on('close', (code, signal) => this.onExit(`git fast-import exited (${signal ?? `code ${code}`})`, resolve))
    })
  }

  get pid (): number | undefined { return this.child.pid }
  get alive (): boolean { return !this.exited }

  /**
   * Sends a blob ahead of the commit that will name it (by the returned mark), so git hashes and stores it while the
   * commit is still being gathered. Null when the process is gone or closing: the commit must carry the data inline.
   * A blob whose commit never comes stays an unreachable object in the pack, as a failed write's would.
   */
  sendBlob (data: Uint8Array): BlobMark | null {
    if (this.exited || this.closing) return null
    const mark = this.nextBlobMark++
    this.blobsUnsent.push(Buffer.from(`blob\nmark :${mark}\n`), ...dataCommand(data))
    this.blobsUnsentCount += 1
    if (this.blobsUnsentCount >= blobsPerWrite) this.writeUnsentBlobs()
    return { mark, owner: this }
  }

  /** Sends one commit; resolves with its id once it is durable on refs/heads/main. */
  commit (req: CommitRequest): Promise<string> {
    if (this.exited) return Promise.reject(this.failure('git fast-import is not running'))
    for (const f of req.files) {
      if (f.data !== null && !(f.data instanceof Uint8Array) && f.data.owner !== this) {
        return Promise.reject(new Error(`blob mark :${f.data.mark} belongs to another fast-import process`))
      }
    }
    return this.send(commitStream(req, this.from), isCommitAnswer, { branch: req.branch, dirs: this.commitDirs })
  }

  /** Sends a commit with explicit parents (a merge); resolves with its id once durable on the branch. */
  commitWithParents (req: ParentedCommitRequest): Promise<string> {
    return this.send(parentedCommitStream(req), isCommitAnswer, { branch: req.branch, dirs: this.commitDirs })
  }

  /** Fast-forwards the branch to an existing commit; resolves once the ref update is durable. */
  async resetBranch (branch: string, commit: string): Promise<void> {
    await this.send(resetStream(branch, commit), isLsAnswer, { branch, commit, dirs: this.refDirs })
  }

  /**
   * Sends a stream that ends with a checkpoint and one query; resolves with git's answer once the branch is seen to
   * hold the commit (`moved.commit`, or the answer itself) and the directories in `moved.dirs` are fsynced.
   *
   * The check: git answers the query even when the checkpoint could not update the ref (a `main.lock` left by a
   * killed git: "cannot lock ref", printed to stderr only), so the answer alone would acknowledge a commit that is
   * not on main. The fsyncs: git fsyncs the ref's lock file but not refs/heads after renaming the lock over the ref,
   * and not objects/pack after naming the pack; on ext4 a power cut within the journal's commit interval could
   * otherwise undo an acknowledged rename.
   */
  private send (stream: Buffer, accept: (line: string) => boolean, moved: { branch: string, commit?: string, dirs: readonly string[] }): Promise<string> {
    if (this.exited) return Promise.reject(this.failure('git fast-import is not running'))
    return this.lookups.track(new Promise((resolve, reject) => {
      const answered = (answer: string): void => {
        // The branch now has a tip inside fast-import, so later commits must not name `from` again.
        this.from = null
        const commit = moved.commit ?? answer
        const synced = this.synced.then(async () => {
          const onDisk = (await readFile(join(this.gitDir, moved.branch), 'utf8').catch(() => '')).trim()
          if (onDisk !== commit) throw this.failure(`git fast-import answered but did not move ${moved.branch} to ${commit} (it holds ${onDisk || 'nothing'})`)
          await syncDirectories(moved.dirs)
        })
        this.synced = synced.catch(() => {})
        synced.then(() => resolve(answer), (err: Error) => {
          reject(err instanceof GitConfigError ? err : new GitConfigError('GIT_UNAVAILABLE', `git moved ${moved.branch} but the move could not be made durable: ${err.message}`))
        })
      }
      this.waiters.push({ accept, resolve: answered, reject })
      this.writeUnsentBlobs()
      this.child.stdin.write(stream)
    }))
  }

  private writeUnsentBlobs (): void {
    if (this.blobsUnsentCount === 0) return
    const blobs = Buffer.concat(this.blobsUnsent)
    this.blobsUnsent = []
    this.blobsUnsentCount = 0
    this.child.stdin.write(blobs)
  }

  /** Ends the stream cleanly (`done`), which also lets git drop the .keep files of the packs it wrote. */
  async close (): Promise<void> {
    if (!this.exited) this.child.stdin.end('done\n')
    await this.exitPromise
  }

  /** Kills the process (tests and shutdown after a timeout). */
  kill (): void {
    if (!this.exited) this.child.kill('SIGKILL')
  }

  private onStdout (chunk: string): void {
    const text = this.stdoutRest + chunk
    const lines = text.split('\n')
    this.stdoutRest = lines.pop() ?? ''
    for (const line of lines) {
      const waiter = this.waiters.shift()
      if (waiter === undefined) continue
      if (waiter.accept(line)) waiter.resolve(line)
      else waiter.reject(this.failure(`unexpected answer from git fast-import: ${JSON.stringify(line)}`))
    }
  }

  private onExit (reason: string, resolve: () => void): void {
    if (this.exited) return
    this.exited = true
    const err = this.failure(reason)
    const hadWork = this.waiters.length > 0
    for (const w of this.waiters.splice(0)) w.reject(err)
    resolve()
    if (hadWork || !this.closing) this.onUnexpectedExit(err)
  }

  private get closing (): boolean {
    return this.child.stdin.writableEnded
  }

  private failure (reason: string): GitConfigError {
    const stderr = this.stderr.trim()
    return new GitConfigError('GIT_UNAVAILABLE', stderr === '' ? reason : `${reason}: ${stderr}`)
  }
}
