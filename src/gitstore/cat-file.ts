// A long-lived `git cat-file --batch` for reads at a commit and for blobs by id. Requests are answered in order,
// so a FIFO of waiters matches answers to questions.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { GitConfigError } from '../errors.js'
import { gitConfigArgs, gitEnv } from './git-process.js'

export interface GitObject {
  readonly oid: string
  readonly type: string
  readonly data: Buffer
}

interface Waiter {
  resolve: (obj: GitObject | null) => void
  reject: (err: Error) => void
}

export class CatFile {
  private child: ChildProcessWithoutNullStreams | null = null
  private waiters: Waiter[] = []
  /** Index of the oldest unanswered waiter: Array#shift is linear, and a merge keeps thousands waiting. */
  private answered = 0
  private buffer: Buffer = Buffer.alloc(0)
  private closed = false
  /** Names asked for in the current microtask, not yet written to cat-file. */
  private unsent: string[] = []

  constructor (private readonly gitDir: string) {}

  /**
   * Reads `name` (an object id, or `<commit>:<path>`). Null when it does not exist or is ambiguous. The name must
   * not contain a newline (callers pass ids and encoded paths only).
   */
  read (name: string): Promise<GitObject | null> {
    if (this.closed) return Promise.reject(new GitConfigError('UNAVAILABLE', 'the store is closed'))
    if (/[\n\r]/.test(name)) throw new Error('object name with a newline reached cat-file')
    const child = this.process()
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject })
      // Requests made in one go (a merge asks for hundreds at once) leave in one write instead of one each.
      if (this.unsent.length === 0) queueMicrotask(() => { this.sendUnsent(child) })
      this.unsent.push(name)
    })
  }

  private sendUnsent (child: ChildProcessWithoutNullStreams): void {
    const names = this.unsent
    this.unsent = []
    if (this.child === child) child.stdin.write(names.join('\n') + '\n')
  }

  async close (): Promise<void> {
    this.closed = true
    const child = this.child
    if (child === null) return
    await new Promise<void>((resolve) => {
      child.once('close', () => resolve())
      child.stdin.end()
    })
  }

  private process (): ChildProcessWithoutNullStreams {
    if (this.child !== null) return this.child
    const child = spawn('git', [...gitConfigArgs, '--git-dir', this.gitDir, 'cat-file', '--batch'],
      { stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv() })
    child.stdout.on('data', (b: Buffer) => {
      this.buffer = this.buffer.length === 0 ? b : Buffer.concat([this.buffer, b])
      this.parse()
    })
    child.stdin.on('error', () => { /* reported through 'close' */ })
    child.stderr.resume()
    const fail = (reason: string): void => {
      if (this.child !== child) return
      this.child = null
      this.buffer = Buffer.alloc(0)
      const err = new GitConfigError('GIT_UNAVAILABLE', reason)
      const waiting = this.waiters.slice(this.answered)
      this.waiters = []
      this.answered = 0
      for (const w of waiting) w.reject(err)
    }
    child.on('error', (e) => fail(`could not run git cat-file: ${e.message}`))
    child.on('close', (code) => fail(`git cat-file exited (code ${code})`))
    this.child = child
    return child
  }

  /** Takes the oldest waiter (parse() only calls it while one is waiting). */
  private nextWaiter (): Waiter {
    const w = this.waiters[this.answered++]
    if (this.answered === this.waiters.length) {
      this.waiters = []
      this.answered = 0
    } else if (this.answered >= 1024 && this.answered * 2 >= this.waiters.length) {
      this.waiters = this.waiters.slice(this.answered)
      this.answered = 0
    }
    return w
  }

  private parse (): void {
    while (this.answered < this.waiters.length) {
      const eol = this.buffer.indexOf(0x0a)
      if (eol < 0) return
      const header = this.buffer.subarray(0, eol).toString('utf8')
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buffer = this.buffer.subarray(eol + 1)
        this.nextWaiter().resolve(null)
        continue
      }
      const m = /^([0-9a-f]{40,64}) (\S+) (\d+)$/.exec(header)
      if (m === null) {
        this.nextWaiter().reject(new GitConfigError('GIT_UNAVAILABLE', `unexpected cat-file answer ${JSON.stringify(header)}`))
        this.buffer = this.buffer.subarray(eol + 1)
        continue
      }
      const size = Number(m[3])
      if (this.buffer.length < eol + 1 + size + 1) return
      const data = Buffer.from(this.buffer.subarray(eol + 1, eol + 1 + size))
      this.buffer = this.buffer.subarray(eol + 1 + size + 1)
      this.nextWaiter().resolve({ oid: m[1], type: m[2], data })
    }
  }
}
