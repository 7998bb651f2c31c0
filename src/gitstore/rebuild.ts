// Brings the LevelDB index up to refs/heads/main from git alone: walks the first-parent chain after the indexed
// commit (or from the root when the index is empty or off the chain) and indexes each commit's tree diff. The tree
// is the truth: a key's state after a commit is its `.meta` and `.value` there, whatever the message says.
// An unreadable `.meta` in an earlier commit is passed over (counted): after a fast-forward to a peer's head, the
// peer's earlier commits are on the first-parent chain, and only the head's tree was validated by the merge; a key
// that is readable in the head was rewritten by a later commit, which the walk indexes.
import { commitDate } from './commit-message.js'
import { readCommitObject } from './commit-object.js'
import { decodeMeta } from './entry.js'
import type { KeyMeta } from './entry.js'
import { compareVersions } from './hlc.js'
import type { Version } from '../types.js'
import type { CatFile } from './cat-file.js'
import { gitOk, runGit } from './git-process.js'
import { readChangeTrailers } from './foreign-history.js'
import { indexFormat, type IndexDb, type LoggedChange } from './index-db.js'
import { keyBytesMaxDefault } from '../limits.js'
import { metaFileName, treeDirToKey, valueFileName } from './keys.js'

export interface CatchUpResult {
  readonly commitsIndexed: number
  readonly rebuiltFromScratch: boolean
  readonly seq: number
  readonly maxVersion: Version | null
  /** Key entries passed over because their `.meta` did not parse (written by a peer; see the header). */
  readonly entriesSkipped: number
}

export { commitDate }

/** History rows written per LevelDB batch during a rebuild. */
const rebuildHistoryRowsPerBatch = 1_000

interface ParsedCommit {
  commit: string
  timeSec: number
  subject: string
  /** path -> new blob id, or null when deleted. */
  files: Map<string, string | null>
}

async function isAncestor (gitDir: string, older: string, newer: string): Promise<boolean> {
  const r = await runGit(gitDir, ['merge-base', '--is-ancestor', older, newer])
  return r.code === 0
}

function parseLog (text: string): ParsedCommit[] {
  const out: ParsedCommit[] = []
  for (const block of text.split('\u001e')) {
    if (block.trim() === '') continue
    const lines = block.split('\n')
    const [commit, time, subject] = lines[0].split('\u001f')
    const files = new Map<string, string | null>()
    for (const line of lines.slice(1)) {
      // :100644 100644 <old> <new> M\t<path>  (paths are plain ASCII by construction: keys.ts)
      const m = /^:\d+ \d+ [0-9a-f]+ ([0-9a-f]+) ([AMDT])\t(.+)$/.exec(line)
      if (m === null) continue
      files.set(m[3], m[2] === 'D' ? null : m[1])
    }
    out.push({ commit, timeSec: Number(time), subject: subject ?? '', files })
  }
  return out
}

/** Indexes every commit on main after the indexed head; a full rebuild when the index cannot be continued. */
export async function catchUpIndex (gitDir: string, catFile: CatFile, index: IndexDb, gitHead: string | null,
  keyBytesMax = keyBytesMaxDefault): Promise<CatchUpResult> {
  let state = await index.head()
  let rebuilt = false
  // Main may have moved off the indexed head without containing it: from one canonical merge to the next (their
  // write commits and more, not the merge itself; docs/merge.md). The index then continues with one record of the
  // tree difference instead of a rebuild, so change-log positions (watch resume) stay valid.
  let sideways = false
  if (state.commit !== null && (state.format !== indexFormat || gitHead === null || !(await isAncestor(gitDir, state.commit, gitHead)))) {
    sideways = state.format === indexFormat && gitHead !== null && (await catFile.read(`${state.commit}^{commit}`))?.type === 'commit'
    if (!sideways) {
      await index.clear()
      state = { commit: null, seq: 0, maxVersion: null, format: indexFormat }
      rebuilt = true
    }
  }
  if (gitHead === null || state.commit === gitHead) {
    return { commitsIndexed: 0, rebuiltFromScratch: rebuilt, seq: state.seq, maxVersion: state.maxVersion, entriesSkipped: 0 }
  }
  const range = state.commit === null ? [gitHead] : [`^${state.commit}`, gitHead]
  // History first, from every non-merge commit (merged-in ones included), so the change-log records below can name
  // the commit that wrote each entry, as a live merge does.
  const rows = await readChangeTrailers(gitDir, range, keyBytesMax)
  for (let i = 0; i < rows.length; i += rebuildHistoryRowsPerBatch) await index.writeHistory(rows.slice(i, i + rebuildHistoryRowsPerBatch))
  const out = sideways
    ? Buffer.concat([Buffer.from(`\u001e${gitHead}\u001f${(await readCommitObject(catFile, gitHead)).committerTimeSec}\u001fcatch up to ${gitHead}\n`),
      await gitOk(gitDir, ['diff-tree', '-r', '--no-renames', '--no-abbrev', state.commit as string, gitHead, '--'])])
    : await gitOk(gitDir, ['log', '--first-parent', '--reverse', '--raw', '--no-renames', '--no-abbrev',
      '--diff-merges=first-parent', '--format=%x1e%H%x1f%ct%x1f%s', ...range, '--'])
  let seq = state.seq
  let maxVersion = state.maxVersion
  let entriesSkipped = 0
  const commits = parseLog(out.toString('utf8'))
  for (const c of commits) {
    const changes: LoggedChange[] = []
    const values: Array<Uint8Array | null> = []
    const cleared: Array<[number, string]> = []
    const writtenIn: string[] = []
    for (const [path, metaOid] of c.files) {
      if (!path.endsWith('/' + metaFileName) || metaOid === null) continue
      const dir = path.slice(0, -(metaFileName.length + 1))
      const key = treeDirToKey(dir)
      if (key === null) continue
      const metaObj = await catFile.read(metaOid)
      const meta: KeyMeta | null = metaObj === null ? null : decodeMeta(metaObj.data.toString('utf8'))
      if (meta === null) {
        entriesSkipped += 1
        continue
      }
      const valuePath = `${dir}/${valueFileName}`
      const previous = await index.getCurrent(key)
      if (previous !== null && previous.meta.expiresAtMs !== null && previous.valueOid !== null) cleared.push([previous.meta.expiresAtMs, key])
      // Read from the commit itself: after a merge, the index's previous entry need not be the first parent's.
      const valueObj = await catFile.read(`${c.commit}:${valuePath}`)
      const valueOid = valueObj?.oid ?? null
      changes.push({ key, meta, valueOid })
      writtenIn.push(await index.commitThatWrote(key, meta.op, meta.version) ?? c.commit)
      values.push(valueObj === null ? null : new Uint8Array(valueObj.data))
      if (maxVersion === null || compareVersions(meta.version, maxVersion) > 0) maxVersion = meta.version
    }
    seq += 1
    await index.write({
      record: { seq, commit: c.commit, date: commitDate(c.timeSec), message: c.subject, changes },
      values,
      clearedDeadlines: cleared,
      history: [],
      writtenIn
    }, maxVersion ?? { wallMs: 0, counter: 0, node: 'none' })
  }
  return { commitsIndexed: commits.length, rebuiltFromScratch: rebuilt, seq, maxVersion, entriesSkipped }
}
