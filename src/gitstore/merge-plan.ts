// Planning a merge of a foreign commit into main: which keys differ, which side wins each, and the file edits that
// turn the first (canonical) parent's tree into the merged tree. Only the paths where the two trees differ are read
// and validated: everything else is identical on both sides, so it is already part of main and already trusted.
import { encodeMeta, decodeMeta, type TreeEntry } from './entry.js'
import type { CatFile } from './cat-file.js'
import { gitOk } from './git-process.js'
import { keyToTreeDir, metaFileName, normalizeKey, treeDirToKey, valueFileName } from './keys.js'
import { compareEntriesTotal, isWellFormedEntry, sameEntry } from './merge.js'
import { transferFailed } from './pack-transfer.js'
import { mergeReadsInFlightMax } from '../limits.js'
import { blobOid } from './group-commit.js'
import { formatFileName, formatVersion } from './repository.js'

const formatBlobOid = blobOid(new TextEncoder().encode(formatVersion + '\n'))

/** git's empty tree: the "other side" of a diff when main does not exist yet. */
const emptyTreeId = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
/** Up to this many differing keys, their files are listed by pathspec; beyond it, the whole tree is listed. */
const pathspecDirsMax = 64

/** A key's entry in one tree, with the blob ids needed to write it into another. */
export interface StoredEntry extends TreeEntry {
  readonly metaOid: string
}

export interface KeyOutcome {
  readonly key: string
  readonly local: StoredEntry | null
  readonly foreign: StoredEntry | null
  /** The entry the merged tree holds. */
  readonly winner: StoredEntry
}

export interface MergePlan {
  /** Every key whose entry differs between the two trees, in key order. */
  readonly outcomes: readonly KeyOutcome[]
  /** The keys whose entry on main changes (the foreign entry won), in key order. */
  readonly changed: readonly KeyOutcome[]
}

export interface PlanLimits {
  readonly keyBytesMax: number
  readonly valueBytesMax: number
}

function malformed (commit: string, what: string): Error {
  return transferFailed('malformed', `commit ${commit} cannot be merged: ${what}`, { commit })
}

/** The key directories whose files differ between two commits (`local` may be null: an empty main). */
async function differingKeyDirs (gitDir: string, local: string | null, foreign: string, limits: PlanLimits): Promise<string[]> {
  const out = await gitOk(gitDir, ['diff-tree', '-r', '-z', '--no-renames', '--no-commit-id', local ?? emptyTreeId, foreign])
  const fields = out.toString('utf8').split('\u0000')
  const dirs = new Set<string>()
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const m = /^:(\d{6}) (\d{6}) [0-9a-f]+ [0-9a-f]+ ([A-Z])$/.exec(fields[i])
    const path = fields[i + 1]
    if (m === null) throw malformed(foreign, `unexpected diff line ${JSON.stringify(fields[i])}`)
    const [, , newMode, status] = m
    if (path === formatFileName) {
      // Only a first merge into an empty main may bring the format file, and only this format's.
      if (local === null && fields[i].endsWith(` ${formatBlobOid} A`)) continue
      throw malformed(foreign, `its ${formatFileName} differs (another storage format)`)
    }
    if (status !== 'D' && newMode !== '100644') throw malformed(foreign, `${JSON.stringify(path)} has mode ${newMode}, not a plain file`)
    const slash = path.lastIndexOf('/')
    const name = path.slice(slash + 1)
    const dir = slash < 0 ? '' : path.slice(0, slash)
    if (name !== metaFileName && name !== valueFileName) throw malformed(foreign, `${JSON.stringify(path)} is not a key's ${metaFileName} or ${valueFileName}`)
    const key = treeDirToKey(dir)
    if (key === null || keyToTreeDir(key) !== dir) throw malformed(foreign, `${JSON.stringify(dir)} is not the directory of any key`)
    try {
      if (normalizeKey(key, limits.keyBytesMax) !== key) throw new Error('not normalised')
    } catch {
      throw malformed(foreign, `${JSON.stringify(key)} is not a valid key`)
    }
    dirs.add(dir)
  }
  return [...dirs].sort()
}

interface TreeFile {
  readonly mode: string
  readonly type: string
  readonly oid: string
  readonly sizeBytes: number
}

/**
 * The `.meta` and `.value` files of the given key directories in `commit`, by path. Asking git for a few
 * directories by pathspec is cheapest when few keys differ; past `pathspecDirsMax` one listing of the whole tree is
 * (and keeps the command line short). Reading `<commit>:<path>` per file instead walks the trees every time, which
 * is quadratic in the size of a directory with many keys.
 */
