// Planning a merge of a foreign commit into main: which keys differ, which side wins each, and the file edits that
// turn the first (canonical) parent's tree into the merged tree. Only the subtrees where the two trees differ are
// read and validated: a subtree with the same id on both sides is identical, so it is already part of main and
// already trusted. The trees are read through the store's long-lived cat-file, level by level, instead of starting
// `git diff-tree` and `git ls-tree` per merge (decision 0454).
import { encodeMeta, decodeMeta, type TreeEntry } from './entry.js'
import type { CatFile } from './cat-file.js'
import { decodeSegment, keyToTreeDir, metaFileName, treeDirToKey, valueFileName } from './keys.js'
import { compareEntriesTotal, isWellFormedEntry, sameEntry } from './merge.js'
import { gitOk } from './git-process.js'
import { transferFailed } from './pack-transfer.js'
import { mergeReadsInFlightMax } from '../limits.js'
import { blobOid } from './group-commit.js'
import { formatFileName, formatVersion } from './repository.js'

const formatBlobOid = blobOid(new TextEncoder().encode(formatVersion + '\n'))

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
  /** The root of the directories whose trees differ (merge-trees.ts builds the merged tree from it). */
  readonly root: DiffDir
  /**
   * Big directories only main holds, whose keys were not listed: main wins all of them unchanged, so they matter
   * only to a merge written as file edits from the foreign parent's tree (see localOnlyEdits).
   */
  readonly localOnly: readonly DiffDir[]
}

export interface PlanLimits {
  readonly keyBytesMax: number
  readonly valueBytesMax: number
}

/** One entry of a git tree object. */
export interface TreeItem {
  readonly mode: string
  readonly name: string
  readonly oid: string
}

/** The `.meta` and `.value` blob ids of a key directory (null when absent). */
interface KeyFiles {
  readonly metaOid: string | null
  readonly valueOid: string | null
}

/** A directory whose tree differs between the two sides (tree ids; null where a side lacks the directory). */
export interface DiffDir {
  /** Path from the root ('' for the root itself). */
  readonly dir: string
  readonly local: string | null
  readonly foreign: string | null
  /** Files (name -> blob id) and subdirectories (name -> tree id) of each side, once read. */
  localFiles: ReadonlyMap<string, string>
  foreignFiles: ReadonlyMap<string, string>
  localDirs: ReadonlyMap<string, string>
  foreignDirs: ReadonlyMap<string, string>
  /** Subdirectories whose trees differ. */
  readonly children: DiffDir[]
  /** This directory's key, when its files differ; its outcome once planned. */
  outcome: KeyOutcome | null
}

interface DifferingKey {
  readonly dir: string
  /** The key the directory encodes (set once the directory is validated). */
  key: string
  /** The key's directory in the walk; null for keys inside a one-sided subtree listed by ls-tree. */
  readonly node: DiffDir | null
  readonly local: KeyFiles
  readonly foreign: KeyFiles
}

/**
 * A directory that only one side holds, with more subdirectories than this, is listed with one `git ls-tree -r`
 * instead of one cat-file read per directory below it (a partition's keys arrive as such directories).
 */
const oneSidedListDirsMin = 64

const noEntries: ReadonlyMap<string, string> = new Map()

function diffDir (dir: string, local: string | null, foreign: string | null): DiffDir {
  return { dir, local, foreign, localFiles: noEntries, foreignFiles: noEntries, localDirs: noEntries, foreignDirs: noEntries, children: [], outcome: null }
}

function malformed (commit: string, what: string): Error {
  return transferFailed('malformed', `commit ${commit} cannot be merged: ${what}`, { commit })
}

/** Parses a tree object (`<mode> <name>\0<20-byte id>` repeated); null when it is not one. */
function parseTreeObject (data: Buffer): TreeItem[] | null {
  const items: TreeItem[] = []
  let i = 0
  while (i < data.length) {
    const space = data.indexOf(0x20, i)
    const nul = space < 0 ? -1 : data.indexOf(0x00, space + 1)
    if (nul < 0 || nul + 21 > data.length) return null
    items.push({ mode: data.toString('latin1', i, space), name: data.toString('utf8', space + 1, nul), oid: data.toString('hex', nul + 1, nul + 21) })
    i = nul + 21
  }
  return items
}

