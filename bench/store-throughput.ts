import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'
const callers = Number(process.argv[2] ?? 256)
const total = Number(process.argv[3] ?? 20000)
const root = await mkdtemp(join(tmpdir(), 'gitconfig-perf-'))
const store = await GitConfigStore.open(join(root, 'repo'))
const sizes: number[] = []
store.onCommit((e) => sizes.push(e.changes.length))
let next = 0
const t0 = performance.now()
await Promise.all(Array.from({ length: callers }, async () => {
  while (next < total) { const i = next++; await store.set(`/tp/app${i % 100}/k${i % 10_000}`, `value-${i}`) }
}))
const s = (performance.now() - t0) / 1000
await store.close()
await rm(root, { recursive: true, force: true })
sizes.sort((a, b) => a - b)
console.log(`callers ${callers}: ${Math.round(total / s)} sets/s, commits ${sizes.length}, batch p50 ${sizes[sizes.length >> 1]} min ${sizes[0]} max ${sizes[sizes.length - 1]}`)
