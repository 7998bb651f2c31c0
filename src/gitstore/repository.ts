// The on-disk layout: a bare git repository whose derivable state lives in DIR/gitconfig/ (git ignores unknown
// folders in a gitdir). Creating it, recognising it, and cleaning up after a crash.
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError } from '../errors.js'
import { gitOk, runGit } from './git-process.js'
import { nodeIdPattern } from './hlc.js'

export const stateDirName = 'gitconfig'
export const branchRef = 'refs/heads/main'
/** Root blob naming the storage format version (docs/format.md). */
export const formatFileName = '.gitconfig-format'
export const formatVersion = '1'
/** Prefix of the quarantine folders pack ingests use inside objects/ (pack-transfer.ts). */
export const ingestQuarantinePrefix = 'gitconfig-incoming-'

export interface RepositoryPaths {
  readonly gitDir: string
  readonly stateDir: string
  readonly indexDir: string
  readonly nodeIdFile: string
  readonly ownerFile: string
}

export function repositoryPaths (dir: string): RepositoryPaths {
  const stateDir = join(dir, stateDirName)
  return {
    gitDir: dir,
    stateDir,
    indexDir: join(stateDir, 'index'),
    nodeIdFile: join(stateDir, 'node-id'),
    ownerFile: join(stateDir, 'owner')
  }
}

async function exists (path: string): Promise<boolean> {
  try { await stat(path); return true } catch { return false }
}

/**
 * Creates the repository when `dir` is missing or empty, accepts it when it is a GitConfig repository, and refuses
 * anything else (INVALID_ARGUMENT) so a typo never turns a project folder into a store.
 */
export async function prepareRepository (dir: string): Promise<RepositoryPaths> {
  const paths = repositoryPaths(dir)
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new GitConfigError('INVALID_ARGUMENT', `cannot use ${dir} as a repository: ${(err as Error).message}`)
    }
    entries = []
  }
  const isGitDir = entries.includes('HEAD') && entries.includes('objects') && entries.includes('refs')
  const hasState = entries.includes(stateDirName)
  // A bare copy of a GitConfig repository (`git clone --bare/--mirror`, a restored backup) has no state folder; its
  // main branch names the format. It opens as a new node whose index is rebuilt from git.
  const isCopy = isGitDir && !hasState && await holdsFormatFile(dir)
  if (entries.length > 0 && !(isGitDir && hasState) && !(entries.length === 1 && hasState) && !isCopy) {
    throw new GitConfigError('INVALID_ARGUMENT', `${dir} exists, is not empty and is not a GitConfig repository ` +
      '(expected a bare git repository with a gitconfig/ folder, or a bare copy of one); choose an empty or new folder')
  }
  // State folder first: a crash between the two steps leaves a folder holding only gitconfig/, accepted above.
  await mkdir(paths.stateDir, { recursive: true })
  if (!isGitDir) await gitOk(null, ['init', '--quiet', '--bare', '--initial-branch=main', dir])
  return paths
}

async function holdsFormatFile (gitDir: string): Promise<boolean> {
  const r = await runGit(gitDir, ['cat-file', '-e', `${branchRef}:${formatFileName}`])
  return r.code === 0
}

/** The node id from DIR/gitconfig/node-id, written once (from `wanted`, or random). */
export async function loadNodeId (paths: RepositoryPaths, wanted: string | undefined): Promise<string> {
  const stored = await readFile(paths.nodeIdFile, 'utf8').then((t) => t.trim(), () => null)
  if (stored !== null && stored !== '') {
    if (!nodeIdPattern.test(stored)) throw new GitConfigError('INVALID_ARGUMENT', `${paths.nodeIdFile} holds an invalid node id`)
    if (wanted !== undefined && wanted !== stored) {
      throw new GitConfigError('INVALID_ARGUMENT', `this repository belongs to node ${stored}, not ${wanted}`)
    }
    return stored
  }
  const id = wanted ?? randomBytes(8).toString('hex')
  const tmp = paths.nodeIdFile + '.tmp'
  await writeFile(tmp, id + '\n', { flush: true })
  await rename(tmp, paths.nodeIdFile)
  return id
}

/**
 * fsyncs a directory, which makes the names created, renamed or removed in it durable (a file's own fsync does not
 * cover its name). Linux allows fsync on a directory opened read-only.
 */
