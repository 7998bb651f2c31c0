// A long-lived `git cat-file --batch` for reads at a commit and for blobs by id. Requests are answered in order,
// so a FIFO of waiters matches answers to questions.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { GitConfigError } from '../errors.js'
import { gitConfigArgs, gitEnv } from './git-process.js'
import { packLookups, type PackLookups } from './pack-lookups.js'

export interface GitObject {
  readonly oid: string
  readonly type: string
  readonly data: Buffer
}

interface Waiter {
  resolve: (obj: GitObject | null) => void
  reject: (err: Error) => void
}

/** One `git cat-file --batch` process and the questions it owes answers to. */
interface Session {
  readonly child: ChildProcessWithoutNullStreams
  waiters: Waiter[]
  /** Index of the oldest unanswered waiter: Array#shift is linear, and a merge keeps thousands waiting. */
  answered: number
  buffer: Buffer
  /** Names asked for in the current microtask, not yet written to cat-file. */
  unsent: string[]
  /** Replaced by a newer process: its input ends once its last names are written. */
  retiring: boolean
}

export class CatFile {
  /** The process new reads go to; retired ones live on in `sessions` until they have answered and exited. */
  private current: Session | null = null
  private readonly sessions = new Set<Session>()
  private closed = false
  /** Each read looks objects up in the packs: maintenance deletes packs only when the reads in flight are answered. */
  private readonly lookups: PackLookups

  constructor (private readonly gitDir: string) {
    this.lookups = packLookups(gitDir)
  }

  /**
   * Reads `name` (an object id, or `<commit>:<path>`). Null when it does not exist or is ambiguous. The name must
   * not contain a newline (callers pass ids and encoded paths only).
   */
  read (name: string): Promise<GitObject | null> {
    if (this.closed) return Promise.reject(new GitConfigError('UNAVAILABLE', 'the store is closed'))
    if (/[\n\r]/.test(name)) throw new Error('object name with a newline reached cat-file')
    const session = this.session()
    return this.lookups.track(new Promise((resolve, reject) => {
      session.waiters.push({ resolve, reject })
      // Requests made in one go (a merge asks for hundreds at once) leave in one write instead of one each.
      if (session.unsent.length === 0) queueMicrotask(() => { this.sendUnsent(session) })
      session.unsent.push(name)
    }))
  }

  /**
   * Moves new reads to a fresh process; the current one answers what it was asked and exits. After a repack, so
   * that git drops the deleted packs: a long-lived cat-file keeps every pack it has mapped, deleted or not (measured:
   * 221 mappings of deleted packs after 30 maintenance rounds), which holds their disk space and, over weeks, would
   * reach the kernel's limit on mappings.
   */
  recycle (): void {
    const old = this.current
    if (old === null) return
    this.current = null
    old.retiring = true
    if (old.unsent.length === 0) old.child.stdin.end()
  }

  private sendUnsent (session: Session): void {
    const names = session.unsent
    session.unsent = []
    if (!this.sessions.has(session)) return // the process is gone; its waiters were rejected
    session.child.stdin.write(names.join('\n') + '\n')
    if (session.retiring) session.child.stdin.end()
  }

  async close (): Promise<void> {
    this.closed = true
    this.recycle()
    await Promise.all([...this.sessions].map(async (s) => await new Promise<void>((resolve) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) resolve()
      else s.child.once('close', () => resolve())
    })))
  }

  private session (): Session {
    if (this.current !== null) return this.current
    const child = spawn('git', [...gitConfigArgs, '--git-dir', this.gitDir, 'cat-file', '--batch'],
      { stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv() })
    const session: Session = { child, waiters: [], answered: 0, buffer: Buffer.alloc(0), unsent: [], retiring: false }
    child.stdout.on('data', (b: Buffer) => {
      session.buffer = session.buffer.length === 0 ? b : Buffer.concat([session.buffer, b])
      parse(session)
    })
    child.stdin.on('error', () => { /* reported through 'close' */ })
    child.stderr.resume()
    const end = (reason: string): void => {
      if (!this.sessions.delete(session)) return
      if (this.current === session) this.current = null
      const waiting = session.waiters.slice(session.answered)
      session.waiters = []
      session.answered = 0
      const err = new GitConfigError('GIT_UNAVAILABLE', reason)
      for (const w of waiting) w.reject(err)
    }
    child.on('error', (e) => { end(`could not run git cat-file: ${e.message}`) })
    child.on('close', (code) => { end(`git cat-file exited (code ${code})`) })
    this.sessions.add(session)
    this.current = session
    return session
  }
}

/** Takes the oldest waiter (parse() only calls it while one is waiting). */
function nextWaiter (s: Session): Waiter {
  const w = s.waiters[s.answered++]
  if (s.answered === s.waiters.length) {
    s.waiters = []
    s.answered = 0
  } else if (s.answered >= 1024 && s.answered * 2 >= s.waiters.length) {
    s.waiters = s.waiters.slice(s.answered)
    s.answered = 0
  }
  return w
}

function parse (s: Session): void {
  while (s.answered < s.waiters.length) {
    const eol = s.buffer.indexOf(0x0a)
    if (eol < 0) return
    const header = s.buffer.subarray(0, eol).toString('utf8')
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      s.buffer = s.buffer.subarray(eol + 1)
      nextWaiter(s).resolve(null)
      continue
    }
    const m = /^([0-9a-f]{40,64}) (\S+) (\d+)$/.exec(header)
    if (m === null) {
      nextWaiter(s).reject(new GitConfigError('GIT_UNAVAILABLE', `unexpected cat-file answer ${JSON.stringify(header)}`))
      s.buffer = s.buffer.subarray(eol + 1)
      continue
    }
    const size = Number(m[3])
    if (s.buffer.length < eol + 1 + size + 1) return
    const data = Buffer.from(s.buffer.subarray(eol + 1, eol + 1 + size))
    s.buffer = s.buffer.subarray(eol + 1 + size + 1)
    nextWaiter(s).resolve({ oid: m[1], type: m[2], data })
  }
}