async function listKeyFiles (gitDir: string, commit: string, dirs: readonly string[]): Promise<Map<string, TreeFile>> {
  const args = ['ls-tree', '-r', '-l', '-z', '--full-tree', commit]
  if (dirs.length <= pathspecDirsMax) args.push('--', ...dirs)
  const out = await gitOk(gitDir, args)
  const wanted = new Set<string>()
  for (const dir of dirs) wanted.add(`${dir}/${metaFileName}`).add(`${dir}/${valueFileName}`)
  const files = new Map<string, TreeFile>()
  for (const line of out.toString('utf8').split('\u0000')) {
    const tab = line.indexOf('\t')
    if (tab < 0) continue
    const path = line.slice(tab + 1)
    if (!wanted.has(path)) continue
    const [mode, type, oid, size] = line.slice(0, tab).split(/ +/)
    files.set(path, { mode, type, oid, sizeBytes: Number(size) })
  }
  return files
}

/** A key's entry in `commit`, or null when the key has none; TRANSFER_FAILED when it is not well formed. */
async function readEntry (catFile: CatFile, commit: string, files: ReadonlyMap<string, TreeFile>, dir: string, limits: PlanLimits): Promise<StoredEntry | null> {
  const metaFile = files.get(`${dir}/${metaFileName}`)
  const valueFile = files.get(`${dir}/${valueFileName}`)
  if (metaFile === undefined) {
    if (valueFile !== undefined) throw malformed(commit, `${dir}/${valueFileName} has no ${metaFileName}`)
    return null
  }
  for (const f of [metaFile, valueFile]) {
    if (f !== undefined && (f.type !== 'blob' || f.mode !== '100644')) throw malformed(commit, `${dir} holds a non-file entry`)
  }
  if (valueFile !== undefined && valueFile.sizeBytes > limits.valueBytesMax) {
    throw malformed(commit, `${dir}/${valueFileName} is ${valueFile.sizeBytes} bytes; the limit is ${limits.valueBytesMax}`)
  }
  const metaObj = await catFile.read(metaFile.oid)
  const text = metaObj?.data.toString('utf8') ?? ''
  const meta = decodeMeta(text)
  // Canonical text only: merged trees must be byte-identical on every node, whoever wrote the entry.
  if (meta === null || encodeMeta(meta) !== text) throw malformed(commit, `${dir}/${metaFileName} is not a valid meta`)
  const entry: StoredEntry = { meta, metaOid: metaFile.oid, valueOid: valueFile?.oid ?? null }
  if (!isWellFormedEntry(entry)) throw malformed(commit, `${dir}: op ${meta.op} ${entry.valueOid === null ? 'without' : 'with'} a ${valueFileName}`)
  return entry
}

/**
 * Compares main (`local`, null when empty) with `foreign` key by key and picks each key's winner with the merge's
 * total order (merge.ts). Throws TRANSFER_FAILED (malformed) for any invalid path or entry on the foreign side.
 */
export async function planMerge (gitDir: string, catFile: CatFile, local: string | null, foreign: string, limits: PlanLimits): Promise<MergePlan> {
  const dirs = await differingKeyDirs(gitDir, local, foreign, limits)
  const outcomes: KeyOutcome[] = []
  const changed: KeyOutcome[] = []
  if (dirs.length === 0) return { outcomes, changed }
  const localFiles = local === null ? new Map<string, TreeFile>() : await listKeyFiles(gitDir, local, dirs)
  const foreignFiles = await listKeyFiles(gitDir, foreign, dirs)
  // cat-file answers in order, so many reads can be in flight at once; a bounded window keeps memory flat.
  for (let i = 0; i < dirs.length; i += mergeReadsInFlightMax) {
    const window = dirs.slice(i, i + mergeReadsInFlightMax)
    const read = await Promise.all(window.map(async (dir) => await Promise.all([
      local === null ? null : readEntry(catFile, local, localFiles, dir, limits),
      readEntry(catFile, foreign, foreignFiles, dir, limits)
    ])))
    window.forEach((dir, j) => {
      const [l, f] = read[j]
      if (l === null && f === null) return
      const winner = l === null ? f as StoredEntry : f === null ? l : compareEntriesTotal(l, f) >= 0 ? l : f
      const outcome: KeyOutcome = { key: treeDirToKey(dir) as string, local: l, foreign: f, winner }
      outcomes.push(outcome)
      if (l === null || !sameEntry(l, winner)) changed.push(outcome)
    })
  }
  return { outcomes, changed }
}

/**
 * The file edits that turn `base`'s side of every outcome into the merged tree: for each key whose winner is not
 * already the base side's entry, its `.meta` and `.value` (or the removal of `.value` for a tombstone).
 */
export function mergeEdits (plan: MergePlan, baseIsLocal: boolean): Array<{ path: string, blob: string | null }> {
  const edits: Array<{ path: string, blob: string | null }> = []
  for (const o of plan.outcomes) {
    const base = baseIsLocal ? o.local : o.foreign
    if (base !== null && sameEntry(base, o.winner)) continue
    const dir = keyToTreeDir(o.key)
    edits.push({ path: `${dir}/${metaFileName}`, blob: o.winner.metaOid })
    if (o.winner.valueOid !== null) edits.push({ path: `${dir}/${valueFileName}`, blob: o.winner.valueOid })
    else if (base?.valueOid != null) edits.push({ path: `${dir}/${valueFileName}`, blob: null })
  }
  return edits
}
