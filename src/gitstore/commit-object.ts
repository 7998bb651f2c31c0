// Reading commit objects through the store's long-lived cat-file instead of starting `git show` / `git log` /
// `git merge-base` for each merge: on a loaded machine every git process start costs more than the whole read
// (decision 0453). Only what the merge needs is parsed: tree, parents, the two dates, subject and body.
import type { CatFile } from './cat-file.js'
import { transferFailed } from './pack-transfer.js'

export interface CommitObject {
  readonly id: string
  readonly tree: string
  readonly parents: readonly string[]
  readonly authorTimeSec: number
  readonly committerTimeSec: number
  /** What `git log --format=%s` prints: the first paragraph, its lines joined by spaces. */
  readonly subject: string
  /** The message after the first paragraph (`%b`, give or take leading blank lines). */
  readonly body: string
  /**
   * True when the headers are tree, parents, author and committer only, and the subject is one line: then
   * `subject` and `body` are exactly what git log would print, so history read from them equals the git log path.
   */
  readonly plain: boolean
}

const oidPattern = /^[0-9a-f]{40}$/

/** The seconds field of an `author`/`committer` header (`Name <email> 1700000000 +0000`); NaN when unusable. */
function signatureTimeSec (value: string): number {
  const m = /> (\d+) [+-]\d{4}$/.exec(value)
  return m === null ? Number.NaN : Number(m[1])
}

/** Parses a commit object's text; null when it is not a commit git would have written. */
export function parseCommitObject (id: string, data: Buffer): CommitObject | null {
  const text = data.toString('utf8')
  const headerEnd = text.indexOf('\n\n')
  const headerText = headerEnd < 0 ? text.replace(/\n$/, '') : text.slice(0, headerEnd)
  const message = headerEnd < 0 ? '' : text.slice(headerEnd + 2)
  let tree: string | null = null
  const parents: string[] = []
  let author = ''
  let committer = ''
  let plain = true
  for (const line of headerText.split('\n')) {
    const space = line.indexOf(' ')
    const name = space < 0 ? line : line.slice(0, space)
    const value = space < 0 ? '' : line.slice(space + 1)
    if (name === 'tree' && tree === null && oidPattern.test(value)) tree = value
    else if (name === 'parent' && oidPattern.test(value)) parents.push(value)
    else if (name === 'author' && author === '') author = value
    else if (name === 'committer' && committer === '') committer = value
    else plain = false
  }
  if (tree === null || author === '' || committer === '') return null
  const paragraphEnd = message.indexOf('\n\n')
  const firstParagraph = paragraphEnd < 0 ? message : message.slice(0, paragraphEnd)
  const lines = firstParagraph.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '')
  if (lines.length !== 1 || lines[0] !== firstParagraph) plain = false
  return {
    id,
    tree,
    parents,
    authorTimeSec: signatureTimeSec(author),
    committerTimeSec: signatureTimeSec(committer),
    subject: lines.join(' '),
    body: paragraphEnd < 0 ? '' : message.slice(paragraphEnd + 2),
    plain
  }
}

/** A commit by id; TRANSFER_FAILED (malformed) when the object is missing, not a commit, or unparsable. */
export async function readCommitObject (catFile: CatFile, id: string): Promise<CommitObject> {
  const obj = await catFile.read(id)
  const parsed = obj === null || obj.type !== 'commit' ? null : parseCommitObject(id, obj.data)
  if (parsed === null) throw transferFailed('malformed', `${id} is not a readable commit`, { commit: id })
  if (!Number.isSafeInteger(parsed.authorTimeSec) || parsed.authorTimeSec < 0) {
    throw transferFailed('malformed', `commit ${id} has an unusable author date`, { commit: id })
  }
  return parsed
}

/**
 * The commits of `local..head` when they form one chain of single-parent commits ending on `local`, at most
 * `commitsMax` of them, newest first; null otherwise (a merge, a root, a longer chain: the caller asks git). This
 * is the shape of nearly every head a node receives while it keeps up: a peer's few new group commits on top of
 * what this node already holds.
 */
export async function chainSince (catFile: CatFile, head: CommitObject, local: string, commitsMax: number): Promise<CommitObject[] | null> {
  const chain: CommitObject[] = []
  let current = head
  while (chain.length < commitsMax) {
    if (current.parents.length !== 1) return null
    chain.push(current)
    const parent = current.parents[0]
    if (parent === local) return chain
    const obj = await catFile.read(parent)
    const next = obj === null || obj.type !== 'commit' ? null : parseCommitObject(parent, obj.data)
    // Anything unusual on the way is for git to judge, as before this shortcut existed.
    if (next === null) return null
    current = next
  }
  return null
}
