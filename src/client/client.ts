// GitConfigClient: the ConfigStore contract over a node's HTTP API, with Node's built-in fetch. An application
// switches between the embedded store and a remote node by changing the line that creates the store.
import { GitConfigError, isGitConfigError } from '../errors.js'
import { parseVersion } from '../gitstore/hlc.js'
import { clientRequestTimeoutMsDefault, clientWatchRetriesMax, clientWatchRetryDelayMsMax } from '../limits.js'
import type {
  AuditOptions, AuditPage, CasResult, ConfigStore, DeleteResult, GetOptions, HistoryEntry, HistoryOptions, KeyValue, ListEntry, ListOptions,
  Operation, ValueInput, Version, WatchEvent, WatchOptions, WriteOptions, WriteResult
} from '../types.js'
import { decodeValue, errorFromWire } from '../api/wire.js'
import { SseParser, type SseMessage } from './sse.js'

export interface ClientOptions {
  /** Author sent with every write that names none (X-GitConfig-Author). */
  readonly author?: string
  /** How long one request (not a watch) may take before it fails with UNAVAILABLE; default 30 s. */
  readonly requestTimeoutMs?: number
  /** The node's API token, sent as `Authorization: Bearer <token>` with every request. */
  readonly token?: string
}

interface RequestSpec {
  readonly method?: string
  readonly query?: Record<string, string | undefined>
  readonly body?: Uint8Array | string
  readonly headers?: Record<string, string>
  readonly author?: string
  readonly signal?: AbortSignal
}

const utf8 = new TextEncoder()

function toBytes (v: ValueInput): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v
}

function toBase64 (v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
}

/** `/a/b c` -> `/a/b%20c`: each segment percent-encoded on its own, as the API decodes it. */
export function encodeKeyPath (key: string): string {
  const k = key.startsWith('/') ? key.slice(1) : key
  // URL parsers resolve `.` and `..` segments (even percent-encoded) before the request leaves, which would turn
  // a bad key into another key; refuse them here as the node would.
  if (k.split('/').some(s => s === '.' || s === '..')) throw new GitConfigError('INVALID_KEY', `key ${JSON.stringify(key)} has a '.' or '..' segment`)
  try {
    return k.split('/').map(encodeURIComponent).join('/')
  } catch {
    throw new GitConfigError('INVALID_KEY', 'key is not valid UTF-8 text')
  }
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}

export class GitConfigClient implements ConfigStore {
  private readonly base: string
  private readonly watches = new Set<AbortController>()

