// Audit export (scenario 10): every change to a prefix's keys in a date range, oldest first, a page at a time. Rows
// come from the history index (one row per change, merged-in changes with the commit and date of the node that made
// them), so the export is the same on every node. The page keeps only the `limit` smallest rows while scanning, so
// memory stays bounded however many changes the prefix has.
import { GitConfigError } from '../errors.js'
import { auditLimitMax } from '../limits.js'
import type { AuditEntry, AuditOptions, AuditPage } from '../types.js'
import { opRank } from './entry.js'
import { compareVersions } from './hlc.js'

/** The resolved filters of one audit request. */
export interface AuditQuery {
  readonly sinceMs: number | null
  readonly untilMs: number | null
  readonly limit: number
  readonly after: AuditEntry | null
}

/** `2026-11-01`, `2026-11-01T12:00`, `2026-11-01T12:00:00Z`, `2026-11-01T12:00:00.5+02:00` (no offset means UTC). */
const isoDatePattern = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))?)?$/

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Whether the fields of an isoDatePattern match name a real day and time (Date.parse rolls 02-30 over to 03-02). */
function fieldsExist (m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = m.slice(1).map(f => f === undefined ? 0 : Number(f))
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 &&
    second <= 59 && offsetHours <= 23 && offsetMinutes <= 59
}

function parseTime (text: unknown, name: string): number | null {
  if (text === undefined) return null
  const m = typeof text === 'string' ? isoDatePattern.exec(text) : null
  if (m === null) {
    throw new GitConfigError('INVALID_ARGUMENT', `${name} must be an ISO-8601 date or date-time such as 2026-11-01 or 2026-11-01T12:00:00Z`)
  }
  const utc = /T.*(?:Z|[+-]\d{2}:\d{2})$/.test(m[0]) || !m[0].includes('T') ? m[0] : `${m[0]}Z`
  const ms = Date.parse(utc)
  if (Number.isNaN(ms) || !fieldsExist(m)) throw new GitConfigError('INVALID_ARGUMENT', `${name} is not a date that exists: ${m[0]}`)
  return ms
}

/** Cursor: the last entry of a page, as base64url JSON of the fields that order entries. */
function encodeAuditCursor (e: AuditEntry): string {
  return Buffer.from(JSON.stringify([e.date, e.version.wallMs, e.version.counter, e.version.node, opRank(e.op), e.key])).toString('base64url')
}

function decodeAuditCursor (text: unknown): AuditEntry | null {
  if (text === undefined) return null
  const bad = (): GitConfigError => new GitConfigError('INVALID_ARGUMENT', 'after must be the `next` cursor of an earlier audit page')
  if (typeof text !== 'string' || text.length > 4096) throw bad()
  let raw: unknown
  try { raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) } catch { throw bad() }
  if (!Array.isArray(raw) || raw.length !== 6) throw bad()
  const [date, wallMs, counter, node, expire, key] = raw as unknown[]
  if (typeof date !== 'string' || typeof wallMs !== 'number' || typeof counter !== 'number' || typeof node !== 'string' ||
    (expire !== 0 && expire !== 1) || typeof key !== 'string') throw bad()
  return { date, version: { wallMs, counter, node }, op: expire === 1 ? 'expire' : 'set', key, commit: '', author: '', message: '', node }
}

export function resolveAuditQuery (opts: AuditOptions): AuditQuery {
  const limit = opts.limit ?? auditLimitMax
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > auditLimitMax) {
    throw new GitConfigError('INVALID_ARGUMENT', `limit must be a whole number from 1 to ${auditLimitMax}`)
  }
  const sinceMs = parseTime(opts.since, 'since')
  const untilMs = parseTime(opts.until, 'until')
  if (sinceMs !== null && untilMs !== null && untilMs <= sinceMs) {
    throw new GitConfigError('INVALID_ARGUMENT', 'until must be later than since')
  }
  return { sinceMs, untilMs, limit, after: decodeAuditCursor(opts.after) }
}

/** Export order: commit date, then version (an expiry just after the write it expires), then key. */
function compareAuditEntries (a: AuditEntry, b: AuditEntry): number {
  if (a.date !== b.date) return a.date < b.date ? -1 : 1
  const byVersion = compareVersions(a.version, b.version)
  if (byVersion !== 0) return byVersion
  const byRank = opRank(a.op) - opRank(b.op)
  if (byRank !== 0) return byRank
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/** Selects one page from rows in any order. */
export async function auditPage (rows: AsyncIterable<AuditEntry>, q: AuditQuery): Promise<AuditPage> {
  let kept: AuditEntry[] = []
  const trim = (): void => {
    kept.sort(compareAuditEntries)
    kept = kept.slice(0, q.limit + 1) // one more than the page tells whether another page follows
  }
  for await (const row of rows) {
    const ms = Date.parse(row.date)
    if (q.sinceMs !== null && ms < q.sinceMs) continue
    if (q.untilMs !== null && ms >= q.untilMs) continue
    if (q.after !== null && compareAuditEntries(row, q.after) <= 0) continue
    kept.push(row)
    if (kept.length >= 4 * (q.limit + 1)) trim()
  }
  trim()
  const more = kept.length > q.limit
  const entries = kept.slice(0, q.limit)
  return { entries, next: more ? encodeAuditCursor(entries[entries.length - 1]) : null }
}
