// Store benchmark (issue 2): prints a table of durable set latency and throughput, get throughput, history latency
// at 100,000 commits and RSS at 100,000 keys. Not a test: numbers depend on the machine and its load.
//   npm run bench:store            (full run, a few minutes)
//   npm run bench:store -- --quick (smaller sizes, to check the benchmark itself)
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'
import { commitMessage } from '../src/gitstore/commit-message.js'
import { encodeMeta, type KeyMeta } from '../src/gitstore/entry.js'
import { gitConfigArgs } from '../src/gitstore/git-process.js'
import { keyToTreeDir } from '../src/gitstore/keys.js'
import { concurrentSetsPerSecond } from './store-load.js'

const quick = process.argv.includes('--quick')
const sizes = {
  latencySets: quick ? 200 : 2000,
  throughputSetsPerRun: quick ? 2000 : 20_000,
  keysForRss: quick ? 10_000 : 100_000,
  getsRun: quick ? 200_000 : 1_000_000,
  historyCommits: quick ? 10_000 : 100_000,
  historyKeys: 1000
}

const rows: Array<[string, string, string]> = []
function row (metric: string, value: string, goal: string): void {
  rows.push([metric, value, goal])
  console.error(`  ${metric}: ${value}`)
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

async function withStore<T> (fn: (store: GitConfigStore, dir: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-bench-'))
  const store = await GitConfigStore.open(join(root, 'repo'))
  try {
    return await fn(store, join(root, 'repo'))
  } finally {
    await store.close()
    await rm(root, { recursive: true, force: true })
  }
}

async function setLatency (): Promise<void> {
  await withStore(async (store) => {
    const times: number[] = []
    for (let i = 0; i < sizes.latencySets; i++) {
      const t0 = performance.now()
      await store.set(`/lat/k${i % 100}`, `value-${i}`)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    row('durable set latency, 1 caller, p50 / p99', `${percentile(times, 0.5).toFixed(2)} / ${percentile(times, 0.99).toFixed(2)} ms`, 'p50 <= 3 ms')
  })
}

async function setThroughput (callers: number): Promise<void> {
  await withStore(async (store) => {
    const total = callers === 1 ? Math.min(sizes.throughputSetsPerRun, 3000) : sizes.throughputSetsPerRun
    const setsPerSecond = await concurrentSetsPerSecond(store, callers, total)
    row(`durable sets/s, ${callers} concurrent callers`, `${Math.round(setsPerSecond)}`, callers === 256 ? '>= 15,000' : '')
  })
}

/** Builds a repository of `commits` single-key commits in the store's format with one fast-import run. */
async function buildHistoryRepo (dir: string, commits: number, keys: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const init = spawn('git', ['init', '-q', '--bare', '--initial-branch=main', dir], { stdio: 'inherit' })
    init.on('close', (code) => (code === 0 ? resolve() : reject(new Error('git init failed'))))
  })
  const fi = spawn('git', [...gitConfigArgs, '--git-dir', dir, 'fast-import', '--quiet', '--done'], { stdio: ['pipe', 'inherit', 'inherit'] })
  const done = new Promise<void>((resolve, reject) => fi.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`fast-import ${code}`)))))
  const baseMs = Date.now() - commits * 1000
  let chunk = ''
  const flush = async (): Promise<void> => {
    if (!fi.stdin.write(chunk)) await new Promise((resolve) => fi.stdin.once('drain', resolve))
    chunk = ''
  }
  for (let i = 0; i < commits; i++) {
    const n = i % keys
    const key = `/hist/app${n % 10}/key${n}`
    const meta: KeyMeta = { op: 'set', version: { wallMs: baseMs + i, counter: 0, node: 'bench' }, expiresAtMs: null, author: 'bench', raftIndex: null }
    const message = commitMessage([{ key, meta }])
    const metaText = encodeMeta(meta)
    const value = `value ${i}`
    const sec = Math.floor((baseMs + i) / 1000)
    chunk += `commit refs/heads/main\ncommitter gitconfig <bench@gitconfig.invalid> ${sec} +0000\n` +
      `data ${Buffer.byteLength(message)}\n${message}\n` +
      (i === 0 ? 'M 100644 inline .gitconfig-format\ndata 2\n1\n' : '') +
      `M 100644 inline ${keyToTreeDir(key)}/.meta\ndata ${Buffer.byteLength(metaText)}\n${metaText}\n` +
      `M 100644 inline ${keyToTreeDir(key)}/.value\ndata ${Buffer.byteLength(value)}\n${value}\n\n`
    if (chunk.length > 1 << 20) await flush()
  }
  chunk += 'done\n'
  await flush()
  fi.stdin.end()
  await done
}

async function historyAt100k (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'gitconfig-bench-'))
  const dir = join(root, 'repo')
  try {
    let t0 = performance.now()
    await buildHistoryRepo(dir, sizes.historyCommits, sizes.historyKeys)
    const buildS = (performance.now() - t0) / 1000
    const { mkdir } = await import('node:fs/promises')
    await mkdir(join(dir, 'gitconfig'))
    t0 = performance.now()
    const store = await GitConfigStore.open(dir)
    const rebuildS = (performance.now() - t0) / 1000
    row(`index rebuild from git, ${sizes.historyCommits} commits`, `${rebuildS.toFixed(1)} s (repo built in ${buildS.toFixed(1)} s)`, '')
    try {
      const times: number[] = []
      for (let i = 0; i < 200; i++) {
        const n = (i * 37) % sizes.historyKeys
        const key = `/hist/app${n % 10}/key${n}`
        const s = performance.now()
        const h = await store.history(key)
        times.push(performance.now() - s)
        if (h.length !== sizes.historyCommits / sizes.historyKeys) throw new Error(`history of ${key} has ${h.length} entries`)
      }
      times.sort((a, b) => a - b)
      row(`history of one key (${sizes.historyCommits / sizes.historyKeys} entries) among ${sizes.historyCommits} commits, p50 / p99`,
        `${percentile(times, 0.5).toFixed(2)} / ${percentile(times, 0.99).toFixed(2)} ms`, '<= 50 ms')
    } finally {
      await store.close()
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/** The gets/RSS phase: bench/store-rss.mjs on the compiled build, in a fresh process (see that file). */
async function getsAndRssInChild (): Promise<void> {
  if (!existsSync(new URL('../dist/src/index.js', import.meta.url))) throw new Error('run `npm run build` first: the RSS phase measures the compiled build')
  const args = ['--expose-gc', new URL('./store-rss.mjs', import.meta.url).pathname, String(sizes.keysForRss), String(sizes.getsRun)]
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (b: Buffer) => { text += b.toString() })
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`rss child exited ${code}`))))
  })
  for (const r of JSON.parse(out) as Array<[string, string, string]>) row(...r)
}

console.error(`store benchmark${quick ? ' (quick)' : ''}, node ${process.version}, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`)
await setLatency()
for (const callers of [1, 16, 256]) await setThroughput(callers)
await getsAndRssInChild()
await historyAt100k()

const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), ['metric', 'measured', 'goal'][c].length))
const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |'
console.log(line(['metric', 'measured', 'goal']))
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
for (const r of rows) console.log(line(r))