  constructor (url: string, private readonly options: ClientOptions = {}) {
    const timeout = options.requestTimeoutMs
    if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout > 0)) {
      throw new GitConfigError('INVALID_ARGUMENT', 'requestTimeoutMs must be a positive whole number of milliseconds')
    }
    let parsed: URL
    try { parsed = new URL(url) } catch { throw new GitConfigError('INVALID_ARGUMENT', `not a URL: ${JSON.stringify(url)}`) }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new GitConfigError('INVALID_ARGUMENT', `the node URL must be http(s), not ${parsed.protocol}`)
    }
    this.base = parsed.href.replace(/\/+$/, '')
  }

  private url (path: string, query: Record<string, string | undefined> = {}): string {
    const qs = Object.entries(query)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&')
    return `${this.base}${path}${qs === '' ? '' : '?' + qs}`
  }

  private async request (path: string, spec: RequestSpec = {}): Promise<Response> {
    const headers: Record<string, string> = { ...spec.headers }
    const author = spec.author ?? this.options.author
    // Header values are bytes on the wire; send the author's UTF-8 bytes (the node decodes them as UTF-8).
    if (author !== undefined) headers['x-gitconfig-author'] = Buffer.from(author, 'utf8').toString('latin1')
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`
    // A watch passes its own signal and may stay open for hours; every other request gets a deadline, so a node
    // that accepts connections but never answers cannot hang the caller.
    const timeoutMs = this.options.requestTimeoutMs ?? clientRequestTimeoutMsDefault
    const signal = spec.signal ?? AbortSignal.timeout(timeoutMs)
    try {
      return await fetch(this.url(path, spec.query), {
        method: spec.method ?? 'GET',
        headers,
        body: spec.body,
        signal
      })
    } catch (err) {
      if (spec.signal?.aborted === true) throw err
      if (signal.aborted) {
        const maybe = (spec.method ?? 'GET') === 'GET' ? '' : ' (the write may still have been applied)'
        throw new GitConfigError('UNAVAILABLE', `no answer from ${this.base} within ${timeoutMs} ms${maybe}`)
      }
      throw new GitConfigError('UNAVAILABLE', `cannot reach ${this.base}: ${describe(err)}`)
    }
  }

  private async fail (res: Response, what: string): Promise<never> {
    const body: unknown = await res.json().catch(() => null)
    throw errorFromWire(res.status, body, what)
  }

  private async json (res: Response, what: string): Promise<unknown> {
    if (!res.ok) await this.fail(res, what)
    return await res.json()
  }

  async get (key: string, opts: GetOptions = {}): Promise<KeyValue | null> {
    const res = await this.request(`/keys/${encodeKeyPath(key)}`, { query: { commit: opts.commit } })
    if (res.status === 404) {
      const err = errorFromWire(404, await res.json().catch(() => null), 'get')
      if (err.code === 'NOT_FOUND') return null
      throw err
    }
    if (!res.ok) await this.fail(res, 'get')
    const version = parseVersion(res.headers.get('x-gitconfig-version') ?? '')
    const commit = res.headers.get('x-gitconfig-commit')
    if (version === null || commit === null) throw new GitConfigError('INTERNAL', 'the node sent a value without its version or commit')
    const expires = res.headers.get('x-gitconfig-expires-at')
    return {
      key: key.startsWith('/') ? key : '/' + key,
      value: new Uint8Array(await res.arrayBuffer()),
      version,
      expiresAtMs: expires === null ? null : Number(expires),
      commit
    }
  }

  async set (key: string, value: ValueInput, opts: WriteOptions = {}): Promise<WriteResult> {
    const res = await this.request(`/keys/${encodeKeyPath(key)}`, {
      method: 'POST',
      body: toBytes(value),
      headers: { 'content-type': 'application/octet-stream' },
      query: { ttl: ttlQuery(opts.ttlMs) },
      author: opts.author
    })
    return await this.json(res, 'set') as WriteResult
  }

  async delete (key: string, opts: Pick<WriteOptions, 'author'> = {}): Promise<DeleteResult> {
    const res = await this.request(`/keys/${encodeKeyPath(key)}`, { method: 'DELETE', author: opts.author })
    if (res.status === 404) {
      const err = errorFromWire(404, await res.json().catch(() => null), 'delete')
      if (err.code !== 'NOT_FOUND') throw err
      const k = typeof err.details.key === 'string' ? err.details.key : key
      return { key: k, deleted: false, commit: null }
    }
    return await this.json(res, 'delete') as DeleteResult
  }

  async cas (key: string, expected: ValueInput | null, value: ValueInput, opts?: WriteOptions): Promise<boolean> {
    return (await this.compareAndSwap(key, expected, value, opts)).swapped
  }

  async compareAndSwap (key: string, expected: ValueInput | null, value: ValueInput, opts: WriteOptions = {}): Promise<CasResult> {
    const body = JSON.stringify({ expectedBase64: expected === null ? null : toBase64(toBytes(expected)), valueBase64: toBase64(toBytes(value)) })
    const res = await this.request(`/keys/${encodeKeyPath(key)}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      query: { cas: '', ttl: ttlQuery(opts.ttlMs) },
      author: opts.author
    })
    const reply: unknown = await res.json().catch(() => null)
    if (typeof reply === 'object' && reply !== null && typeof (reply as { swapped?: unknown }).swapped === 'boolean') {
      const r = reply as Record<string, unknown>
      if (r.swapped === true) return { swapped: true, commit: typeof r.commit === 'string' ? r.commit : null, current: null }
      return { swapped: false, commit: null, current: decodeValue(r, 'current') ?? null }
    }
    throw errorFromWire(res.status, reply, 'cas')
  }

  async list (prefix: string, opts: ListOptions = {}): Promise<ListEntry[]> {
    const res = await this.request('/list', {
      query: { prefix, recursive: opts.recursive === true ? 'true' : undefined, values: opts.values === true ? 'true' : undefined }
    })
    const body = await this.json(res, 'list') as { entries: Array<Record<string, unknown>> }
    return body.entries.map(e => {
      const value = decodeValue(e)
      return {
        key: String(e.key),
        ...(typeof e.hasChildren === 'boolean' ? { hasChildren: e.hasChildren } : {}),
        ...(value !== undefined && value !== null ? { value } : {})
      }
    })
  }

  async history (key: string, opts: HistoryOptions = {}): Promise<HistoryEntry[]> {
    const res = await this.request(`/history/${encodeKeyPath(key)}`, { query: { limit: opts.limit === undefined ? undefined : String(opts.limit) } })
    return await this.json(res, 'history') as HistoryEntry[]
  }

  async audit (prefix: string, opts: AuditOptions = {}): Promise<AuditPage> {
    const query = { prefix, since: opts.since, until: opts.until, after: opts.after, limit: opts.limit === undefined ? undefined : String(opts.limit) }
    const res = await this.request('/audit', { query })
    return await this.json(res, 'audit') as AuditPage
  }

  async rollback (key: string, commit: string, opts: Pick<WriteOptions, 'author'> = {}): Promise<WriteResult> {
    const res = await this.request(`/rollback/${encodeKeyPath(key)}`, { method: 'POST', query: { to: commit }, author: opts.author })
    return await this.json(res, 'rollback') as WriteResult
  }

  /**
   * Every change to the key (or below the prefix) as an async iterator over the node's SSE stream. A dropped
   * connection is resumed from the last commit received (or the node's starting cursor), so nothing is missed or
   * repeated; after clientWatchRetriesMax failed reconnects in a row it throws UNAVAILABLE. Errors the node
   * reports (bad key, unknown commit) are thrown as the GitConfigError they are.
   */
  watch (keyOrPrefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return { [Symbol.asyncIterator]: () => this.watchStream(keyOrPrefix, opts) }
  }

  private async * watchStream (keyOrPrefix: string, opts: WatchOptions): AsyncGenerator<WatchEvent> {
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    if (opts.signal?.aborted === true) controller.abort()
    this.watches.add(controller)
    // The cursor advances only on messages with an id: the node sets one on the last change of each commit, so the
    // cursor is always a commit whose changes were all received. After a cut inside a commit the node replays that
    // commit from its start; the keys already yielded for it are remembered here and not yielded twice.
    let cursor = opts.since ?? null
    let openCommit: string | null = null
    const yieldedInOpenCommit = new Set<string>()
    let failures = 0
    try {
      while (!controller.signal.aborted) {
        const res = await this.openStream(keyOrPrefix, opts.recursive === true, cursor, controller.signal).catch((err: unknown) => {
          if (controller.signal.aborted) return null
          if (isGitConfigError(err) && err.code !== 'UNAVAILABLE') throw err
          return null
        })
        if (res !== null) {
          try {
            for await (const msg of this.messages(res)) {
              if (msg.event === 'ready') {
                cursor ??= readySince(msg.data)
                failures = 0
              } else if (msg.event === 'change') {
                const ev = decodeOrReport(msg.data)
                failures = 0
                if (ev.commit !== openCommit) {
                  openCommit = ev.commit
                  yieldedInOpenCommit.clear()
                }
                if (msg.id !== null) cursor = msg.id
                // A commit changes each key once, so (commit, key) identifies a change.
                if (yieldedInOpenCommit.has(ev.key)) continue
                yieldedInOpenCommit.add(ev.key)
                yield ev
              } else if (msg.event === 'error') {
                throw new ReportedError(errorFromWire(500, parseJson(msg.data), 'watch'))
              }
            }
          } catch (err) {
            // A watcher that fell too far behind is ended by the node; resuming from the cursor loses nothing.
            if (err instanceof ReportedError && err.error.code !== 'WATCH_OVERFLOW') throw err.error
            if (controller.signal.aborted) return
            // A dropped connection: fall through and resume from the cursor.
          }
        }
        if (controller.signal.aborted) return
        failures++
        if (failures > clientWatchRetriesMax) {
          throw new GitConfigError('UNAVAILABLE', `watch gave up after ${clientWatchRetriesMax} failed reconnects to ${this.base}`)
        }
        await sleep(Math.min(clientWatchRetryDelayMsMax, 50 * 2 ** Math.min(failures, 10)), controller.signal)
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
      controller.abort()
      this.watches.delete(controller)
    }
  }

  /** Opens the SSE stream; 5xx and network failures are UNAVAILABLE (retried), other statuses throw as they are. */
  private async openStream (key: string, recursive: boolean, since: string | null, signal: AbortSignal): Promise<Response> {
    const res = await this.request(`/watch/${encodeKeyPath(key)}`, {
      query: { recursive: recursive ? 'true' : undefined, since: since ?? undefined },
      headers: { accept: 'text/event-stream' },
      signal
    })
    if (res.ok && res.body !== null) return res
    const body: unknown = await res.json().catch(() => null)
    const err = errorFromWire(res.status, body, 'watch')
    if (res.status >= 500) throw new GitConfigError('UNAVAILABLE', err.message)
    throw err
  }

  private async * messages (res: Response): AsyncGenerator<SseMessage> {
    if (res.body === null) return
    const parser = new SseParser()
    const decoder = new TextDecoder()
    for await (const chunk of res.body) {
      for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) yield msg
    }
  }

  /** Ends every open watch of this client. */
  async close (): Promise<void> {
    for (const c of this.watches) c.abort()
    this.watches.clear()
  }
}

