// The LevelDB index in DIR/gitconfig/index: everything here can be rebuilt from git (rebuild.ts). Its own OS lock
// (LevelDB's LOCK file, released by the kernel when the process dies) is the store's single-writer lock.
import { Level } from 'level'
import { GitConfigError } from '../errors.js'
import type { KeyMeta } from './entry.js'
import { decodeMeta, encodeMeta, opRank } from './entry.js'
import { formatVersion, parseVersion } from './hlc.js'
import type { HistoryEntry, Operation, Version } from '../types.js'
import type { HistoryRow } from './foreign-history.js'
import { indexWriteChangesPerBatch } from '../limits.js'

/** The current state of one key as the index stores it; value null for a tombstone. */
export interface CurrentEntry {
  readonly key: string
  readonly meta: KeyMeta
  readonly valueOid: string | null
  readonly value: Uint8Array | null
  readonly commit: string
}

/** One change as recorded in the change log (values are fetched by blob id when replayed). */
export interface LoggedChange {
  readonly key: string
  readonly meta: KeyMeta
  readonly valueOid: string | null
}

export interface LogRecord {
  readonly seq: number
  readonly commit: string
  /** ISO-8601 commit date. */
  readonly date: string
  readonly message: string
  readonly changes: readonly LoggedChange[]
}

/** One committed batch to index: the log record plus the values (kept as current values). */
export interface IndexBatch {
  readonly record: LogRecord
  readonly values: ReadonlyArray<Uint8Array | null>
  /** TTL index entries made obsolete by this batch (expired keys), as [deadlineMs, key]. */
  readonly clearedDeadlines: ReadonlyArray<readonly [number, string]>
  /**
   * History rows to record instead of the record's own changes: a merge or fast-forward records the foreign
   * commits that made the changes, not the merge commit. Omitted: each change of the record is its own row.
   */
  readonly history?: readonly HistoryRow[]
  /** The commit that wrote each change (the current entry's `commit`), in the order of the record's changes. */
  readonly writtenIn?: readonly string[]
}


const seqWidth = 12
const deadlineWidth = 16
const counterWidth = 10
/**
 * Layout version of the index. 2: history rows keyed by version (see historyKey). An index without it, or with
 * another, is rebuilt from git.
 */
export const indexFormat = '2'
const pad = (n: number, width: number): string => String(n).padStart(width, '0')
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/**
 * `cur` records: one JSON header line, then the raw value bytes. Written straight into one Buffer: small ones come
 * from Node's shared pool, so a merge of thousands of keys does not make an ArrayBuffer (and a copy) per record.
 */
function encodeCurrent (e: CurrentEntry): Uint8Array {
  const header = JSON.stringify({ m: encodeMeta(e.meta), o: e.valueOid, c: e.commit }) + '\n'
  const headerBytes = Buffer.byteLength(header, 'utf8')
  const out = Buffer.allocUnsafe(headerBytes + (e.value?.length ?? 0))
  out.write(header, 0, 'utf8')
  if (e.value !== null) out.set(e.value, headerBytes)
  return out
}

function decodeCurrent (key: string, bytes: Uint8Array): CurrentEntry {
  const eol = bytes.indexOf(0x0a)
  const header = JSON.parse(textDecoder.decode(bytes.subarray(0, eol))) as { m: string, o: string | null, c: string }
  const meta = decodeMeta(header.m)
  if (meta === null) throw new GitConfigError('INTERNAL', `corrupt index record for ${JSON.stringify(key)}`)
  // A plain Uint8Array copy (LevelDB hands out Buffers), so callers get one value type whatever the source.
  const value = header.o === null ? null : new Uint8Array(bytes.subarray(eol + 1))
  return { key, meta, valueOid: header.o, value, commit: header.c }
}

interface SerializedChange { k: string, m: string, o: string | null }

// Key spaces (one LevelDB, prefixed keys): c! current entry, h! key history, l! change log, s! commit -> seq,
// t! TTL deadlines, m! index state. Keys never contain NUL, so NUL separates a key from its suffix and sorts first.
const P = { cur: 'c!', hist: 'h!', log: 'l!', commitSeq: 's!', ttl: 't!', state: 'm!' } as const
const bytesOf = (text: string): Uint8Array => textEncoder.encode(text)
const textOf = (bytes: Uint8Array): string => textDecoder.decode(bytes)

/**
 * History rows are keyed by the change's version (then op rank: an expiry sorts just above the write it expires),
 * not by when this node learned of it: history is then the same on every node and after a rebuild, whatever order
 * merges arrived in, and a change recorded twice (its own commit, then again via a merge) is one row.
 */
function historyKey (key: string, op: Operation, version: Version): string {
  return `${P.hist}${key}\u0000${versionKey(version)}\u0000${opRank(op)}`
}