async function readTreeItems (catFile: CatFile, oid: string, commit: string): Promise<TreeItem[]> {
  const obj = await catFile.read(oid)
  const items = obj === null || obj.type !== 'tree' ? null : parseTreeObject(obj.data)
  if (items === null) throw malformed(commit, `tree ${oid} is missing or unreadable`)
  return items
}

const treeMode = '40000'
const fileMode = '100644'

/**
 * Splits one directory's items into files and subdirectories. Foreign items are validated (they are untrusted):
 * at the root only the format file and directories, below it only a key's `.meta` and `.value` as plain files and
 * directories named like encoded key segments.
 */
function splitItems (items: readonly TreeItem[], dir: string, check: string | null): { files: Map<string, string>, dirs: Map<string, string> } {
  const files = new Map<string, string>()
  const dirs = new Map<string, string>()
  for (const item of items) {
    const path = dir === '' ? item.name : `${dir}/${item.name}`
    if (item.mode === treeMode) {
      if (check !== null && decodeSegment(item.name) === null) throw malformed(check, `${JSON.stringify(path)} is not the directory of any key`)
      dirs.set(item.name, item.oid)
      continue
    }
    if (check !== null) {
      const allowed = dir === '' ? item.name === formatFileName : item.name === metaFileName || item.name === valueFileName
      if (!allowed) throw malformed(check, `${JSON.stringify(path)} is not a key's ${metaFileName} or ${valueFileName}`)
      if (item.mode !== fileMode) throw malformed(check, `${JSON.stringify(path)} has mode ${item.mode}, not a plain file`)
    }
    files.set(item.name, item.oid)
  }
  return { files, dirs }
}

/**
 * Walks the two trees from the root down, level by level, descending only where the subtree ids differ, and
 * returns the key directories whose files differ. At most mergeReadsInFlightMax tree reads are in flight at once.
 */
async function differingKeys (gitDir: string, catFile: CatFile, root: DiffDir, foreign: string, limits: PlanLimits, localOnly: DiffDir[]): Promise<DifferingKey[]> {
  const keys: DifferingKey[] = []
  const lists: DiffDir[] = []
  const localTree = root.local
  let frontier: DiffDir[] = [root]
  while (frontier.length > 0) {
    const next: DiffDir[] = []
    for (let i = 0; i < frontier.length; i += mergeReadsInFlightMax) {
      const window = frontier.slice(i, i + mergeReadsInFlightMax)
      const read = await Promise.all(window.map(async (p) => await Promise.all([
        p.local === null ? [] : readTreeItems(catFile, p.local, foreign),
        p.foreign === null ? [] : readTreeItems(catFile, p.foreign, foreign)
      ])))
      window.forEach((node, j) => {
        const [localItems, foreignItems] = read[j]
        const l = splitItems(localItems, node.dir, null)
        const f = splitItems(foreignItems, node.dir, foreign)
        node.localFiles = l.files
        node.localDirs = l.dirs
        node.foreignFiles = f.files
        node.foreignDirs = f.dirs
        if (node.dir === '') {
          const lf = l.files.get(formatFileName) ?? null
          const ff = f.files.get(formatFileName) ?? null
          // Only a first merge into an empty main may bring the format file, and only this format's.
          if (lf !== ff && !(localTree === null && ff === formatBlobOid)) throw malformed(foreign, `its ${formatFileName} differs (another storage format)`)
        } else {
          const lk: KeyFiles = { metaOid: l.files.get(metaFileName) ?? null, valueOid: l.files.get(valueFileName) ?? null }
          const fk: KeyFiles = { metaOid: f.files.get(metaFileName) ?? null, valueOid: f.files.get(valueFileName) ?? null }
          if (lk.metaOid !== fk.metaOid || lk.valueOid !== fk.valueOid) keys.push({ dir: node.dir, key: '', node, local: lk, foreign: fk })
        }
        const oneSide = node.local === null ? f : node.foreign === null ? l : null
        if (node.dir !== '' && oneSide !== null && oneSide.dirs.size > oneSidedListDirsMin) {
          // Below a directory only main holds, every key keeps main's entry: nothing to read or decide (after a
          // partition that is this side's half of the keys). A foreign one is listed in one go and validated.
          if (node.foreign === null) localOnly.push(node)
          else lists.push(node)
          return
        }
        for (const name of new Set([...l.dirs.keys(), ...f.dirs.keys()])) {
          const lo = l.dirs.get(name) ?? null
          const fo = f.dirs.get(name) ?? null
          if (lo === fo) continue
          const child = diffDir(node.dir === '' ? name : `${node.dir}/${name}`, lo, fo)
          node.children.push(child)
          next.push(child)
        }
      })
    }
    frontier = next
  }
  for (const node of lists) {
    for (const k of await listOneSided(gitDir, node, foreign)) keys.push(k)
  }
  // Keys only main holds were validated when they were written; every other key directory comes from the peer.
  for (const k of keys) k.key = k.foreign.metaOid === null && k.foreign.valueOid === null ? treeDirToKey(k.dir) ?? '' : checkKeyDir(k.dir, foreign, limits)
  return keys.sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0))
}

