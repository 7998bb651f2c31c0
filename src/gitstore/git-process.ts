// Running the `git` program: always with an argument array (never a shell), with the settings every store process
// needs passed as `-c` so they hold even if someone edits the repository's config.
import { spawn } from 'node:child_process'
import { GitConfigError } from '../errors.js'
import { gitStderrBytesMax } from '../limits.js'
import { packLookups } from './pack-lookups.js'

/** Oldest git with `merge-tree --write-tree` (needed by later issues) and `core.fsync` components. */
export const gitVersionMin = [2, 38] as const

/**
 * `-c` settings for every git process the store starts: fsync objects, packs and refs so a checkpoint is durable;
 * always write packs (never explode small imports into loose objects); never auto-gc behind our back.
 */
export const gitConfigArgs: readonly string[] = [
  '-c', 'core.fsync=committed,pack-metadata',
  '-c', 'core.fsyncMethod=fsync',
  '-c', 'fastimport.unpackLimit=0',
  '-c', 'gc.auto=0',
  '-c', 'core.quotePath=true'
]

export interface GitResult {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
}

/**
 * Runs git to completion, collecting its output. Rejects only when git cannot be started. A command on a repository
 * counts as a pack lookup in flight until it ends (pack-lookups.ts: maintenance deletes packs only after those).
 */
export function runGit (gitDir: string | null, args: readonly string[], input?: string | Uint8Array,
  more: { env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<GitResult> {
  const run = spawnGit(gitDir, args, input, more)
  return gitDir === null ? run : packLookups(gitDir).track(run)
}

function spawnGit (gitDir: string | null, args: readonly string[], input: string | Uint8Array | undefined,
  more: { env?: NodeJS.ProcessEnv, timeoutMs?: number }): Promise<GitResult> {
  const fullArgs = gitDir === null ? [...gitConfigArgs, ...args] : [...gitConfigArgs, '--git-dir', gitDir, ...args]
  return new Promise((resolve, reject) => {
    const child = spawn('git', fullArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...gitEnv(), ...more.env }, timeout: more.timeoutMs, killSignal: 'SIGKILL' })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => { if (err.length < gitStderrBytesMax) err += b.toString('utf8') })
    child.on('error', (e) => reject(gitUnavailable(e)))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err.trim() }))
    child.stdin.on('error', () => { /* git exited before reading its input; the exit code tells */ })
    child.stdin.end(input)
  })
}

/** Runs git and returns stdout, or throws GIT_UNAVAILABLE with git's own message. */
export async function gitOk (gitDir: string | null, args: readonly string[], input?: string | Uint8Array): Promise<Buffer> {
  const r = await runGit(gitDir, args, input)
  if (r.code !== 0) {
    throw new GitConfigError('GIT_UNAVAILABLE', `git ${args[0]} failed (exit ${r.code}): ${r.stderr}`, { exitCode: r.code })
  }
  return r.stdout
}

/** Environment for git: no pager, no prompts, no user or system config leaking author names or hooks in. */
export function gitEnv (): NodeJS.ProcessEnv {
  // Copied at every start, not cached: the environment of this process may change (tests put a git shim first on
  // PATH), and spawn looks git up on the PATH it is given.
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    LC_ALL: 'C'
  }
}

/**
 * Extra `-c` settings for the write path's `git fast-import` only. Level-0 zlib ("stored" deflate blocks): a commit
 * checkpoints its own pack, so fast-import can never delta a tree against its previous version (that lives in an
 * earlier pack) and compresses every rewritten tree and blob in full; at level 0 that costs about half of
 * fast-import's CPU. The objects are ordinary git objects; packs are larger until maintenance repacks them, and
 * the repack keeps the stored data (decision 0262).
 */
export const fastImportConfigArgs: readonly string[] = ['-c', 'pack.compression=0']

/**
 * glibc malloc settings for the long-lived `git fast-import`: it allocates and frees a zlib deflate state (about
 * 256 KiB, above glibc's default 128 KiB mmap threshold) for every object it stores, so by default each object
 * costs an mmap, page faults on first touch and an munmap with a TLB flush. Keeping such blocks on the heap (and not
 * trimming it back) removed most of fast-import's system time in bench/fast-import-alone.ts (decision 0261).
 * Other C libraries ignore the variable. A value the caller already set wins.
 */
export const fastImportMallocTunables = 'glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864'

/** gitEnv() plus fastImportMallocTunables, for the fast-import process only. */
export function fastImportEnv (): NodeJS.ProcessEnv {
  const env = gitEnv()
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? fastImportMallocTunables }
}

export function gitUnavailable (cause: unknown): GitConfigError {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new GitConfigError('GIT_UNAVAILABLE',
    `the git program could not be run (${detail}); install git >= ${gitVersionMin.join('.')} and put it on PATH`)
}

/** Parses `git version 2.39.5` (and vendor suffixes such as `2.39.5.windows.1`). */
export function parseGitVersion (text: string): [number, number] | null {
  const m = /git version (\d+)\.(\d+)/.exec(text)
  return m === null ? null : [Number(m[1]), Number(m[2])]
}

/** Throws GIT_UNAVAILABLE unless `git --version` is at least gitVersionMin. */
export async function checkGitVersion (): Promise<string> {
  const r = await runGit(null, ['--version'])
  const text = r.stdout.toString('utf8').trim()
  const v = parseGitVersion(text)
  if (r.code !== 0 || v === null) throw gitUnavailable(`"git --version" printed ${JSON.stringify(text)}`)
  const [major, minor] = v
  if (major < gitVersionMin[0] || (major === gitVersionMin[0] && minor < gitVersionMin[1])) {
    throw new GitConfigError('GIT_UNAVAILABLE',
      `${text} is too old: GitConfig needs git >= ${gitVersionMin.join('.')} (for core.fsync and merge-tree --write-tree)`,
      { found: `${major}.${minor}` })
  }
  return text
}
