// How fast `git fast-import` alone can store bench/store-load.ts's key pattern under three tree layouts, with git
// never waiting on the caller (the whole stream is written at once; one checkpoint per commit as the store does).
// This is the ceiling of the write path for a layout on this machine: the store adds its own work on top.
//   node --import tsx bench/fast-import-layouts.ts [commits=79] [keysPerCommit=256] [rounds=3]
// Layouts:
//   current     format 1: a directory per key holding `.meta` and `.value` (docs/format.md)
//   keydir-one  a directory per key holding one blob with meta and value together
//   flat-one    one blob per key directly in its parent directory: cannot hold a key and its prefix both valued
//               (DESIGN.md), so not a candidate; measured as the lower bound of tree work
import { spawn, execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeMeta } from '../src/gitstore/entry.js'
import { fastImportConfigArgs, fastImportEnv, gitConfigArgs } from '../src/gitstore/git-process.js'
import { keyToTreeDir } from '../src/gitstore/keys.js'
import { spreadKeySuffix } from './store-load.js'

type Layout = 'current' | 'keydir-one' | 'flat-one'
const layouts: Layout[] = ['current', 'keydir-one', 'flat-one']
const commits = Number(process.argv[2] ?? 79)
const perCommit = Number(process.argv[3] ?? 256)
const rounds = Number(process.argv[4] ?? 3)

function data (bytes: Buffer): Buffer[] {
  return [Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from('\n')]
}

function stream (layout: Layout): Buffer {
  const parts: Buffer[] = []
  let n = 0
  for (let c = 0; c < commits; c++) {
    parts.push(Buffer.from(`commit refs/heads/main\nmark :${c + 1}\ncommitter gitconfig <bench@gitconfig.invalid> 1700000000 +0000\n`), ...data(Buffer.from('bench')))
    for (let k = 0; k < perCommit; k++) {
      const i = n++
      const dir = keyToTreeDir(`/tp/${spreadKeySuffix(i)}`)
      const meta = Buffer.from(encodeMeta({ op: 'set', version: { wallMs: 1_700_000_000_000 + i, counter: 0, node: 'bench' }, expiresAtMs: null, author: 'bench', raftIndex: null }))
      const value = Buffer.from(`value-${i}`)
      if (layout === 'current') {
        parts.push(Buffer.from(`M 100644 inline ${dir}/.meta\n`), ...data(meta), Buffer.from(`M 100644 inline ${dir}/.value\n`), ...data(value))
      } else if (layout === 'keydir-one') {
        parts.push(Buffer.from(`M 100644 inline ${dir}/.entry\n`), ...data(Buffer.concat([meta, value])))
      } else {
        parts.push(Buffer.from(`M 100644 inline ${dir}\n`), ...data(Buffer.concat([meta, value])))
      }
    }
    parts.push(Buffer.from(`\ncheckpoint\nget-mark :${c + 1}\n`))
  }
  parts.push(Buffer.from('done\n'))
  return Buffer.concat(parts)
}

async function timeImport (input: Buffer): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-layout-'))
  const gitDir = join(root, 'repo')
  execFileSync('git', ['init', '-q', '--bare', '--initial-branch=main', gitDir])
  try {
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const child = spawn('git', [...gitConfigArgs, ...fastImportConfigArgs, '--git-dir', gitDir, 'fast-import', '--done', '--quiet'],
        { stdio: ['pipe', 'ignore', 'inherit'], env: fastImportEnv() })
      child.on('error', reject)
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited ${code}`))))
      child.stdin.end(input)
    })
    return performance.now() - t0
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

const inputs = new Map(layouts.map((l) => [l, stream(l)]))
const best = new Map<Layout, number>()
for (let r = 0; r < rounds; r++) {
  for (const layout of layouts) { // interleaved, so machine load affects every layout alike
    const ms = await timeImport(inputs.get(layout) as Buffer)
    best.set(layout, Math.min(best.get(layout) ?? Infinity, ms))
  }
}
console.log(`git fast-import alone, ${commits} commits x ${perCommit} keys, best of ${rounds}:`)
for (const layout of layouts) {
  const ms = best.get(layout) as number
  console.log(`  ${layout.padEnd(10)} ${Math.round(commits * perCommit / (ms / 1000))} keys/s, ${(ms / commits).toFixed(1)} ms per commit`)
}