/**
 * Every key below a directory only one side holds (its own key, if any, is already known), from one
 * `git ls-tree -r`; the foreign side's files are validated as in splitItems.
 */
async function listOneSided (gitDir: string, node: DiffDir, foreign: string): Promise<DifferingKey[]> {
  const isForeign = node.local === null
  const tree = (isForeign ? node.foreign : node.local) as string
  // Parsed from the bytes, every field its own string: substrings of one big decoded listing would each keep the
  // whole listing (megabytes after a partition) alive for as long as the index cache holds an entry's blob id.
  const out = await gitOk(gitDir, ['ls-tree', '-r', '-z', tree])
  const byDir = new Map<string, { metaOid: string | null, valueOid: string | null }>()
  // Each record: `<mode> <type> <oid>\t<path>\0`.
  for (let start = 0, end: number; start < out.length; start = end + 1) {
    end = out.indexOf(0x00, start)
    if (end < 0) end = out.length
    const tab = out.indexOf(0x09, start)
    if (tab < 0 || tab > end) continue
    const slash = out.lastIndexOf(0x2f, end - 1)
    if (slash <= tab) continue // the directory's own files: read with its tree already
    const firstSpace = out.indexOf(0x20, start)
    const mode = out.toString('latin1', start, firstSpace)
    const oid = out.toString('latin1', out.lastIndexOf(0x20, tab) + 1, tab)
    const dir = `${node.dir}/${out.toString('utf8', tab + 1, slash)}`
    const name = out.toString('utf8', slash + 1, end)
    if (isForeign) {
      if (name !== metaFileName && name !== valueFileName) throw malformed(foreign, `${JSON.stringify(`${dir}/${name}`)} is not a key's ${metaFileName} or ${valueFileName}`)
      if (mode !== fileMode) throw malformed(foreign, `${JSON.stringify(`${dir}/${name}`)} has mode ${mode}, not a plain file`)
    }
    let files = byDir.get(dir)
    if (files === undefined) { files = { metaOid: null, valueOid: null }; byDir.set(dir, files) }
    if (name === metaFileName) files.metaOid = oid
    else if (name === valueFileName) files.valueOid = oid
  }
  const none: KeyFiles = { metaOid: null, valueOid: null }
  return [...byDir].map(([dir, files]) => ({ dir, key: '', node: null, local: isForeign ? none : files, foreign: isForeign ? files : none }))
}

/**
 * A tree directory made of literal segments only (what keys.ts leaves unencoded: no `%`, no leading `.`). Its key is
 * the directory itself behind a `/`: such a key is already normalised (no empty, `.` or `..` segment, no control
 * character) and encodes back to the same directory, so the general decode below would only confirm it.
 */
const literalTreeDirPattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/

function checkKeyDir (dir: string, foreign: string, limits: PlanLimits): string {
  if (literalTreeDirPattern.test(dir)) {
    // ASCII only, so its length is its UTF-8 size.
    if (dir.length + 1 > limits.keyBytesMax) throw malformed(foreign, `${JSON.stringify('/' + dir)} is not a valid key`)
    return '/' + dir
  }
  // treeDirToKey accepts canonical segment encodings of a normalised key only; the size limit is checked here.
  const key = treeDirToKey(dir)
  if (key === null || keyToTreeDir(key) !== dir) throw malformed(foreign, `${JSON.stringify(dir)} is not the directory of any key`)
  if (Buffer.byteLength(key, 'utf8') > limits.keyBytesMax) throw malformed(foreign, `${JSON.stringify(key)} is not a valid key`)
  return key
}

