// How the CLI prints results: the same text (or JSON with --json) whichever store answers, so --repo and --http
// give identical output. Values are printed as their bytes; text values get a trailing newline, binary ones none.
import { isUtf8 } from 'node:buffer'
import { encodeValue } from '../api/wire.js'
import type { AuditEntry, CasResult, DeleteResult, HistoryEntry, KeyValue, ListEntry, WatchEvent, WriteResult } from '../types.js'

export interface Output {
  readonly json: boolean
  write (chunk: string | Uint8Array): void
}

function line (out: Output, text: string): void { out.write(text + '\n') }
function jsonLine (out: Output, value: unknown): void { line(out, JSON.stringify(value)) }

function isText (v: Uint8Array): boolean {
  return isUtf8(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
}

export function printWrite (out: Output, r: WriteResult): void {
  if (out.json) jsonLine(out, r)
  else line(out, r.commit)
}

export function printValue (out: Output, kv: KeyValue): void {
  if (out.json) {
    jsonLine(out, { key: kv.key, ...encodeValue(kv.value), commit: kv.commit, version: kv.version, expiresAtMs: kv.expiresAtMs })
    return
  }
  out.write(kv.value)
  if (isText(kv.value)) out.write('\n')
}

export function printDelete (out: Output, r: DeleteResult): void {
  if (out.json) jsonLine(out, r)
  else line(out, r.commit ?? '')
}

export function printCas (out: Output, r: CasResult): void {
  if (out.json) jsonLine(out, { swapped: r.swapped, commit: r.commit, ...encodeValue(r.current, 'current') })
  else if (r.swapped) line(out, r.commit ?? '')
}

/**
 * A listing. Text: one key per line; a key with keys below it also gets a line with a trailing slash, like a
 * directory, so `/app/db` (a value) and `/app/db/` (a folder) can both appear. `showValues` adds a tab and the value.
 */
export function printList (out: Output, entries: ListEntry[], showValues: boolean): void {
  if (out.json) {
    jsonLine(out, entries.map(e => ({
      key: e.key,
      ...(e.hasChildren !== undefined ? { hasChildren: e.hasChildren } : {}),
      ...(showValues && e.value !== undefined ? encodeValue(e.value) : {})
    })))
    return
  }
  for (const e of entries) {
    if (e.value !== undefined || e.hasChildren !== true) {
      line(out, showValues && e.value !== undefined ? `${e.key}\t${showValue(e.value)}` : e.key)
    }
    if (e.hasChildren === true) line(out, `${e.key}/`)
  }
}

export function printHistory (out: Output, entries: HistoryEntry[]): void {
  if (out.json) { jsonLine(out, entries); return }
  for (const h of entries) line(out, `${h.commit} ${h.date} ${h.op} ${h.author} ${h.message.split('\n')[0]}`)
}

/** Audit entries: with --json one object per line (so a long export streams), else one readable line each. */
export function printAudit (out: Output, entries: AuditEntry[]): void {
  for (const e of entries) {
    if (out.json) jsonLine(out, e)
    else line(out, `${e.date} ${e.commit} ${e.op} ${e.key} ${e.author}`)
  }
}

export function printEvent (out: Output, ev: WatchEvent): void {
  if (out.json) { jsonLine(out, { key: ev.key, op: ev.op, ...encodeValue(ev.value), commit: ev.commit, version: ev.version }); return }
  line(out, `${ev.commit} ${ev.op} ${ev.key}${ev.value === null ? '' : ' ' + showValue(ev.value)}`)
}

/** A value on one line of a listing: text with newlines escaped, or base64 for binary. */
function showValue (v: Uint8Array): string {
  const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  return isText(v) ? JSON.stringify(buf.toString('utf8')).slice(1, -1) : 'base64:' + buf.toString('base64')
}