export async function syncDirectory (path: string): Promise<void> {
  const dir = await open(path, 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/** The full object id in a ref file (one line; SHA-1 or SHA-256). */
const refValuePattern = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\n$/

/**
 * Finishes an update of main that git made durable in `refs/heads/main.lock` but whose rename over the ref did not
 * survive: a power cut or kernel crash after git's checkpoint, or a git killed between its fsync and its rename.
 * Git writes the lock, fsyncs it (core.fsync includes `reference`), then renames it over the ref; before the store
 * fsynced refs/heads after that rename (decision 0266), an acknowledged commit could be left in the lock alone.
 *
 * The rename is redone, as git would have done it, only when the lock names a commit that is complete in the
 * repository (every object it reaches beyond main is present) and that holds every write commit main holds: main
 * moves to a descendant, or sideways to a canonical merge that joins the same writes and more (docs/merge.md), never
 * to a commit that would drop a write. A torn or stale lock is left for clearStaleLocks to delete. Returns the
 * commit main moved to, or null.
 */
export async function finishInterruptedMainUpdate (gitDir: string): Promise<string | null> {
  const lockPath = join(gitDir, branchRef + '.lock')
  const text = await readFile(lockPath, 'utf8').catch(() => null)
  const m = text === null ? null : refValuePattern.exec(text)
  if (m === null) return null
  const candidate = m[1]
  const current = await rawRefValue(gitDir)
  if (current === candidate) return null
  const reach = current === null ? [candidate] : [candidate, '--not', current]
  if ((await runGit(gitDir, ['rev-list', '--objects', '--quiet', ...reach])).code !== 0) return null
  if (current !== null) {
    // A non-merge commit main reaches and the candidate does not would be a write dropped.
    const dropped = await runGit(gitDir, ['rev-list', '--no-merges', '-n', '1', current, '--not', candidate])
    if (dropped.code !== 0 || dropped.stdout.length > 0) return null
  }
  await rename(lockPath, join(gitDir, branchRef))
  await syncDirectory(join(gitDir, 'refs', 'heads'))
  return candidate
}

/** What refs/heads/main holds, whether or not that object exists; null when there is no main. */
async function rawRefValue (gitDir: string): Promise<string | null> {
  const r = await runGit(gitDir, ['rev-parse', '--verify', '--quiet', branchRef])
  return r.code === 0 ? r.stdout.toString('utf8').trim() : null
}

/**
 * Lock and temporary files a killed git leaves behind; safe to delete once we hold the writer lock. An update of
 * main that a crash left in its lock is finished first (finishInterruptedMainUpdate).
 */
export async function clearStaleLocks (gitDir: string): Promise<string[]> {
  const removed: string[] = []
  await finishInterruptedMainUpdate(gitDir)
  const remove = async (path: string): Promise<void> => { await rm(path, { force: true, recursive: true }); removed.push(path) }
  for (const name of ['HEAD.lock', 'packed-refs.lock', 'config.lock', 'index.lock', 'shallow.lock']) {
    if (await exists(join(gitDir, name))) await remove(join(gitDir, name))
  }
  const walkRefs = async (dir: string): Promise<void> => {
    let names: string[]
    try { names = await readdir(dir) } catch { return }
    for (const name of names) {
      const path = join(dir, name)
      if (name.endsWith('.lock')) await remove(path)
      else if ((await stat(path)).isDirectory()) await walkRefs(path)
    }
  }
  await walkRefs(join(gitDir, 'refs'))
  const packDir = join(gitDir, 'objects', 'pack')
  const packNames = await readdir(packDir).catch(() => [] as string[])
  for (const name of packNames) {
    const path = join(packDir, name)
    if (name.startsWith('tmp_')) {
      await remove(path)
    } else if (name.endsWith('.keep')) {
      // fast-import keeps each checkpoint's pack until it exits cleanly; a killed one leaves the .keep behind,
      // which would stop repack from ever folding that pack.
      const text = await readFile(path, 'utf8').catch(() => '')
      if (text.startsWith('fast-import')) await remove(path)
    }
  }
  // Quarantines of pack ingests a crash interrupted (pack-transfer.ts): nothing in them was ever published.
  for (const name of await readdir(join(gitDir, 'objects')).catch(() => [] as string[])) {
    if (name.startsWith(ingestQuarantinePrefix)) await remove(join(gitDir, 'objects', name))
  }
  for (const name of ['objects/info/commit-graphs/commit-graph-chain.lock', 'objects/info/commit-graph.lock']) {
    if (await exists(join(gitDir, name))) await remove(join(gitDir, name))
  }
  return removed
}

/**
 * The commit refs/heads/main points to, or null in a new repository. A main that names a missing object is
 * GIT_UNAVAILABLE: taken for a new repository, it would let the next write start a new history over it.
 */
export async function readHead (gitDir: string): Promise<string | null> {
  const r = await runGit(gitDir, ['rev-parse', '--verify', '--quiet', branchRef + '^{commit}'])
  if (r.code === 0) return r.stdout.toString('utf8').trim()
  const raw = await rawRefValue(gitDir)
  if (raw === null) return null
  throw new GitConfigError('GIT_UNAVAILABLE', `${branchRef} points at ${raw}, which is not a commit of this repository: ` +
    'the repository is damaged (objects lost, e.g. by a crash on storage that ignores fsync); restore it from a backup or a peer',
    { commit: raw })
}

/** Records who holds the writer lock, for the REPOSITORY_LOCKED message. */
export async function writeOwner (paths: RepositoryPaths): Promise<void> {
  await writeFile(paths.ownerFile, `pid ${process.pid}\n`)
}

export function readOwnerSync (paths: RepositoryPaths, read: (p: string) => string): string {
  try { return read(paths.ownerFile).trim() } catch { return 'pid unknown' }
}
