// Sequential durable set latency of one key as its directory fills up: "flat" puts N other keys beside it in the same
// directory, "spread" puts them in 100 subdirectories (bench/store-load.ts's shape). Every commit rewrites the tree
// objects on the path to a changed key, so a directory of N entries costs git a tree of N entries per commit that
// touches anything in it. This is why bench/http.ts spreads its keys (decision 0307).
//   node --import tsx bench/store-wide-dir.ts [samples=300]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitConfigStore } from '../src/index.js'
import { spreadKeySuffix } from './store-load.js'

const samples = Number(process.argv[2] ?? 300)
const steps = [0, 2000, 10_000, 20_000]
const shapes = {
  flat: (i: number) => `/bench/k${i}`,
  spread: (i: number) => `/bench/${spreadKeySuffix(i)}`
} as const

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function fill (store: GitConfigStore, keyOf: (i: number) => string, from: number, to: number): Promise<void> {
  let next = from
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < to) {
      const i = next++
      await store.set(keyOf(i), 'postgres://db1:5432/app1')
    }
  }))
  await store.flush()
  await store.maintenanceSettled()
}

// Both shapes live in stores open side by side, and the timed sets alternate between them, so the machine's load
// at any moment weighs on both alike.
const root = await mkdtemp(join(tmpdir(), 'gitconfig-wide-'))
const stores = {
  flat: await GitConfigStore.open(join(root, 'flat')),
  spread: await GitConfigStore.open(join(root, 'spread'))
}
try {
  let written = 0
  for (const target of steps) {
    for (const shape of ['flat', 'spread'] as const) await fill(stores[shape], shapes[shape], written, target)
    written = target
    const times = { flat: [] as number[], spread: [] as number[] }
    for (let i = 0; i < samples; i++) {
      const order: Array<'flat' | 'spread'> = i % 2 === 0 ? ['flat', 'spread'] : ['spread', 'flat']
      for (const shape of order) {
        const t0 = performance.now()
        await stores[shape].set('/bench/seq', `v${i}`)
        times[shape].push(performance.now() - t0)
      }
    }
    const cell = (t: number[]): string => {
      t.sort((a, b) => a - b)
      return `p50 ${percentile(t, 0.5).toFixed(2)} ms, p99 ${percentile(t, 0.99).toFixed(2)} ms`
    }
    console.log(`${String(written).padStart(6)} other keys: flat ${cell(times.flat)} | spread ${cell(times.spread)}`)
  }
} finally {
  await stores.flat.close()
  await stores.spread.close()
  await rm(root, { recursive: true, force: true })
}