function versionKey (v: Version): string {
  return `${pad(v.wallMs, deadlineWidth)}.${pad(v.counter, counterWidth)}@${v.node}`
}

function historyValue (row: Omit<HistoryRow, 'key'>): string {
  return JSON.stringify({
    commit: row.commit, date: row.date, author: row.author, message: row.message,
    op: row.op, version: formatVersion(row.version), node: row.node
  })
}

function decodeHistoryValue (bytes: Uint8Array): HistoryEntry {
  const raw = JSON.parse(textOf(bytes)) as Omit<HistoryEntry, 'version'> & { version: string }
  const version = parseVersion(raw.version)
  if (version === null) throw new GitConfigError('INTERNAL', 'corrupt history record')
  return { ...raw, version }
}

type Db = Level<string, Uint8Array>
/** Text values go to LevelDB as strings (its native side encodes them), binary ones as bytes. */
type Op = { type: 'put', key: string, value: Uint8Array } | { type: 'put', key: string, value: string, valueEncoding: 'utf8' } | { type: 'del', key: string }

export class IndexDb {
  private constructor (private readonly db: Db) {}

  /** Opens (creating) the index; REPOSITORY_LOCKED when another process or store holds it. */
  static async open (path: string, ownerHint: () => string): Promise<IndexDb> {
    const db: Db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED' || (err as { code?: string }).code === 'LEVEL_LOCKED') {
        throw new GitConfigError('REPOSITORY_LOCKED', `the repository is already open by another process (${ownerHint()}); ` +
          'stop it, or talk to it through its HTTP API (CLI: --http)')
      }
      throw new GitConfigError('INTERNAL', `cannot open the index at ${path}: ${(err as Error).message}`)
    }
    return new IndexDb(db)
  }

  async close (): Promise<void> { await this.db.close() }

  /** Deletes everything (before a rebuild from git). */
  async clear (): Promise<void> { await this.db.clear() }

  async head (): Promise<{ commit: string | null, seq: number, maxVersion: Version | null, format: string | null }> {
    const [commit, seq, maxVersion, format] = await this.db.getMany([P.state + 'head', P.state + 'seq', P.state + 'maxVersion', P.state + 'format'])
    return {
      commit: commit === undefined ? null : textOf(commit),
      seq: seq === undefined ? 0 : Number(textOf(seq)),
      maxVersion: maxVersion === undefined ? null : parseVersion(textOf(maxVersion)),
      format: format === undefined ? null : textOf(format)
    }
  }

  /** Records history rows on their own (a rebuild reads them from git before the change log). */
  async writeHistory (rows: readonly HistoryRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.db.batch(rows.map((r) => ({ type: 'put' as const, key: historyKey(r.key, r.op, r.version), value: bytesOf(historyValue(r)) })))
  }

  /** The commit that wrote a key's entry (found by its version and op); null when history does not know it. */
  async commitThatWrote (key: string, op: Operation, version: Version): Promise<string | null> {
    const bytes = await this.db.get(historyKey(key, op, version))
    return bytes === undefined ? null : (JSON.parse(textOf(bytes)) as { commit: string }).commit
  }

  async getCurrent (key: string): Promise<CurrentEntry | null> {
    const bytes = await this.db.get(P.cur + key)
    return bytes === undefined ? null : decodeCurrent(key, bytes)
  }

  /**
   * Visits current entries whose keys lie in [gte, lt) in key order. The visitor returns a key to skip forward to,
   * false to stop, or undefined to go on.
   */
  async scanCurrent (gte: string, lt: string, visit: (e: CurrentEntry) => string | undefined | false): Promise<void> {
    const it = this.db.iterator({ gte: P.cur + gte, lt: P.cur + lt })
    try {
      while (true) {
        const next = await it.next()
        if (next === undefined) return
        const skipTo = visit(decodeCurrent(next[0].slice(P.cur.length), next[1]))
        if (skipTo === false) return
        if (skipTo !== undefined) it.seek(P.cur + skipTo)
      }
    } finally {
      await it.close()
    }
  }

  /**
   * Writes one committed batch: current values, history, change log, TTL deadlines, head. A big batch (a merge of
   * thousands of keys) goes to LevelDB in slices of indexWriteChangesPerBatch changes, so the operations and their
   * encoded values are never all in memory at once (decision 0458); the change log and the head go in the last
   * slice. Until then the index still names the previous head, so a crash in between leaves an index that is
   * behind git and is caught up at the next open, and the store serves the batch's keys from memory meanwhile.
   */
  async write (batch: IndexBatch, maxVersion: Version): Promise<void> {
    const { record } = batch
    const history = batch.history ?? []
    const changes = record.changes
    const slices = Math.max(1, Math.ceil(Math.max(changes.length, history.length) / indexWriteChangesPerBatch))
    for (let slice = 0; slice < slices; slice++) {
      const from = slice * indexWriteChangesPerBatch
      const to = from + indexWriteChangesPerBatch
      const ops: Op[] = []
      const put = (key: string, value: Uint8Array | string): void => {
        ops.push(typeof value === 'string' ? { type: 'put', key, value, valueEncoding: 'utf8' } : { type: 'put', key, value })
      }
      for (const r of history.slice(from, to)) put(historyKey(r.key, r.op, r.version), historyValue(r))
      for (let i = from; i < Math.min(to, changes.length); i++) {
        const c = changes[i]
        const commit = batch.writtenIn?.[i] ?? record.commit
        put(P.cur + c.key, encodeCurrent({ key: c.key, meta: c.meta, valueOid: c.valueOid, value: batch.values[i], commit }))
        if (batch.history === undefined) {
          put(historyKey(c.key, c.meta.op, c.meta.version), historyValue({
            commit: record.commit, date: record.date, author: c.meta.author, message: record.message,
            op: c.meta.op, version: c.meta.version, node: c.meta.version.node
          }))
        }
        // Only values wait for expiry; an expire tombstone keeps the deadline in its meta but has nothing to expire.
        if (c.meta.expiresAtMs !== null && c.valueOid !== null) put(`${P.ttl}${pad(c.meta.expiresAtMs, deadlineWidth)}\u0000${c.key}`, '')
      }
      if (slice === slices - 1) {
        for (const [deadline, key] of batch.clearedDeadlines) {
          ops.push({ type: 'del', key: `${P.ttl}${pad(deadline, deadlineWidth)}\u0000${key}` })
        }
        const serialized: SerializedChange[] = changes.map((c) => ({ k: c.key, m: encodeMeta(c.meta), o: c.valueOid }))
        put(P.log + pad(record.seq, seqWidth), JSON.stringify({ c: record.commit, d: record.date, s: record.message, x: serialized }))
        put(P.commitSeq + record.commit, String(record.seq))
        put(P.state + 'head', record.commit)
        put(P.state + 'seq', String(record.seq))
        put(P.state + 'maxVersion', formatVersion(maxVersion))
        put(P.state + 'format', indexFormat)
      }
      await this.db.batch<string, Uint8Array | string>(ops, {})
    }
  }

  /** Newest-first history of one key. */
  async history (key: string, limit: number): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = []
    for await (const value of this.db.values({ gte: `${P.hist}${key}\u0000`, lt: `${P.hist}${key}\u0001`, reverse: true, limit })) {
      out.push(decodeHistoryValue(value))
    }
    return out
  }

  /** History rows of every key in [gteKey, ltKey), in key order (then version). */
  async * scanHistory (gteKey: string, ltKey: string): AsyncGenerator<HistoryRow> {
    for await (const [k, value] of this.db.iterator({ gte: P.hist + gteKey, lt: P.hist + ltKey })) {
      yield { ...decodeHistoryValue(value), key: k.slice(P.hist.length, k.indexOf('\u0000', P.hist.length)) }
    }
  }

  async seqOfCommit (commit: string): Promise<number | null> {
    const seq = await this.db.get(P.commitSeq + commit)
    return seq === undefined ? null : Number(textOf(seq))
  }

  /** Change-log records with seq in (afterSeq, throughSeq], at most `limit`, in order. */
  async logRange (afterSeq: number, throughSeq: number, limit: number): Promise<LogRecord[]> {
    const out: LogRecord[] = []
    for await (const [k, v] of this.db.iterator({ gt: P.log + pad(afterSeq, seqWidth), lte: P.log + pad(throughSeq, seqWidth), limit })) {
      const raw = JSON.parse(textOf(v)) as { c: string, d: string, s: string, x: SerializedChange[] }
      const changes = raw.x.map((c) => {
        const meta = decodeMeta(c.m)
        if (meta === null) throw new GitConfigError('INTERNAL', 'corrupt change-log record')
        return { key: c.k, meta, valueOid: c.o }
      })
      out.push({ seq: Number(k.slice(P.log.length)), commit: raw.c, date: raw.d, message: raw.s, changes })
    }
    return out
  }

  /** TTL index entries with deadline <= nowMs, earliest first, as [deadlineMs, key]. */
  async dueDeadlines (nowMs: number, limit: number): Promise<Array<[number, string]>> {
    const out: Array<[number, string]> = []
    for await (const k of this.db.keys({ gte: P.ttl, lt: P.ttl + pad(nowMs + 1, deadlineWidth), limit })) {
      const rest = k.slice(P.ttl.length)
      const sep = rest.indexOf('\u0000')
      out.push([Number(rest.slice(0, sep)), rest.slice(sep + 1)])
    }
    return out
  }

  async dropDeadline (deadlineMs: number, key: string): Promise<void> {
    await this.db.del(`${P.ttl}${pad(deadlineMs, deadlineWidth)}\u0000${key}`)
  }
}