/** An error the node reported inside the stream: thrown to the caller, never retried. */
class ReportedError extends Error {
  constructor (readonly error: GitConfigError) { super(error.message) }
}

function ttlQuery (ttlMs: number | undefined): string | undefined {
  if (ttlMs === undefined) return undefined
  if (!Number.isFinite(ttlMs) || ttlMs < 1) throw new GitConfigError('INVALID_ARGUMENT', 'ttlMs must be at least 1')
  return (Math.round(ttlMs) / 1000).toString()
}

function parseJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return null }
}

function readySince (data: string): string | null {
  const body = parseJson(data)
  const since = typeof body === 'object' && body !== null ? (body as { since?: unknown }).since : null
  return typeof since === 'string' ? since : null
}

function decodeEvent (data: string): WatchEvent {
  const body = parseJson(data)
  if (typeof body !== 'object' || body === null) throw new GitConfigError('INTERNAL', 'malformed watch event from the node')
  const b = body as Record<string, unknown>
  if (typeof b.key !== 'string' || typeof b.op !== 'string' || typeof b.commit !== 'string') {
    throw new GitConfigError('INTERNAL', 'malformed watch event from the node')
  }
  return { key: b.key, op: b.op as Operation, value: decodeValue(b) ?? null, commit: b.commit, version: b.version as Version }
}

function decodeOrReport (data: string): WatchEvent {
  try {
    return decodeEvent(data)
  } catch (err) {
    throw new ReportedError(isGitConfigError(err) ? err : new GitConfigError('INTERNAL', 'malformed watch event from the node'))
  }
}

function describe (err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    return cause instanceof Error ? cause.message : err.message
  }
  return String(err)
}
