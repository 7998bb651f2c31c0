// The history a merge brings in: every non-merge commit reachable from the foreign head but not from main, read
// from its GitConfig-Change trailers (commit-message.ts), so history(key) lists the commits that changed a key on
// other nodes too. The trailers are untrusted text: lines that do not parse are skipped (they only feed history;
// the tree, validated separately, is what decides values).
import { changeTrailerBytesMax } from '../limits.js'
import type { HistoryEntry, Operation } from '../types.js'
import { changeTrailer, commitDate } from './commit-message.js'
import { gitOk } from './git-process.js'
import { parseVersion } from './hlc.js'
import { normalizeKey } from './keys.js'

/** One change of one commit, as history() reports it, with the key it belongs to. */
export interface HistoryRow extends HistoryEntry {
  readonly key: string
}

const operations: ReadonlySet<string> = new Set<Operation>(['set', 'delete', 'cas', 'expire', 'rollback', 'merge'])
const trailerPrefix = `${changeTrailer}: `

function parseTrailer (line: string, keyBytesMax: number): Omit<HistoryRow, 'commit' | 'date' | 'message'> | null {
  if (!line.startsWith(trailerPrefix) || line.length > changeTrailerBytesMax) return null
  let raw: unknown
  try { raw = JSON.parse(line.slice(trailerPrefix.length)) } catch { return null }
  if (typeof raw !== 'object' || raw === null) return null
  const r = raw as Record<string, unknown>
  if (typeof r.op !== 'string' || !operations.has(r.op) || typeof r.key !== 'string' || typeof r.version !== 'string' ||
    typeof r.author !== 'string' || typeof r.node !== 'string') return null
  const version = parseVersion(r.version)
  if (version === null) return null
  try {
    if (normalizeKey(r.key, keyBytesMax) !== r.key) return null
  } catch {
    return null
  }
  return { key: r.key, op: r.op as Operation, version, author: r.author, node: r.node }
}

/**
 * History rows of the non-merge commits in `range` (git revision arguments, e.g. [`^main`, foreign]), oldest
 * first, from at most `commitsMax` commits (the newest ones; all of them when omitted: a rebuild must see every one,
 * and holds the whole log in memory like the first-parent walk it comes with).
 */
export async function readChangeTrailers (gitDir: string, range: readonly string[], keyBytesMax: number, commitsMax?: number): Promise<HistoryRow[]> {
  const limit = commitsMax === undefined ? [] : [`--max-count=${commitsMax}`]
  const out = await gitOk(gitDir, ['log', '--no-merges', '-z', ...limit, '--format=%H%x1f%ct%x1f%s%x1f%b', ...range, '--'])
  const rows: HistoryRow[] = []
  const blocks: Array<[number, number]> = []
  for (let start = 0, end: number; start < out.length; start = end + 1) {
    end = out.indexOf(0x00, start)
    if (end < 0) end = out.length
    if (end > start) blocks.push([start, end])
  }
  // Oldest first. Each commit's text is decoded on its own, and its id from the bytes: a substring of one decoded
  // log would keep the whole log alive for as long as an index cache entry holds the id of the commit that wrote it.
  for (let i = blocks.length - 1; i >= 0; i--) {
    const [start, end] = blocks[i]
    const [commit, time, subject, body] = out.toString('utf8', start, end).split('\u001f')
    if (!/^[0-9a-f]{40}$/.test(commit ?? '') || body === undefined) continue
    for (const row of historyRowsOf(out.toString('latin1', start, start + 40), Number(time), subject, body, keyBytesMax)) rows.push(row)
  }
  return rows
}

/** History rows of one non-merge commit from its committer time, subject and body (`%ct`, `%s`, `%b`). */
export function historyRowsOf (commit: string, committerTimeSec: number, subject: string, body: string, keyBytesMax: number): HistoryRow[] {
  const rows: HistoryRow[] = []
  const date = commitDate(committerTimeSec)
  for (const line of body.split('\n')) {
    const t = parseTrailer(line, keyBytesMax)
    // An object literal, not a spread of t: V8 gives each spread result a hidden class of its own.
    if (t !== null) rows.push({ key: t.key, op: t.op, version: t.version, author: t.author, node: t.node, commit, date, message: subject })
  }
  return rows
}
