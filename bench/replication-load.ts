// What the replication benchmarks share: their write load (POSTs; `count` keys under a prefix with a bounded number
// of requests in flight, spread over 100 directories by spreadKeySuffix unless `flat` puts them in one), and the
// checks they wait on (a node's main tree, its connected peers, a condition polled until it holds).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { spreadKeySuffix } from './store-load.js'

export async function post (url: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${url}/keys${key}`, { method: 'POST', body: value })
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`POST ${key}: ${res.status}`)
}

/** Writes `count` keys under `prefix` with at most `concurrency` requests in flight. */
export async function writeMany (url: string, prefix: string, count: number, opts: { concurrency: number, flat: boolean }): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (next < count) {
      const i = next++
      await post(url, `${prefix}/${opts.flat ? `k${i}` : spreadKeySuffix(i)}`, `v${i}`)
    }
  }))
}

/** The commit main points at, read from the ref files as git writes them (lock file, then rename); null if neither has it. */
export function mainCommit (repo: string): string | null {
  try {
    return readFileSync(join(repo, 'refs', 'heads', 'main'), 'utf8').trim()
  } catch {
    try {
      return /^([0-9a-f]{40}) refs\/heads\/main$/m.exec(readFileSync(join(repo, 'packed-refs'), 'utf8'))?.[1] ?? null
    } catch {
      return null
    }
  }
}

const treeOfCommit = new Map<string, string>()

/**
 * The tree of a repository's main branch (equal trees on every node means converged). git is asked only for a
 * commit not seen before: the benchmarks poll three repositories every 20 ms, and a `git rev-parse` each time is 150
 * processes a second, some 0.4 of this machine's 2 cores taken from the nodes being measured.
 */
export function mainTree (repo: string): string {
  const commit = mainCommit(repo)
  const known = commit === null ? undefined : treeOfCommit.get(commit)
  if (known !== undefined) return known
  const tree = execFileSync('git', ['-C', repo, 'rev-parse', `${commit ?? 'main'}^{tree}`], { encoding: 'utf8' }).trim()
  if (commit !== null) treeOfCommit.set(commit, tree)
  return tree
}

/** Polls `check` every `stepMs` until it holds; throws after `timeoutMs` (a hang guard, not a measurement). */
export async function until (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 300_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await delay(stepMs)
  }
}

/** How many peers the node at `url` reports as connected. */
export async function connectedPeers (url: string): Promise<number> {
  const status = await (await fetch(`${url}/status`)).json() as { p2p: { peers: Array<{ connected: boolean }> } }
  return status.p2p.peers.filter(p => p.connected).length
}

/**
 * A folder holding a `git` that appends "<parent pid> <git command>" to `logFile` and runs the real git: put it first
 * on a node's PATH to count the git processes the node starts (the nodes spawn `git` from PATH). It adds a shell
 * start to every git process, so the counts come from runs that do not time anything else.
 */
export async function gitCounterPath (dir: string, logFile: string): Promise<string> {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim()
  await mkdir(dir, { recursive: true })
  const script = `#!/bin/sh\nfor a in "$@"; do case "$a" in -c|--git-dir) skip=1;; *) if [ -z "$skip" ]; then echo "$PPID $a" >> ${logFile}; break; fi; skip=;; esac; done\nexec ${realGit} "$@"\n`
  await writeFile(join(dir, 'git'), script)
  await chmod(join(dir, 'git'), 0o755)
  return dir
}

/** The lines gitCounterPath's git wrote: which process started which git command. */
export function parseGitLog (text: string): Array<{ parentPid: number, command: string }> {
  return text.split('\n').filter(l => l !== '').map(l => {
    const [pid, command] = l.split(' ')
    return { parentPid: Number(pid), command }
  })
}
