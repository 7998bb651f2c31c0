// Reading a whole tree as key -> TreeEntry (for merges and checks): `git ls-tree -r` lists the blobs, the `.meta`
// blobs are read through cat-file. Paths that no key maps to (the format blob) are skipped.
import { GitConfigError } from '../errors.js'
import type { CatFile } from './cat-file.js'
import { decodeMeta, type TreeEntry } from './entry.js'
import { gitOk } from './git-process.js'
import { metaFileName, treeDirToKey, valueFileName } from './keys.js'

export async function readTreeEntries (gitDir: string, catFile: CatFile, commit: string): Promise<Map<string, TreeEntry>> {
  const out = await gitOk(gitDir, ['ls-tree', '-r', '--full-tree', commit])
  const metas = new Map<string, string>()
  const values = new Map<string, string>()
  for (const line of out.toString('utf8').split('\n')) {
    const m = /^\d+ blob ([0-9a-f]+)\t(.+)$/.exec(line)
    if (m === null) continue
    const [, oid, path] = m
    if (path.endsWith('/' + metaFileName)) metas.set(path.slice(0, -(metaFileName.length + 1)), oid)
    else if (path.endsWith('/' + valueFileName)) values.set(path.slice(0, -(valueFileName.length + 1)), oid)
  }
  const entries = new Map<string, TreeEntry>()
  for (const [dir, metaOid] of metas) {
    const key = treeDirToKey(dir)
    if (key === null) continue
    const blob = await catFile.read(metaOid)
    const meta = blob === null ? null : decodeMeta(blob.data.toString('utf8'))
    if (meta === null) throw new GitConfigError('INTERNAL', `unreadable ${dir}/${metaFileName} in ${commit}`)
    entries.set(key, { meta, valueOid: values.get(dir) ?? null })
  }
  return entries
}