/** A key's entry from its files, or null when the key has none; TRANSFER_FAILED when it is not well formed. */
async function readEntry (catFile: CatFile, commit: string, files: KeyFiles, dir: string): Promise<StoredEntry | null> {
  if (files.metaOid === null) {
    if (files.valueOid !== null) throw malformed(commit, `${dir}/${valueFileName} has no ${metaFileName}`)
    return null
  }
  const metaObj = await catFile.read(files.metaOid)
  const text = metaObj?.type === 'blob' ? metaObj.data.toString('utf8') : ''
  const meta = decodeMeta(text)
  // Canonical text only: merged trees must be byte-identical on every node, whoever wrote the entry.
  if (meta === null || encodeMeta(meta) !== text) throw malformed(commit, `${dir}/${metaFileName} is not a valid meta`)
  const entry: StoredEntry = { meta, metaOid: files.metaOid, valueOid: files.valueOid }
  if (!isWellFormedEntry(entry)) throw malformed(commit, `${dir}: op ${meta.op} ${entry.valueOid === null ? 'without' : 'with'} a ${valueFileName}`)
  return entry
}

/**
 * Compares main's tree (`localTree`, null when main is empty) with the foreign commit's tree key by key and picks
 * each key's winner with the merge's total order (merge.ts). Throws TRANSFER_FAILED (malformed) for any invalid
 * path or entry on the foreign side. Values are not read here (merge-into.ts reads the winners' values).
 */
export async function planMerge (gitDir: string, catFile: CatFile, localTree: string | null, foreignTree: string, foreign: string, limits: PlanLimits): Promise<MergePlan> {
  const root = diffDir('', localTree, foreignTree)
  const localOnly: DiffDir[] = []
  const keys = localTree === foreignTree ? [] : await differingKeys(gitDir, catFile, root, foreign, limits, localOnly)
  const outcomes: KeyOutcome[] = []
  const changed: KeyOutcome[] = []
  // cat-file answers in order, so many reads can be in flight at once; a bounded window keeps memory flat.
  for (let i = 0; i < keys.length; i += mergeReadsInFlightMax) {
    const window = keys.slice(i, i + mergeReadsInFlightMax)
    const read = await Promise.all(window.map(async (k) => await Promise.all([
      readEntry(catFile, 'main', k.local, k.dir),
      readEntry(catFile, foreign, k.foreign, k.dir)
    ])))
    window.forEach((k, j) => {
      const [l, f] = read[j]
      if (l === null && f === null) return
      const winner = l === null ? f as StoredEntry : f === null ? l : compareEntriesTotal(l, f) >= 0 ? l : f
      const outcome: KeyOutcome = { key: k.key, local: l, foreign: f, winner }
      if (k.node !== null) k.node.outcome = outcome
      outcomes.push(outcome)
      if (l === null || !sameEntry(l, winner)) changed.push(outcome)
    })
  }
  return { outcomes, changed, root, localOnly }
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

/**
 * The file edits that add the keys of the plan's local-only directories to the foreign parent's tree (their files
 * as main holds them), from one `git ls-tree -r` per directory. Needed only when such a merge is written as file
 * edits from the foreign side; main's files were validated when they were written.
 */
export async function localOnlyEdits (gitDir: string, plan: MergePlan): Promise<Array<{ path: string, blob: string }>> {
  const edits: Array<{ path: string, blob: string }> = []
  for (const node of plan.localOnly) {
    for (const k of await listOneSided(gitDir, node, 'main')) {
      if (k.local.metaOid !== null) edits.push({ path: `${k.dir}/${metaFileName}`, blob: k.local.metaOid })
      if (k.local.valueOid !== null) edits.push({ path: `${k.dir}/${valueFileName}`, blob: k.local.valueOid })
    }
  }
  return edits
}
