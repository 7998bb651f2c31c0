// Commit messages and signatures (docs/format.md): a readable subject for `git log`, and one JSON trailer per
// change so every change in a group commit stays attributable.
import { commitSubjectKeysMax } from '../limits.js'
import type { KeyMeta } from './entry.js'
import { formatVersion } from './hlc.js'

export const changeTrailer = 'GitConfig-Change'

/** ISO date of a commit time in seconds; the one formatter used by the writer, the merge and the rebuild alike. */
export function commitDate (timeSec: number): string {
  return new Date(timeSec * 1000).toISOString()
}

export interface MessageChange {
  readonly key: string
  readonly meta: KeyMeta
}

/** Single-line JSON string of a key: keeps subjects on one line whatever the key holds. */
function showKey (key: string): string {
  return /^[\x21-\x7e]+$/.test(key) ? key : JSON.stringify(key)
}

export function commitMessage (changes: readonly MessageChange[]): string {
  const parts = changes.slice(0, commitSubjectKeysMax).map((c) => `${c.meta.op} ${showKey(c.key)}`)
  const subject = changes.length === 1
    ? parts[0]
    : `${changes.length} changes: ${parts.join(', ')}${changes.length > commitSubjectKeysMax ? ', ...' : ''}`
  const trailers = changes.map((c) => `${changeTrailer}: ${JSON.stringify({
    op: c.meta.op, key: c.key, version: formatVersion(c.meta.version), author: c.meta.author, node: c.meta.version.node
  })}`)
  return `${subject}\n\n${trailers.join('\n')}\n`
}

/**
 * Makes a client identity safe as a git signature name: no `<`, `>` or control characters (git would reject or
 * misparse them), trimmed, at most `bytesMax` UTF-8 bytes. Empty input gives ''.
 */
export function sanitizeAuthor (author: string, bytesMax: number): string {
  let out = author.replace(/[<>\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim() // eslint-disable-line no-control-regex
  while (Buffer.byteLength(out, 'utf8') > bytesMax) out = out.slice(0, -1)
  return out.replace(/[\uD800-\uDBFF]$/, '').trim()
}
