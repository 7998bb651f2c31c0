// Temporary in-memory ConfigStore used to develop the HTTP layers while GitConfigStore is written in parallel.
// It follows the ConfigStore contract closely enough for the API tests (validation, versions, history, TTL, watch
// resumable from a commit) but keeps nothing on disk. It is deleted once the real store lands in main.
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { GitConfigError } from '../../src/errors.js'
import { HybridLogicalClock } from '../../src/gitstore/hlc.js'
import { keyBytesMaxDefault, valueBytesMaxDefault } from '../../src/limits.js'
import type {
  CasResult, ConfigStore, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  Operation, ValueInput, Version, WatchEvent, WatchOptions, WriteOptions, WriteResult
} from '../../src/types.js'

interface Change { commit?: string, key: string, op: Operation, value: Uint8Array | null, version: Version, expiresAtMs: number | null, author: string }
interface Commit { id: string, dateMs: number, changes: Change[] }

export interface MemoryStoreOptions {
  keyBytesMax?: number
  valueBytesMax?: number
  nodeId?: string
  clock?: () => number
}

const utf8 = new TextEncoder()

function toBytes (v: ValueInput): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export class MemoryStore extends EventEmitter implements ConfigStore {
  private readonly commits: Commit[] = []
  private readonly state = new Map<string, Change>()
  private readonly hlc: HybridLogicalClock
  private readonly keyBytesMax: number
  private readonly valueBytesMax: number
  private readonly clock: () => number
  readonly nodeId: string
  private closed = false
  private readonly expiryTimer: NodeJS.Timeout

  private constructor (readonly dir: string, opts: MemoryStoreOptions) {
    super()
    this.setMaxListeners(0)
    this.keyBytesMax = opts.keyBytesMax ?? keyBytesMaxDefault
    this.valueBytesMax = opts.valueBytesMax ?? valueBytesMaxDefault
    this.clock = opts.clock ?? Date.now
    this.nodeId = opts.nodeId ?? 'memory'
    this.hlc = new HybridLogicalClock(this.nodeId, this.clock)
    this.expiryTimer = setInterval(() => { this.expireDue() }, 200)
    this.expiryTimer.unref()
  }

  static async open (dir: string, opts: MemoryStoreOptions = {}): Promise<MemoryStore> {
    return new MemoryStore(dir, opts)
  }

  get head (): string | null {
    return this.commits.at(-1)?.id ?? null
  }

  onCommit (listener: (e: { commit: string, changes: Array<{ key: string }> }) => void): () => void {
    this.on('commit', listener)
    return () => { this.off('commit', listener) }
  }

  private checkOpen (): void {
    if (this.closed) throw new GitConfigError('UNAVAILABLE', 'the store is closed')
  }

  private normaliseKey (key: string, prefix = false): string {
    if (typeof key !== 'string') throw new GitConfigError('INVALID_KEY', 'key must be a string')
    let k = key.startsWith('/') ? key : '/' + key
    if (prefix && k.endsWith('/') && k.length > 1) k = k.slice(0, -1)
    if (k === '/' && prefix) return k
    if (Buffer.byteLength(k) > this.keyBytesMax) throw new GitConfigError('INVALID_KEY', `key is longer than ${this.keyBytesMax} bytes`)
    for (const seg of k.slice(1).split('/')) {
      if (seg === '' || seg === '.' || seg === '..') throw new GitConfigError('INVALID_KEY', `key ${JSON.stringify(key)} has an empty, '.' or '..' segment`)
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f]/.test(seg)) throw new GitConfigError('INVALID_KEY', 'key contains a control character')
    }
    return k
  }

  private expired (c: Change): boolean {
    return c.expiresAtMs !== null && c.expiresAtMs <= this.clock()
  }

  private commit (changes: Change[]): Commit {
    const id = createHash('sha1').update(`${this.commits.length}:${this.clock()}:${this.nodeId}`).digest('hex')
    const c = { id, dateMs: this.clock(), changes }
    this.commits.push(c)
    for (const ch of changes) { ch.commit = id; this.state.set(ch.key, ch) }
    this.emit('commit', { commit: id, changes: changes.map(ch => ({ key: ch.key, op: ch.op })) })
    return c
  }

  private expireDue (): void {
    if (this.closed) return
    const due: Change[] = []
    for (const c of this.state.values()) {
      if (c.value !== null && this.expired(c)) {
        due.push({ key: c.key, op: 'expire', value: null, version: this.hlc.now(), expiresAtMs: null, author: 'expiry' })
      }
    }
    if (due.length > 0) this.commit(due)
  }

  private findCommit (id: string): number {
    if (!/^[0-9a-f]{4,40}$/.test(id)) throw new GitConfigError('INVALID_ARGUMENT', `${JSON.stringify(id)} is not a commit id`)
    const i = this.commits.findIndex(c => c.id.startsWith(id))
    if (i < 0) throw new GitConfigError('UNKNOWN_COMMIT', `unknown commit ${id}`)
    return i
  }

  private checkValue (value: ValueInput): Uint8Array {
    const bytes = toBytes(value)
    if (bytes.length > this.valueBytesMax) {
      throw new GitConfigError('VALUE_TOO_LARGE', `value is ${bytes.length} bytes; the limit is ${this.valueBytesMax}`, { limitBytes: this.valueBytesMax })
    }
    return bytes
  }

  private ttlDeadline (opts?: WriteOptions): number | null {
    if (opts?.ttlMs === undefined) return null
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs <= 0) throw new GitConfigError('INVALID_ARGUMENT', 'ttl must be positive')
    return this.clock() + opts.ttlMs
  }

  async get (key: string, opts: GetOptions = {}): Promise<KeyValue | null> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    let change: Change | undefined
    let commitId = ''
    if (opts.commit !== undefined) {
      const upto = this.findCommit(opts.commit)
      for (let i = upto; i >= 0 && change === undefined; i--) {
        const found = this.commits[i].changes.find(c => c.key === k)
        if (found !== undefined) { change = found; commitId = this.commits[i].id }
      }
    } else {
      change = this.state.get(k)
      commitId = change?.commit ?? ''
    }
    if (change === undefined || change.value === null || (opts.commit === undefined && this.expired(change))) return null
    return { key: k, value: change.value, version: change.version, expiresAtMs: change.expiresAtMs, commit: commitId }
  }

  async set (key: string, value: ValueInput, opts?: WriteOptions): Promise<WriteResult> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    const bytes = this.checkValue(value)
    const ch: Change = { key: k, op: 'set', value: bytes, version: this.hlc.now(), expiresAtMs: this.ttlDeadline(opts), author: opts?.author ?? 'anonymous' }
    const c = this.commit([ch])
    return { key: k, commit: c.id, version: ch.version }
  }

  async delete (key: string, opts?: Pick<WriteOptions, 'author'>): Promise<DeleteResult> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    const cur = this.state.get(k)
    if (cur === undefined || cur.value === null || this.expired(cur)) return { key: k, deleted: false, commit: null }
    const c = this.commit([{ key: k, op: 'delete', value: null, version: this.hlc.now(), expiresAtMs: null, author: opts?.author ?? 'anonymous' }])
    return { key: k, deleted: true, commit: c.id }
  }

  async cas (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<boolean> {
    return (await this.compareAndSwap(key, expected, value, opts)).swapped
  }

  async compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<CasResult> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    const bytes = this.checkValue(value)
    const cur = await this.get(k)
    const exp = expected === null ? null : toBytes(expected)
    const absentWanted = exp === null || exp.length === 0
    const matches = absentWanted ? cur === null : cur !== null && equalBytes(cur.value, exp)
    if (!matches) return { swapped: false, commit: null, current: cur?.value ?? null }
    const ch: Change = { key: k, op: 'cas', value: bytes, version: this.hlc.now(), expiresAtMs: this.ttlDeadline(opts), author: opts?.author ?? 'anonymous' }
    const c = this.commit([ch])
    return { swapped: true, commit: c.id, current: null }
  }

  private matches (key: string, prefix: string, recursive: boolean): boolean {
    if (key === prefix) return true
    if (!recursive) return false
    return prefix === '/' || key.startsWith(prefix + '/')
  }

  async list (prefix: string, opts: ListOptions = {}): Promise<ListEntry[]> {
    this.checkOpen()
    const p = this.normaliseKey(prefix, true)
    const base = p === '/' ? '/' : p + '/'
    const live = [...this.state.values()].filter(c => c.value !== null && !this.expired(c) && c.key.startsWith(base)).sort((a, b) => a.key < b.key ? -1 : 1)
    if (opts.recursive === true) return live.map(c => opts.values === true ? { key: c.key, value: c.value as Uint8Array } : { key: c.key })
    const out = new Map<string, ListEntry>()
    for (const c of live) {
      const rest = c.key.slice(base.length)
      const child = base + rest.split('/')[0]
      const prev = out.get(child)
      const hasChildren = rest.includes('/') || prev?.hasChildren === true
      const direct = child === c.key ? c : undefined
      out.set(child, { key: child, hasChildren, ...(opts.values === true && (direct ?? prev?.value) !== undefined ? { value: direct?.value ?? prev?.value } : {}) })
    }
    return [...out.values()].map(e => ({ ...e, value: e.value ?? undefined })).map(e => (e.value === undefined ? { key: e.key, hasChildren: e.hasChildren } : e))
  }

  async history (key: string, opts: HistoryOptions = {}): Promise<HistoryEntry[]> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    const out: HistoryEntry[] = []
    for (let i = this.commits.length - 1; i >= 0 && out.length < (opts.limit ?? Infinity); i--) {
      const ch = this.commits[i].changes.find(c => c.key === k)
      if (ch !== undefined) {
        out.push({ commit: this.commits[i].id, date: new Date(this.commits[i].dateMs).toISOString(), author: ch.author, message: `${ch.op} ${k}`, op: ch.op, version: ch.version, node: this.nodeId })
      }
    }
    return out
  }

  async rollback (key: string, commit: string, opts?: Pick<WriteOptions, 'author'>): Promise<WriteResult> {
    this.checkOpen()
    const k = this.normaliseKey(key)
    const old = await this.get(k, { commit })
    const ch: Change = { key: k, op: 'rollback', value: old?.value ?? null, version: this.hlc.now(), expiresAtMs: null, author: opts?.author ?? 'anonymous' }
    const c = this.commit([ch])
    return { key: k, commit: c.id, version: ch.version }
  }

  watch (keyOrPrefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    this.checkOpen()
    const p = this.normaliseKey(keyOrPrefix, opts.recursive === true)
    const start = opts.since === undefined ? this.commits.length : this.findCommit(opts.since) + 1
    const recursive = opts.recursive === true
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this
    return {
      async * [Symbol.asyncIterator] () {
        let next = start
        while (!store.closed && opts.signal?.aborted !== true) {
          while (next < store.commits.length) {
            const c = store.commits[next++]
            for (const ch of c.changes) {
              if (store.matches(ch.key, p, recursive)) yield { key: ch.key, op: ch.op, value: ch.value, commit: c.id, version: ch.version }
            }
          }
          await new Promise<void>(resolve => {
            const done = (): void => { store.off('commit', done); store.off('closed', done); opts.signal?.removeEventListener('abort', done); resolve() }
            store.on('commit', done)
            store.on('closed', done)
            opts.signal?.addEventListener('abort', done)
          })
        }
      }
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.expiryTimer)
    this.emit('closed')
  }
}
