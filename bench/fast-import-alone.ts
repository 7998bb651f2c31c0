// Times `git fast-import` alone on the stream the store sends for N commits of K keys (bench/store-throughput.ts's
// key pattern), one checkpoint + get-mark per commit, waiting for each answer like the group committer does.
//   node --import tsx bench/fast-import-alone.ts [commits] [keysPerCommit] [fsync|nofsync]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { encodeMeta } from '../src/gitstore/entry.js'
import { commitMessage } from '../src/gitstore/commit-message.js'
import { FastImport, type FileChange } from '../src/gitstore/fast-import.js'
import { keyToTreeDir } from '../src/gitstore/keys.js'
import { spreadKeySuffix } from './store-load.js'

const commits = Number(process.argv[2] ?? 79)
const perCommit = Number(process.argv[3] ?? 256)
const root = await mkdtemp(join(tmpdir(), 'gitconfig-fi-'))
const dir = join(root, 'repo')
execFileSync('git', ['init', '-q', '--bare', '--initial-branch=main', dir])
let fi = new FastImport(dir, null, () => {})
const times: number[] = []
const t0 = performance.now()
let n = 0
for (let c = 0; c < commits; c++) {
  const changes = Array.from({ length: perCommit }, () => {
    const i = n++
    return { key: `/tp/${spreadKeySuffix(i)}`, meta: { op: 'set' as const, version: { wallMs: 1_700_000_000_000 + i, counter: 0, node: 'bench' }, expiresAtMs: null, author: 'bench', raftIndex: null }, value: new TextEncoder().encode(`value-${i}`) }
  })
  const files: FileChange[] = c === 0 ? [{ path: '.gitconfig-format', data: new TextEncoder().encode('1\n') }] : []
  for (const ch of changes) {
    files.push({ path: `${keyToTreeDir(ch.key)}/.meta`, data: new TextEncoder().encode(encodeMeta(ch.meta)) })
    files.push({ path: `${keyToTreeDir(ch.key)}/.value`, data: ch.value })
  }
  const sig = { name: 'gitconfig', email: 'bench@gitconfig.invalid', timeSec: 1_700_000_000 }
  const s = performance.now()
  const head = await fi.commit({ branch: 'refs/heads/main', author: sig, committer: sig, message: commitMessage(changes), files })
  times.push(performance.now() - s)
  if (process.env.RESTART_EVERY !== undefined && (c + 1) % Number(process.env.RESTART_EVERY) === 0) {
    await fi.close()
    fi = new FastImport(dir, head, () => {})
  }
}
const secs = (performance.now() - t0) / 1000
await fi.close()
await rm(root, { recursive: true, force: true })
times.sort((a, b) => a - b)
console.log(`fast-import alone: ${commits} commits x ${perCommit} keys: ${Math.round(commits * perCommit / secs)} keys/s, per commit p50 ${times[times.length >> 1].toFixed(1)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(1)} ms`)
