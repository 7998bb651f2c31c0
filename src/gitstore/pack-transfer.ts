// Moving objects between repositories: thin packs out (`git pack-objects`), packs in (`git index-pack`).
//
// A received pack is indexed into a quarantine object directory inside objects/ (git's own receive-pack does the
// same), checked there, and only then renamed into objects/pack. Until that rename no git process of the store can
// see its objects; so a pack that fails a check never leaves objects behind that fast-import could mistake for ones
// it need not write again (fast-import skips objects that already exist in a pack), and nothing has to be deleted
// from the live object store after a failure.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { GitConfigError } from '../errors.js'
import { gitStderrBytesMax, packHaveCommitsMax, packWantCommitsMax } from '../limits.js'
import { gitConfigArgs, gitEnv } from './git-process.js'
import { ingestQuarantinePrefix } from './repository.js'


const fullIdPattern = /^[0-9a-f]{40}$/

export type TransferFailure = 'malformed' | 'overflow' | 'incomplete'

export function transferFailed (reason: TransferFailure, message: string, details: Record<string, unknown> = {}): GitConfigError {
  return new GitConfigError('TRANSFER_FAILED', message, { ...details, reason })
}

/** Checks a list of commit ids from a request: full lowercase 40-hex ids, at most `max`. */
export function checkCommitIds (ids: unknown, what: string, max: number): string[] {
  if (!Array.isArray(ids)) throw new GitConfigError('INVALID_ARGUMENT', `${what} must be an array of commit ids`)
  if (ids.length > max) throw new GitConfigError('INVALID_ARGUMENT', `${what} lists ${ids.length} commits; the limit is ${max}`)
  for (const id of ids) {
    if (typeof id !== 'string' || !fullIdPattern.test(id)) {
      throw new GitConfigError('INVALID_ARGUMENT', `${what} holds ${JSON.stringify(id)}, not a full commit id (40 lowercase hex digits)`)
    }
  }
  return [...new Set(ids as string[])]
}

function quarantineEnv (gitDir: string, quarantine: string): NodeJS.ProcessEnv {
  return { GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(gitDir, 'objects') }
}

export interface PackRequest {
  readonly want: readonly string[]
  readonly have: readonly string[]
}

/**
 * Streams a thin pack of what `want` reaches minus what `have` reaches. `exists(id)` says whether a commit is
 * known locally: unknown wants fail with UNKNOWN_COMMIT, unknown haves are left out.
 */
export async function * createPack (gitDir: string, req: PackRequest, exists: (id: string) => Promise<boolean>,
  signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const want = checkCommitIds(req.want, 'want', packWantCommitsMax)
  const have = checkCommitIds(req.have, 'have', packHaveCommitsMax)
  if (want.length === 0) throw new GitConfigError('INVALID_ARGUMENT', 'want lists no commit')
  // All asked at once: the store's cat-file answers a batch of lookups in one round trip.
  const [wantFound, haveFound] = await Promise.all([Promise.all(want.map(exists)), Promise.all(have.map(exists))])
  want.forEach((w, i) => {
    if (!wantFound[i]) throw new GitConfigError('UNKNOWN_COMMIT', `${w} is not a commit of this repository`, { commit: w })
  })
  const known = have.filter((_, i) => haveFound[i])
  signal?.throwIfAborted()
  const child = spawn('git', [...gitConfigArgs, '--git-dir', gitDir, 'pack-objects', '--revs', '--thin', '--stdout', '--quiet', '--delta-base-offset'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv() })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { if (stderr.length < gitStderrBytesMax) stderr += b.toString('utf8') })
  child.stdin.on('error', () => { /* reported through the exit code */ })
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1))
    child.on('close', (code) => resolve(code ?? -1))
  })
  const onAbort = (): void => { child.kill('SIGKILL') }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    child.stdin.end([...want, ...known.map((h) => '^' + h)].join('\n') + '\n')
    for await (const chunk of child.stdout) {
      // A view, not `new Uint8Array(chunk)`, which would copy every 64 KiB chunk of the pack once more.
      const bytes = chunk as Buffer
      yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    const code = await exited
    signal?.throwIfAborted()
    if (code !== 0) throw new GitConfigError('GIT_UNAVAILABLE', `git pack-objects failed (exit ${code}): ${stderr.trim()}`)
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

export interface IngestOptions {
  readonly expect: readonly string[]
  readonly bytesMax: number
  readonly signal?: AbortSignal
  /** Whether a commit is already in the repository (which holds only complete commits). */
  readonly exists: (id: string) => Promise<boolean>
}

/**
 * Indexes a received pack into a quarantine, checks that every `expect` commit is complete, then moves the pack
 * into objects/pack and fsyncs the folder. TRANSFER_FAILED (malformed, overflow, incomplete) leaves the object
 * store as it was.
 */
export async function ingestPack (gitDir: string, chunks: AsyncIterable<Uint8Array>, opts: IngestOptions): Promise<void> {
  const objectsDir = join(gitDir, 'objects')
  const quarantine = await mkdtemp(join(objectsDir, ingestQuarantinePrefix))
  try {
    await mkdir(join(quarantine, 'pack'))
    await indexInto(gitDir, quarantine, chunks, opts)
    // index-pack --strict has checked that every object the pack's objects point to is in the pack or in the
    // repository, whose objects are all complete already; so each expected commit is complete as soon as it is
    // in one of the two (decision 0455). The pack's index is searched here, the repository through cat-file.
    const inPack = await packIndexLookup(join(quarantine, 'pack'))
    for (const commit of opts.expect) {
      if (inPack(commit) || await opts.exists(commit)) continue
      throw transferFailed('incomplete', 'the pack does not complete the expected commits (objects are missing)', { expect: [...opts.expect] })
    }
    await publishPacks(join(quarantine, 'pack'), join(objectsDir, 'pack'))
    // An id found in the pack might name a blob or a tree. Such a pack is complete and harmless to keep; the
    // caller is still told that the commit it expected did not arrive.
    for (const commit of opts.expect) {
      if (!(await opts.exists(commit))) throw transferFailed('incomplete', `${commit} arrived but is not a commit`, { expect: [...opts.expect] })
    }
  } finally {
    await rm(quarantine, { recursive: true, force: true })
  }
}

async function indexInto (gitDir: string, quarantine: string, chunks: AsyncIterable<Uint8Array>, opts: IngestOptions): Promise<void> {
  opts.signal?.throwIfAborted()
  const child = spawn('git', [...gitConfigArgs, '--git-dir', gitDir, 'index-pack', '--stdin', '--fix-thin', '--strict'],
    { stdio: ['pipe', 'ignore', 'pipe'], env: { ...gitEnv(), ...quarantineEnv(gitDir, quarantine) } })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { if (stderr.length < gitStderrBytesMax) stderr += b.toString('utf8') })
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(-1))
    child.on('close', (code) => resolve(code ?? -1))
  })
  let stdinFailed = false
  child.stdin.on('error', () => { stdinFailed = true })
  const onAbort = (): void => { child.kill('SIGKILL') }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  let receivedBytes = 0
  try {
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw transferFailed('malformed', 'a pack chunk is not bytes')
      receivedBytes += chunk.length
      if (receivedBytes > opts.bytesMax) {
        throw transferFailed('overflow', `the pack exceeds the limit of ${opts.bytesMax} bytes`, { bytesMax: opts.bytesMax, receivedBytes })
      }
      if (stdinFailed || child.exitCode !== null) break
      if (!child.stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => { child.stdin.off('drain', done); child.off('close', done); resolve() }
          child.stdin.once('drain', done)
          child.once('close', done)
        })
      }
    }
    child.stdin.end()
    const code = await exited
    opts.signal?.throwIfAborted()
    if (code !== 0) {
      // --strict checks links too: a pack whose objects point at objects neither it nor the repository holds is
      // well-formed but incomplete.
      const reason = /did not receive expected object|missing (?:blob|tree|commit|tag) object/.test(stderr) ? 'incomplete' : 'malformed'
      throw transferFailed(reason, `the pack was refused by git index-pack: ${stderr.trim() || `exit ${code}`}`, { receivedBytes })
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  }
}

