// git fast-import alone on the stream the store sends: the ceiling of the store's write path on this machine, since
// every acknowledged write must be in a checkpointed commit on main before the reply (DESIGN.md). No HTTP, no
// store, no Node work counted: the streams are built before each commit's clock starts, and each commit waits for
// its checkpoint answer as the group committer does. Maintenance runs as in the store (fast-import closed, geometric
// repack every 100 commits) but outside the timing, so git gets its best case.
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commitMessage } from '../src/gitstore/commit-message.js'
import { encodeMeta, type KeyMeta } from '../src/gitstore/entry.js'
import { FastImport, type FileChange } from '../src/gitstore/fast-import.js'
import { gitConfigArgs } from '../src/gitstore/git-process.js'
import { keyToTreeDir } from '../src/gitstore/keys.js'
import { spreadKeySuffix } from './store-load.js'

export interface GitAloneResult {
  /** Keys per second of git time (the sum of the commits' send -> answer times). */
  readonly keysPerSecond: number
  readonly commits: number
  readonly p50Ms: number
  readonly p99Ms: number
}

const textEncoder = new TextEncoder()
const maintenanceCommits = 100

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Commits of `keysPerCommit` spread keys under `prefix`, for `seconds` of git time (or `commitsMax` commits). */
export async function gitAloneCommits (keysPerCommit: number, seconds: number, prefix = '/bench/post', commitsMax = Infinity): Promise<GitAloneResult> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-git-alone-'))
  const dir = join(root, 'repo')
  execFileSync('git', ['init', '-q', '--bare', '--initial-branch=main', dir])
  let fi = new FastImport(dir, null, () => {})
  const times: number[] = []
  let gitMs = 0
  let n = 0
  try {
    while (gitMs < seconds * 1000 && times.length < commitsMax) {
      const changes = Array.from({ length: keysPerCommit }, () => {
        const i = n++
        const meta: KeyMeta = { op: 'set', version: { wallMs: 1_700_000_000_000 + i, counter: 0, node: 'bench' }, expiresAtMs: null, author: 'bench', raftIndex: null }
        return { key: `${prefix}/${spreadKeySuffix(i)}`, meta, value: textEncoder.encode(`value-${i}`) }
      })
      const files: FileChange[] = times.length === 0 ? [{ path: '.gitconfig-format', data: textEncoder.encode('1\n') }] : []
      for (const c of changes) {
        files.push({ path: `${keyToTreeDir(c.key)}/.meta`, data: textEncoder.encode(encodeMeta(c.meta)) })
        files.push({ path: `${keyToTreeDir(c.key)}/.value`, data: c.value })
      }
      const sig = { name: 'gitconfig', email: 'bench@gitconfig.invalid', timeSec: 1_700_000_000 }
      const t0 = performance.now()
      const head = await fi.commit({ branch: 'refs/heads/main', author: sig, committer: sig, message: commitMessage(changes), files })
      const ms = performance.now() - t0
      times.push(ms)
      gitMs += ms
      if (times.length % maintenanceCommits === 0) {
        await fi.close()
        execFileSync('git', [...gitConfigArgs, '--git-dir', dir, 'repack', '-d', '-q', '--geometric=2'])
        fi = new FastImport(dir, head, () => {})
      }
    }
  } finally {
    await fi.close()
    await rm(root, { recursive: true, force: true })
  }
  const sorted = [...times].sort((a, b) => a - b)
  return { keysPerSecond: (times.length * keysPerCommit) / (gitMs / 1000), commits: times.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
}
