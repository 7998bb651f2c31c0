// Sequential durable set latency of one store, from any checkout of the project: used to measure what a change to
// the write path costs per commit by alternating two source trees on the same disk in the same minutes.
//
//   node --import tsx scripts/set-latency.ts [SRC_ROOT] [SETS]     (SRC_ROOT defaults to this checkout)
//
// Prints one JSON line: {src, sets, p50Ms, p90Ms, p99Ms, meanMs}. The repository is made in a temporary folder
// and removed afterwards; maintenance is off so every write is one commit and nothing else runs.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const srcRoot = resolve(process.argv[2] ?? join(import.meta.dirname, '..'))
const sets = Number(process.argv[3] ?? 300)
if (!Number.isSafeInteger(sets) || sets < 10) throw new Error('SETS must be a whole number >= 10')

interface Store {
  set: (key: string, value: string) => Promise<unknown>
  close: () => Promise<void>
}
const { GitConfigStore } = await import(pathToFileURL(join(srcRoot, 'src', 'index.ts')).href) as
  { GitConfigStore: { open: (dir: string, opts: object) => Promise<Store> } }

const parent = await mkdtemp(join(tmpdir(), 'set-latency-'))
try {
  const store = await GitConfigStore.open(join(parent, 'repo'), { maintenance: false })
  for (let i = 0; i < 20; i++) await store.set(`/warm/k${i}`, 'x') // process start, first packs
  const times: number[] = []
  for (let i = 0; i < sets; i++) {
    const start = process.hrtime.bigint()
    await store.set(`/lat/k${i % 50}`, String(i))
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  await store.close()
  times.sort((a, b) => a - b)
  const at = (q: number): number => Number(times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2))
  const meanMs = Number((times.reduce((a, b) => a + b, 0) / times.length).toFixed(2))
  console.log(JSON.stringify({ src: srcRoot, sets, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), meanMs }))
} finally {
  await rm(parent, { recursive: true, force: true })
}