/** Moves pack files into place, the .idx last (git finds packs by their index), then makes the renames durable. */
async function publishPacks (from: string, to: string): Promise<void> {
  const names = await readdir(from)
  // A peer that had nothing new sends an empty pack; publishing it would only add a file to every later lookup.
  const packs = names.filter((n) => n.endsWith('.pack'))
  if (packs.length === 1 && await packObjectCount(join(from, packs[0])) === 0) return
  const rank = (n: string): number => (n.endsWith('.pack') ? 0 : n.endsWith('.idx') ? 2 : 1)
  const files = names.filter((n) => n.startsWith('pack-') && !n.endsWith('.keep')).sort((a, b) => rank(a) - rank(b))
  for (const name of files) await rename(join(from, name), join(to, name))
  const dir = await open(to, 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/**
 * A membership test over the object ids of the one pack index (version 2) in `dir`: the 256-entry fan-out table,
 * then the sorted 20-byte ids. No index (an empty pack has none, or git wrote none) means no member.
 */
async function packIndexLookup (dir: string): Promise<(oid: string) => boolean> {
  const idx = (await readdir(dir)).filter((n) => n.endsWith('.idx'))
  if (idx.length !== 1) return () => false
  const data = await readFile(join(dir, idx[0]))
  const magic = data.length >= 8 + 256 * 4 && data.readUInt32BE(0) === 0xff744f63 && data.readUInt32BE(4) === 2
  if (!magic) throw transferFailed('malformed', 'git index-pack wrote an index this version cannot read')
  const idsStart = 8 + 256 * 4
  const count = data.readUInt32BE(8 + 255 * 4)
  if (data.length < idsStart + count * 20) throw transferFailed('malformed', 'the pack index is truncated')
  return (oid) => {
    if (!fullIdPattern.test(oid)) return false
    const wanted = Buffer.from(oid, 'hex')
    const first = wanted[0]
    let lo = first === 0 ? 0 : data.readUInt32BE(8 + (first - 1) * 4)
    let hi = data.readUInt32BE(8 + first * 4)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = wanted.compare(data, idsStart + mid * 20, idsStart + mid * 20 + 20)
      if (c === 0) return true
      if (c < 0) hi = mid
      else lo = mid + 1
    }
    return false
  }
}

/** The object count in a pack's header ("PACK", version, count; big-endian). */
async function packObjectCount (path: string): Promise<number> {
  const file = await open(path, 'r')
  try {
    const header = Buffer.alloc(12)
    const { bytesRead } = await file.read(header, 0, 12, 0)
    return bytesRead === 12 ? header.readUInt32BE(8) : -1
  } finally {
    await file.close()
  }
}
